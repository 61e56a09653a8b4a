package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func notFound(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func conflictOr(op string, err error) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%s: %w", op, store.ErrConflict)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func mustAffect(op string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// --- sites ---

func (t *tx) CreateSite(ctx context.Context, s store.Site) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sites(code, name, area_code, created_at) VALUES (?,?,?,?)`,
		s.Code, s.Name, s.AreaCode, ms(s.CreatedAt))
	if err != nil {
		return conflictOr("sqlite: create site", err)
	}
	return nil
}

func (t *tx) GetSite(ctx context.Context, code string) (store.Site, error) {
	var s store.Site
	var at int64
	err := t.tx.QueryRowContext(ctx, `SELECT code, name, area_code, created_at FROM sites WHERE code = ?`, code).
		Scan(&s.Code, &s.Name, &s.AreaCode, &at)
	if err != nil {
		return s, notFound("sqlite: get site", err)
	}
	s.CreatedAt = fromMS(at)
	return s, nil
}

func (t *tx) ListSites(ctx context.Context) ([]store.Site, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT code, name, area_code, created_at FROM sites ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sites: %w", err)
	}
	defer rows.Close()
	var out []store.Site
	for rows.Next() {
		var s store.Site
		var at int64
		if err := rows.Scan(&s.Code, &s.Name, &s.AreaCode, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list sites: %w", err)
		}
		s.CreatedAt = fromMS(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// --- operators ---

func (t *tx) CreateOperator(ctx context.Context, o store.Operator) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO operators(id, role, site, name, key_mac, created_at) VALUES (?,?,?,?,?,?)`,
		o.ID, o.Role, o.Site, o.Name, o.KeyMAC, ms(o.CreatedAt))
	if err != nil {
		return conflictOr("sqlite: create operator", err)
	}
	return nil
}

const operatorCols = `id, role, site, name, key_mac, created_at, revoked_at, COALESCE(user_name, '')`

func scanOperator(sc interface{ Scan(...any) error }) (store.Operator, error) {
	var o store.Operator
	var at int64
	var rev sql.NullInt64
	if err := sc.Scan(&o.ID, &o.Role, &o.Site, &o.Name, &o.KeyMAC, &at, &rev, &o.User); err != nil {
		return o, err
	}
	o.CreatedAt = fromMS(at)
	if rev.Valid {
		r := fromMS(rev.Int64)
		o.RevokedAt = &r
	}
	return o, nil
}

func (t *tx) OperatorByKeyMAC(ctx context.Context, mac []byte) (store.Operator, error) {
	o, err := scanOperator(t.tx.QueryRowContext(ctx, `SELECT `+operatorCols+` FROM operators WHERE key_mac = ? AND revoked_at IS NULL`, mac))
	if err != nil {
		return o, notFound("sqlite: operator by key", err)
	}
	return o, nil
}

func (t *tx) ListOperators(ctx context.Context) ([]store.Operator, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+operatorCols+` FROM operators ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list operators: %w", err)
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list operators: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (t *tx) RevokeOperator(ctx context.Context, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE operators SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ms(at), id)
	return mustAffect("sqlite: revoke operator", res, err)
}

// --- households ---

func (t *tx) CreateHousehold(ctx context.Context, h store.Household) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO households(id, area_code, head_id, address_sealed, created_at, updated_at) VALUES (?,?,?,?,?,?)`,
		h.ID, h.AreaCode, h.HeadID, h.AddressSealed, ms(h.CreatedAt), ms(h.UpdatedAt))
	if err != nil {
		return conflictOr("sqlite: create household", err)
	}
	return nil
}

func (t *tx) GetHousehold(ctx context.Context, id string) (store.Household, error) {
	var h store.Household
	var c, u int64
	err := t.tx.QueryRowContext(ctx, `SELECT id, area_code, head_id, address_sealed, created_at, updated_at FROM households WHERE id = ?`, id).
		Scan(&h.ID, &h.AreaCode, &h.HeadID, &h.AddressSealed, &c, &u)
	if err != nil {
		return h, notFound("sqlite: get household", err)
	}
	h.CreatedAt, h.UpdatedAt = fromMS(c), fromMS(u)
	return h, nil
}

func (t *tx) UpdateHousehold(ctx context.Context, h store.Household) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE households SET area_code = ?, head_id = ?, address_sealed = ?, updated_at = ? WHERE id = ?`,
		h.AreaCode, h.HeadID, h.AddressSealed, ms(h.UpdatedAt), h.ID)
	return mustAffect("sqlite: update household", res, err)
}

func (t *tx) HouseholdMembers(ctx context.Context, id string) ([]store.Person, error) {
	return t.queryPersons(ctx, "sqlite: household members",
		`SELECT `+personCols+` FROM persons WHERE household_id = ? AND status = ? ORDER BY created_at, id`, id, store.StatusActive)
}

// --- persons ---

const personCols = `id, status, area_code, household_id, relationship, guardian_id, site, version, identity_sealed, lookup_index, portal_code_mac, alias_of, created_at, updated_at, number`

func scanPerson(sc interface{ Scan(...any) error }) (store.Person, error) {
	var p store.Person
	var c, u int64
	var num sql.NullString
	err := sc.Scan(&p.ID, &p.Status, &p.AreaCode, &p.HouseholdID, &p.Relationship, &p.GuardianID, &p.Site, &p.Version,
		&p.IdentitySealed, &p.LookupIndex, &p.PortalCodeMAC, &p.AliasOf, &c, &u, &num)
	p.CreatedAt, p.UpdatedAt, p.Number = fromMS(c), fromMS(u), num.String
	return p, err
}

func (t *tx) queryPersons(ctx context.Context, op, q string, args ...any) ([]store.Person, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []store.Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) CreatePerson(ctx context.Context, p store.Person) error {
	_, err := t.exec(ctx, insertPerson,
		p.ID, p.Status, p.AreaCode, p.HouseholdID, p.Relationship, p.GuardianID, p.Site, p.Version,
		p.IdentitySealed, p.LookupIndex, p.PortalCodeMAC, p.AliasOf, ms(p.CreatedAt), ms(p.UpdatedAt), nullString(p.Number))
	if err != nil {
		return conflictOr("sqlite: create person", err)
	}
	return nil
}

func (t *tx) PersonByNumber(ctx context.Context, number string) (store.Person, error) {
	p, err := scanPerson(t.tx.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE number = ?`, number))
	if err != nil {
		return p, notFound("sqlite: person by number", err)
	}
	return p, nil
}

// nullString stores an empty string as NULL (for unique columns).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *tx) GetPerson(ctx context.Context, id string) (store.Person, error) {
	p, err := scanPerson(t.tx.QueryRowContext(ctx, `SELECT `+personCols+` FROM persons WHERE id = ?`, id))
	if err != nil {
		return p, notFound("sqlite: get person", err)
	}
	return p, nil
}

func (t *tx) GetPersons(ctx context.Context, ids []string) ([]store.Person, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return t.queryPersons(ctx, "sqlite: get persons", `SELECT `+personCols+` FROM persons WHERE id IN (SELECT value FROM json_each(?))`, jsonList(ids))
}

// jsonList is ids as a JSON array, one bound parameter for json_each
// whatever the number of ids (SQLite bounds the parameters of a statement).
func jsonList(ids []string) string {
	b, _ := json.Marshal(ids) // a []string always marshals
	return string(b)
}

func (t *tx) UpdatePerson(ctx context.Context, p store.Person) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE persons SET status = ?, area_code = ?, household_id = ?, relationship = ?, guardian_id = ?,
		version = ?, identity_sealed = ?, lookup_index = ?, portal_code_mac = ?, alias_of = ?, updated_at = ? WHERE id = ? AND version = ?`,
		p.Status, p.AreaCode, p.HouseholdID, p.Relationship, p.GuardianID, p.Version, p.IdentitySealed, p.LookupIndex, p.PortalCodeMAC, p.AliasOf,
		ms(p.UpdatedAt), p.ID, p.Version-1)
	if err := mustAffect("sqlite: update person", res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, gerr := t.GetPerson(ctx, p.ID); gerr == nil {
				return fmt.Errorf("sqlite: update person: version moved: %w", store.ErrConflict)
			}
		}
		return err
	}
	return nil
}

func (t *tx) AddPersonVersion(ctx context.Context, v store.PersonVersion) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO person_versions(person_id, version, identity_sealed, household_id, relationship, area_code, changed_at, changed_by) VALUES (?,?,?,?,?,?,?,?)`,
		v.PersonID, v.Version, v.IdentitySealed, v.HouseholdID, v.Relationship, v.AreaCode, ms(v.ChangedAt), v.ChangedBy)
	if err != nil {
		return conflictOr("sqlite: add person version", err)
	}
	return nil
}

func (t *tx) PersonVersions(ctx context.Context, id string) ([]store.PersonVersion, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT person_id, version, identity_sealed, household_id, relationship, area_code, changed_at, changed_by FROM person_versions WHERE person_id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: person versions: %w", err)
	}
	defer rows.Close()
	var out []store.PersonVersion
	for rows.Next() {
		var v store.PersonVersion
		var at int64
		if err := rows.Scan(&v.PersonID, &v.Version, &v.IdentitySealed, &v.HouseholdID, &v.Relationship, &v.AreaCode, &at, &v.ChangedBy); err != nil {
			return nil, fmt.Errorf("sqlite: person versions: %w", err)
		}
		v.ChangedAt = fromMS(at)
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t *tx) FindPersons(ctx context.Context, index []byte) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id FROM persons WHERE lookup_index = ? AND status = ? ORDER BY created_at, id`,
		index, store.StatusActive)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find persons: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: find persons: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *tx) ErasePerson(ctx context.Context, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE persons SET status = ?, area_code = '', household_id = '', relationship = '', guardian_id = '',
		identity_sealed = NULL, lookup_index = NULL, portal_code_mac = NULL, updated_at = ? WHERE id = ?`, store.StatusErased, ms(at), id)
	if err := mustAffect("sqlite: erase person", res, err); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM person_versions WHERE person_id = ?`,
		`DELETE FROM exams WHERE person_id = ?`,
		`DELETE FROM specimens WHERE person_id = ?`,
		`DELETE FROM specimen_events WHERE person_id = ?`,
		`DELETE FROM biometrics WHERE person_id = ?`,
		`DELETE FROM person_stats WHERE person_id = ?`,
		`DELETE FROM person_identifiers WHERE person_id = ?`,
		`UPDATE households SET head_id = '' WHERE head_id = ?`,
		`DELETE FROM sessions WHERE person_id = ?`, // the person's portal and web sessions end with them
	} {
		if _, err := t.tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("sqlite: erase person: %w", err)
		}
	}
	return nil
}

// --- consents ---

func (t *tx) AppendConsent(ctx context.Context, c store.ConsentRecord) (store.ConsentRecord, error) {
	res, err := t.exec(ctx, insertConsent,
		c.PersonID, c.Category, c.Purpose, c.Decision, c.Method, c.NoticeVersion, c.Language, c.OperatorID, c.Site, c.GuardianID, ms(c.At))
	if err != nil {
		return c, fmt.Errorf("sqlite: append consent: %w", err)
	}
	c.Seq, err = res.LastInsertId()
	if err != nil {
		return c, fmt.Errorf("sqlite: append consent: %w", err)
	}
	return c, nil
}

func (t *tx) ConsentHistory(ctx context.Context, personID string) ([]store.ConsentRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT seq, person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at FROM consents WHERE person_id = ? ORDER BY seq`, personID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent history: %w", err)
	}
	defer rows.Close()
	var out []store.ConsentRecord
	for rows.Next() {
		var c store.ConsentRecord
		var at int64
		if err := rows.Scan(&c.Seq, &c.PersonID, &c.Category, &c.Purpose, &c.Decision, &c.Method, &c.NoticeVersion, &c.Language, &c.OperatorID, &c.Site, &c.GuardianID, &at); err != nil {
			return nil, fmt.Errorf("sqlite: consent history: %w", err)
		}
		c.At = fromMS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) ConsentHistories(ctx context.Context, personIDs []string) (map[string][]store.ConsentRecord, error) {
	out := map[string][]store.ConsentRecord{}
	if len(personIDs) == 0 {
		return out, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT seq, person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at
		FROM consents WHERE person_id IN (SELECT value FROM json_each(?)) ORDER BY person_id, seq`, jsonList(personIDs))
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent histories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.ConsentRecord
		var at int64
		if err := rows.Scan(&c.Seq, &c.PersonID, &c.Category, &c.Purpose, &c.Decision, &c.Method, &c.NoticeVersion, &c.Language, &c.OperatorID, &c.Site, &c.GuardianID, &at); err != nil {
			return nil, fmt.Errorf("sqlite: consent histories: %w", err)
		}
		c.At = fromMS(at)
		out[c.PersonID] = append(out[c.PersonID], c)
	}
	return out, rows.Err()
}

func (t *tx) ConsentCounts(ctx context.Context) ([]store.ConsentCount, error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT c.site, c.category, c.decision, COUNT(*) FROM consents c
		JOIN (SELECT MAX(seq) AS seq FROM consents GROUP BY person_id, category, purpose) l ON l.seq = c.seq
		GROUP BY c.site, c.category, c.decision ORDER BY c.site, c.category, c.decision`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: consent counts: %w", err)
	}
	defer rows.Close()
	var out []store.ConsentCount
	for rows.Next() {
		var c store.ConsentCount
		if err := rows.Scan(&c.Site, &c.Category, &c.Decision, &c.N); err != nil {
			return nil, fmt.Errorf("sqlite: consent counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// --- exams ---

func (t *tx) AddExam(ctx context.Context, e store.Exam) error {
	_, err := t.exec(ctx, insertExam,
		e.ID, e.PersonID, e.Site, e.OperatorID, e.FindingsSealed, e.BloodTypeSealed, ms(e.At))
	if err != nil {
		return conflictOr("sqlite: add exam", err)
	}
	return nil
}

func (t *tx) ExamPerson(ctx context.Context, examID string) (string, error) {
	var pid string
	if err := t.tx.QueryRowContext(ctx, `SELECT person_id FROM exams WHERE id = ?`, examID).Scan(&pid); err != nil {
		return "", notFound("sqlite: exam person", err)
	}
	return pid, nil
}

func (t *tx) ListExams(ctx context.Context, personID string) ([]store.Exam, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, person_id, site, operator_id, findings_sealed, blood_type_sealed, at FROM exams WHERE person_id = ? ORDER BY at, id`, personID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list exams: %w", err)
	}
	defer rows.Close()
	var out []store.Exam
	for rows.Next() {
		var e store.Exam
		var at int64
		if err := rows.Scan(&e.ID, &e.PersonID, &e.Site, &e.OperatorID, &e.FindingsSealed, &e.BloodTypeSealed, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list exams: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) DeleteExamCategory(ctx context.Context, personID, category string) error {
	var q string
	switch category {
	case "health":
		q = `DELETE FROM exams WHERE person_id = ?`
	case "blood_type":
		q = `UPDATE exams SET blood_type_sealed = NULL WHERE person_id = ?`
	default:
		return fmt.Errorf("sqlite: delete exam category %q: not an exam category", category)
	}
	if _, err := t.tx.ExecContext(ctx, q, personID); err != nil {
		return fmt.Errorf("sqlite: delete exam category: %w", err)
	}
	return nil
}

// --- audit ---

func (t *tx) AppendAudit(ctx context.Context, personID string, data, leafHash []byte) (uint64, error) {
	var next int64
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events`).Scan(&next); err != nil {
		return 0, fmt.Errorf("sqlite: append audit: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_events(idx, person_id, data, leaf_hash) VALUES (?,?,?,?)`, next, personID, data, leafHash); err != nil {
		return 0, fmt.Errorf("sqlite: append audit: %w", err)
	}
	return uint64(next), nil
}

func (t *tx) AuditSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit size: %w", err)
	}
	return uint64(n), nil
}

func (t *tx) AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT leaf_hash FROM audit_events WHERE idx >= ? ORDER BY idx LIMIT ?`, int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit leaves: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("sqlite: audit leaves: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (t *tx) auditRows(ctx context.Context, q string, args ...any) ([]store.AuditRow, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit rows: %w", err)
	}
	defer rows.Close()
	var out []store.AuditRow
	for rows.Next() {
		var r store.AuditRow
		var idx int64
		if err := rows.Scan(&idx, &r.PersonID, &r.Data, &r.LeafHash); err != nil {
			return nil, fmt.Errorf("sqlite: audit rows: %w", err)
		}
		r.Index = uint64(idx)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) AuditRows(ctx context.Context, from uint64, limit int) ([]store.AuditRow, error) {
	return t.auditRows(ctx, `SELECT idx, person_id, data, leaf_hash FROM audit_events WHERE idx >= ? ORDER BY idx LIMIT ?`, int64(from), limit)
}

func (t *tx) AuditRowsForPerson(ctx context.Context, personID string, limit int) ([]store.AuditRow, error) {
	return t.auditRows(ctx, `SELECT idx, person_id, data, leaf_hash FROM audit_events WHERE person_id = ? ORDER BY idx LIMIT ?`, personID, limit)
}

func (t *tx) SaveCheckpoint(ctx context.Context, size uint64, note []byte, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_checkpoints(size, note, created_at) VALUES (?,?,?) ON CONFLICT(size) DO NOTHING`, int64(size), note, ms(at))
	if err != nil {
		return fmt.Errorf("sqlite: save checkpoint: %w", err)
	}
	return nil
}

func (t *tx) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	var size int64
	var note []byte
	err := t.tx.QueryRowContext(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	if err != nil {
		return 0, nil, notFound("sqlite: latest checkpoint", err)
	}
	return uint64(size), note, nil
}

func (t *tx) Checkpoints(ctx context.Context) ([][]byte, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: checkpoints: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var n []byte
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: checkpoints: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// --- specimens ---

func (t *tx) AddSpecimen(ctx context.Context, s store.Specimen) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO specimens(id, person_id, sealed, created_at, updated_at) VALUES (?,?,?,?,?)`,
		s.ID, s.PersonID, s.Sealed, ms(s.CreatedAt), ms(s.UpdatedAt))
	if err != nil {
		return conflictOr("sqlite: add specimen", err)
	}
	return nil
}

func (t *tx) GetSpecimen(ctx context.Context, id string) (store.Specimen, error) {
	var s store.Specimen
	var c, u int64
	err := t.tx.QueryRowContext(ctx, `SELECT id, person_id, sealed, created_at, updated_at FROM specimens WHERE id = ?`, id).
		Scan(&s.ID, &s.PersonID, &s.Sealed, &c, &u)
	if err != nil {
		return s, notFound("sqlite: get specimen", err)
	}
	s.CreatedAt, s.UpdatedAt = fromMS(c), fromMS(u)
	return s, nil
}

func (t *tx) UpdateSpecimen(ctx context.Context, s store.Specimen) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE specimens SET sealed = ?, updated_at = ? WHERE id = ?`, s.Sealed, ms(s.UpdatedAt), s.ID)
	return mustAffect("sqlite: update specimen", res, err)
}

func (t *tx) ListSpecimens(ctx context.Context, personID string) ([]store.Specimen, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, person_id, sealed, created_at, updated_at FROM specimens WHERE person_id = ? ORDER BY created_at, id`, personID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list specimens: %w", err)
	}
	defer rows.Close()
	var out []store.Specimen
	for rows.Next() {
		var s store.Specimen
		var c, u int64
		if err := rows.Scan(&s.ID, &s.PersonID, &s.Sealed, &c, &u); err != nil {
			return nil, fmt.Errorf("sqlite: list specimens: %w", err)
		}
		s.CreatedAt, s.UpdatedAt = fromMS(c), fromMS(u)
		out = append(out, s)
	}
	return out, rows.Err()
}

func (t *tx) AddSpecimenEvent(ctx context.Context, e store.SpecimenEvent) (store.SpecimenEvent, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO specimen_events(specimen_id, person_id, sealed, at) VALUES (?,?,?,?)`, e.SpecimenID, e.PersonID, e.Sealed, ms(e.At))
	if err != nil {
		return e, fmt.Errorf("sqlite: add specimen event: %w", err)
	}
	e.Seq, err = res.LastInsertId()
	return e, err
}

func (t *tx) SpecimenEvents(ctx context.Context, specimenID string) ([]store.SpecimenEvent, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT seq, specimen_id, person_id, sealed, at FROM specimen_events WHERE specimen_id = ? ORDER BY seq`, specimenID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: specimen events: %w", err)
	}
	defer rows.Close()
	var out []store.SpecimenEvent
	for rows.Next() {
		var e store.SpecimenEvent
		var at int64
		if err := rows.Scan(&e.Seq, &e.SpecimenID, &e.PersonID, &e.Sealed, &at); err != nil {
			return nil, fmt.Errorf("sqlite: specimen events: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PersonIDs lists every person id, tombstones included (for maintenance).
func (t *tx) PersonIDs(ctx context.Context) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id FROM persons ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: person ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: person ids: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// --- biometrics ---

const biometricCols = `reference_id, person_id, category, position, format, purpose, quality, template_sealed, created_at`

func (t *tx) queryBiometrics(ctx context.Context, op, q string, args ...any) ([]store.Biometric, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []store.Biometric
	for rows.Next() {
		var b store.Biometric
		var at int64
		if err := rows.Scan(&b.ReferenceID, &b.PersonID, &b.Category, &b.Position, &b.Format, &b.Purpose, &b.Quality, &b.TemplateSealed, &at); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		b.CreatedAt = fromMS(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *tx) AddBiometric(ctx context.Context, b store.Biometric) error {
	_, err := t.exec(ctx, insertBiometric,
		b.ReferenceID, b.PersonID, b.Category, b.Position, b.Format, b.Purpose, b.Quality, b.TemplateSealed, ms(b.CreatedAt), b.DedupSeq)
	if err != nil {
		return conflictOr("sqlite: add biometric", err)
	}
	return nil
}

func (t *tx) ListBiometrics(ctx context.Context, personID string) ([]store.Biometric, error) {
	return t.queryBiometrics(ctx, "sqlite: list biometrics", `SELECT `+biometricCols+` FROM biometrics WHERE person_id = ? ORDER BY created_at, reference_id`, personID)
}

func (t *tx) DeleteBiometrics(ctx context.Context, personID, category string) error {
	var err error
	if category == "" {
		_, err = t.tx.ExecContext(ctx, `DELETE FROM biometrics WHERE person_id = ?`, personID)
	} else {
		_, err = t.tx.ExecContext(ctx, `DELETE FROM biometrics WHERE person_id = ? AND category = ?`, personID, category)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete biometrics: %w", err)
	}
	return nil
}

func (t *tx) BiometricsPage(ctx context.Context, category, after string, limit int) ([]store.Biometric, error) {
	return t.queryBiometrics(ctx, "sqlite: biometrics page", `SELECT b.reference_id, b.person_id, b.category, b.position, b.format, b.purpose, b.quality, b.template_sealed, b.created_at
		FROM biometrics b JOIN persons p ON p.id = b.person_id
		WHERE b.category = ? AND b.reference_id > ? AND p.status = 'active' AND p.alias_of = ''
		ORDER BY b.reference_id LIMIT ?`, category, after, limit)
}

// --- cases ---

const caseCols = `id, status, person_a, person_b, score, modalities, decision, note, decided_by, created_at, decided_at`

func scanCase(sc interface{ Scan(...any) error }) (store.Case, error) {
	var c store.Case
	var at int64
	var dec sql.NullInt64
	err := sc.Scan(&c.ID, &c.Status, &c.PersonA, &c.PersonB, &c.Score, &c.Modalities, &c.Decision, &c.Note, &c.DecidedBy, &at, &dec)
	c.CreatedAt = fromMS(at)
	if dec.Valid {
		d := fromMS(dec.Int64)
		c.DecidedAt = &d
	}
	return c, err
}

func (t *tx) OpenCase(ctx context.Context, c store.Case) (store.Case, error) {
	existing, err := scanCase(t.tx.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases WHERE person_a = ? AND person_b = ? AND status = ?`, c.PersonA, c.PersonB, store.CaseOpen))
	if err == nil {
		if c.Score > existing.Score {
			existing.Score = c.Score
		}
		mods := map[string]bool{}
		var list []string
		for _, m := range strings.Split(existing.Modalities+","+c.Modalities, ",") {
			if m != "" && !mods[m] {
				mods[m] = true
				list = append(list, m)
			}
		}
		existing.Modalities = strings.Join(list, ",")
		if _, err := t.tx.ExecContext(ctx, `UPDATE cases SET score = ?, modalities = ? WHERE id = ?`, existing.Score, existing.Modalities, existing.ID); err != nil {
			return c, fmt.Errorf("sqlite: open case: %w", err)
		}
		return existing, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlite: open case: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO cases(id, status, person_a, person_b, score, modalities, created_at) VALUES (?,?,?,?,?,?,?)`,
		c.ID, store.CaseOpen, c.PersonA, c.PersonB, c.Score, c.Modalities, ms(c.CreatedAt))
	if err != nil {
		return c, conflictOr("sqlite: open case", err)
	}
	c.Status = store.CaseOpen
	return c, nil
}

func (t *tx) GetCase(ctx context.Context, id string) (store.Case, error) {
	c, err := scanCase(t.tx.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases WHERE id = ?`, id))
	if err != nil {
		return c, notFound("sqlite: get case", err)
	}
	return c, nil
}

func (t *tx) queryCases(ctx context.Context, q string, args ...any) ([]store.Case, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cases: %w", err)
	}
	defer rows.Close()
	var out []store.Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: cases: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) ListCases(ctx context.Context, status string, limit int) ([]store.Case, error) {
	return t.queryCases(ctx, `SELECT `+caseCols+` FROM cases WHERE status = ? ORDER BY created_at, id LIMIT ?`, status, limit)
}

func (t *tx) CasesOf(ctx context.Context, personID string) ([]store.Case, error) {
	return t.queryCases(ctx, `SELECT `+caseCols+` FROM cases WHERE person_a = ? OR person_b = ? ORDER BY created_at, id`, personID, personID)
}

func (t *tx) DecideCase(ctx context.Context, c store.Case) error {
	var at any
	if c.DecidedAt != nil {
		at = ms(*c.DecidedAt)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE cases SET status = ?, decision = ?, note = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = ?`,
		store.CaseDecided, c.Decision, c.Note, c.DecidedBy, at, c.ID, store.CaseOpen)
	if err := mustAffect("sqlite: decide case", res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("sqlite: decide case: not open: %w", store.ErrConflict)
		}
		return err
	}
	return nil
}

// --- imports ---

func (t *tx) RecordImport(ctx context.Context, key, personID string, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO import_lines(key, person_id, at) VALUES (?,?,?)`, key, personID, ms(at))
	if err != nil {
		return conflictOr("sqlite: record import", err)
	}
	return nil
}

func (t *tx) ImportedPerson(ctx context.Context, key string) (string, error) {
	var id string
	if err := t.tx.QueryRowContext(ctx, `SELECT person_id FROM import_lines WHERE key = ?`, key).Scan(&id); err != nil {
		return "", notFound("sqlite: imported person", err)
	}
	return id, nil
}
