package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tx implements store.Tx over one pgx.Tx. It records whether any statement
// failed with a conflict the server resolved by aborting, so run can retry
// even when fn wrapped or replaced that error.
type tx struct {
	tx    pgx.Tx
	retry bool
}

var _ store.Tx = (*tx)(nil)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// fail wraps err with op, mapping no rows to store.ErrNotFound and a unique
// violation to store.ErrConflict.
func (t *tx) fail(op string, err error) error {
	if retryable(err) {
		t.retry = true
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	case isCode(err, codeUniqueViolation):
		return fmt.Errorf("postgres: %s: %w", op, store.ErrConflict)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// affected fails with store.ErrNotFound when the statement changed no row.
func (t *tx) affected(op string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return t.fail(op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// collect runs q and scans each row with scan.
func collect[T any](ctx context.Context, t *tx, op, q string, scan func(pgx.Row) (T, error), args ...any) ([]T, error) {
	rows, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, t.fail(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.fail(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(op, err)
	}
	return out, nil
}

func scanString(r pgx.Row) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

func scanBytes(r pgx.Row) ([]byte, error) {
	var b []byte
	err := r.Scan(&b)
	return b, err
}

// --- sites ---

func (t *tx) CreateSite(ctx context.Context, s store.Site) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO sites(code, name, area_code, created_at) VALUES ($1,$2,$3,$4)`,
		s.Code, s.Name, s.AreaCode, ms(s.CreatedAt))
	if err != nil {
		return t.fail("create site", err)
	}
	return nil
}

const siteCols = `code, name, area_code, created_at`

func scanSite(r pgx.Row) (store.Site, error) {
	var s store.Site
	var at int64
	err := r.Scan(&s.Code, &s.Name, &s.AreaCode, &at)
	s.CreatedAt = fromMS(at)
	return s, err
}

func (t *tx) GetSite(ctx context.Context, code string) (store.Site, error) {
	s, err := scanSite(t.tx.QueryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE code = $1`, code))
	if err != nil {
		return store.Site{}, t.fail("get site", err)
	}
	return s, nil
}

func (t *tx) ListSites(ctx context.Context) ([]store.Site, error) {
	return collect(ctx, t, "list sites", `SELECT `+siteCols+` FROM sites ORDER BY code`, scanSite)
}

// --- operators ---

func (t *tx) CreateOperator(ctx context.Context, o store.Operator) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO operators(id, role, site, name, key_mac, created_at) VALUES ($1,$2,$3,$4,$5,$6)`,
		o.ID, o.Role, o.Site, o.Name, o.KeyMAC, ms(o.CreatedAt))
	if err != nil {
		return t.fail("create operator", err)
	}
	return nil
}

const operatorCols = `id, role, site, name, key_mac, created_at, revoked_at, COALESCE(user_name, '')`

func scanOperator(r pgx.Row) (store.Operator, error) {
	var o store.Operator
	var at int64
	var rev *int64
	if err := r.Scan(&o.ID, &o.Role, &o.Site, &o.Name, &o.KeyMAC, &at, &rev, &o.User); err != nil {
		return store.Operator{}, err
	}
	o.CreatedAt = fromMS(at)
	if rev != nil {
		r := fromMS(*rev)
		o.RevokedAt = &r
	}
	return o, nil
}

func (t *tx) OperatorByKeyMAC(ctx context.Context, mac []byte) (store.Operator, error) {
	o, err := scanOperator(t.tx.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE key_mac = $1 AND revoked_at IS NULL`, mac))
	if err != nil {
		return o, t.fail("operator by key", err)
	}
	return o, nil
}

func (t *tx) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return collect(ctx, t, "list operators", `SELECT `+operatorCols+` FROM operators ORDER BY created_at, id`, scanOperator)
}

func (t *tx) RevokeOperator(ctx context.Context, id string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE operators SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ms(at), id)
	return t.affected("revoke operator", tag, err)
}

// --- households ---

func (t *tx) CreateHousehold(ctx context.Context, h store.Household) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO households(id, area_code, head_id, address_sealed, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6)`,
		h.ID, h.AreaCode, h.HeadID, h.AddressSealed, ms(h.CreatedAt), ms(h.UpdatedAt))
	if err != nil {
		return t.fail("create household", err)
	}
	return nil
}

func (t *tx) GetHousehold(ctx context.Context, id string) (store.Household, error) {
	var h store.Household
	var c, u int64
	err := t.tx.QueryRow(ctx, `SELECT id, area_code, head_id, address_sealed, created_at, updated_at FROM households WHERE id = $1`, id).
		Scan(&h.ID, &h.AreaCode, &h.HeadID, &h.AddressSealed, &c, &u)
	if err != nil {
		return store.Household{}, t.fail("get household", err)
	}
	h.CreatedAt, h.UpdatedAt = fromMS(c), fromMS(u)
	return h, nil
}

func (t *tx) UpdateHousehold(ctx context.Context, h store.Household) error {
	tag, err := t.tx.Exec(ctx, `UPDATE households SET area_code = $1, head_id = $2, address_sealed = $3, updated_at = $4 WHERE id = $5`,
		h.AreaCode, h.HeadID, h.AddressSealed, ms(h.UpdatedAt), h.ID)
	return t.affected("update household", tag, err)
}

func (t *tx) HouseholdMembers(ctx context.Context, id string) ([]store.Person, error) {
	return collect(ctx, t, "household members",
		`SELECT `+personCols+` FROM persons WHERE household_id = $1 AND status = $2 ORDER BY created_at, id`, scanPerson, id, store.StatusActive)
}

// --- persons ---

const personCols = `id, status, area_code, household_id, relationship, guardian_id, site, version, identity_sealed, lookup_index, portal_code_mac, alias_of, created_at, updated_at, number`

func scanPerson(r pgx.Row) (store.Person, error) {
	var p store.Person
	var c, u int64
	var num *string
	err := r.Scan(&p.ID, &p.Status, &p.AreaCode, &p.HouseholdID, &p.Relationship, &p.GuardianID, &p.Site, &p.Version,
		&p.IdentitySealed, &p.LookupIndex, &p.PortalCodeMAC, &p.AliasOf, &c, &u, &num)
	if num != nil {
		p.Number = *num
	}
	p.CreatedAt, p.UpdatedAt = fromMS(c), fromMS(u)
	return p, err
}

func (t *tx) CreatePerson(ctx context.Context, p store.Person) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO persons(`+personCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
		p.ID, p.Status, p.AreaCode, p.HouseholdID, p.Relationship, p.GuardianID, p.Site, p.Version,
		p.IdentitySealed, p.LookupIndex, p.PortalCodeMAC, p.AliasOf, ms(p.CreatedAt), ms(p.UpdatedAt), nullString(p.Number))
	if err != nil {
		return t.fail("create person", err)
	}
	return nil
}

func (t *tx) PersonByNumber(ctx context.Context, number string) (store.Person, error) {
	p, err := scanPerson(t.tx.QueryRow(ctx, `SELECT `+personCols+` FROM persons WHERE number = $1`, number))
	if err != nil {
		return store.Person{}, t.fail("person by number", err)
	}
	return p, nil
}

// nullString stores an empty string as NULL (for unique columns).
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (t *tx) GetPerson(ctx context.Context, id string) (store.Person, error) {
	p, err := scanPerson(t.tx.QueryRow(ctx, `SELECT `+personCols+` FROM persons WHERE id = $1`, id))
	if err != nil {
		return store.Person{}, t.fail("get person", err)
	}
	return p, nil
}

func (t *tx) GetPersons(ctx context.Context, ids []string) ([]store.Person, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return collect(ctx, t, "get persons", `SELECT `+personCols+` FROM persons WHERE id = ANY($1)`, scanPerson, ids)
}

// UpdatePerson writes p if the stored version is p.Version-1; otherwise
// store.ErrConflict when the person exists, store.ErrNotFound when not.
func (t *tx) UpdatePerson(ctx context.Context, p store.Person) error {
	tag, err := t.tx.Exec(ctx, `UPDATE persons SET status = $1, area_code = $2, household_id = $3, relationship = $4, guardian_id = $5,
		version = $6, identity_sealed = $7, lookup_index = $8, portal_code_mac = $9, alias_of = $10, updated_at = $11 WHERE id = $12 AND version = $13`,
		p.Status, p.AreaCode, p.HouseholdID, p.Relationship, p.GuardianID, p.Version, p.IdentitySealed, p.LookupIndex, p.PortalCodeMAC,
		p.AliasOf, ms(p.UpdatedAt), p.ID, p.Version-1)
	if err := t.affected("update person", tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if _, gerr := t.GetPerson(ctx, p.ID); gerr == nil {
				return fmt.Errorf("postgres: update person: version moved: %w", store.ErrConflict)
			}
		}
		return err
	}
	return nil
}

func (t *tx) AddPersonVersion(ctx context.Context, v store.PersonVersion) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO person_versions(person_id, version, identity_sealed, household_id, relationship, area_code, changed_at, changed_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		v.PersonID, v.Version, v.IdentitySealed, v.HouseholdID, v.Relationship, v.AreaCode, ms(v.ChangedAt), v.ChangedBy)
	if err != nil {
		return t.fail("add person version", err)
	}
	return nil
}

func (t *tx) PersonVersions(ctx context.Context, id string) ([]store.PersonVersion, error) {
	return collect(ctx, t, "person versions",
		`SELECT person_id, version, identity_sealed, household_id, relationship, area_code, changed_at, changed_by FROM person_versions WHERE person_id = $1 ORDER BY version`,
		func(r pgx.Row) (store.PersonVersion, error) {
			var v store.PersonVersion
			var at int64
			err := r.Scan(&v.PersonID, &v.Version, &v.IdentitySealed, &v.HouseholdID, &v.Relationship, &v.AreaCode, &at, &v.ChangedBy)
			v.ChangedAt = fromMS(at)
			return v, err
		}, id)
}

func (t *tx) FindPersons(ctx context.Context, index []byte) ([]string, error) {
	return collect(ctx, t, "find persons",
		`SELECT id FROM persons WHERE lookup_index = $1 AND status = $2 ORDER BY created_at, id`, scanString, index, store.StatusActive)
}

// ErasePerson clears the person's row down to a tombstone and deletes every
// row about them (versions, exams, specimens and their events, biometric
// references).
func (t *tx) ErasePerson(ctx context.Context, id string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE persons SET status = $1, area_code = '', household_id = '', relationship = '', guardian_id = '',
		identity_sealed = NULL, lookup_index = NULL, portal_code_mac = NULL, updated_at = $2 WHERE id = $3`, store.StatusErased, ms(at), id)
	if err := t.affected("erase person", tag, err); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM person_versions WHERE person_id = $1`,
		`DELETE FROM exams WHERE person_id = $1`,
		`DELETE FROM specimens WHERE person_id = $1`,
		`DELETE FROM specimen_events WHERE person_id = $1`,
		`DELETE FROM biometrics WHERE person_id = $1`,
		`DELETE FROM person_stats WHERE person_id = $1`,
		`DELETE FROM person_identifiers WHERE person_id = $1`,
		`UPDATE households SET head_id = '' WHERE head_id = $1`,
		`DELETE FROM sessions WHERE person_id = $1`, // the person's portal and web sessions end with them
	} {
		if _, err := t.tx.Exec(ctx, q, id); err != nil {
			return t.fail("erase person", err)
		}
	}
	return nil
}

// PersonIDs lists every person id, tombstones included (for maintenance).
func (t *tx) PersonIDs(ctx context.Context) ([]string, error) {
	return collect(ctx, t, "person ids", `SELECT id FROM persons ORDER BY id`, scanString)
}

// --- consents ---

// AppendConsent stores c with the next value of the consents identity
// column as its Seq. Seqs increase in the order appends run; two appends
// for one person in concurrent transactions cannot both commit when each
// read that person's consents first (serializable), which the registry does.
func (t *tx) AppendConsent(ctx context.Context, c store.ConsentRecord) (store.ConsentRecord, error) {
	err := t.tx.QueryRow(ctx, `INSERT INTO consents(person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING seq`,
		c.PersonID, c.Category, c.Purpose, c.Decision, c.Method, c.NoticeVersion, c.Language, c.OperatorID, c.Site, c.GuardianID, ms(c.At)).Scan(&c.Seq)
	if err != nil {
		return c, t.fail("append consent", err)
	}
	return c, nil
}

func (t *tx) ConsentHistory(ctx context.Context, personID string) ([]store.ConsentRecord, error) {
	return collect(ctx, t, "consent history",
		`SELECT seq, person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at FROM consents WHERE person_id = $1 ORDER BY seq`,
		func(r pgx.Row) (store.ConsentRecord, error) {
			var c store.ConsentRecord
			var at int64
			err := r.Scan(&c.Seq, &c.PersonID, &c.Category, &c.Purpose, &c.Decision, &c.Method, &c.NoticeVersion, &c.Language, &c.OperatorID, &c.Site, &c.GuardianID, &at)
			c.At = fromMS(at)
			return c, err
		}, personID)
}

func (t *tx) ConsentHistories(ctx context.Context, personIDs []string) (map[string][]store.ConsentRecord, error) {
	out := map[string][]store.ConsentRecord{}
	if len(personIDs) == 0 {
		return out, nil
	}
	recs, err := collect(ctx, t, "consent histories",
		`SELECT seq, person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at
		FROM consents WHERE person_id = ANY($1) ORDER BY person_id, seq`,
		func(r pgx.Row) (store.ConsentRecord, error) {
			var c store.ConsentRecord
			var at int64
			err := r.Scan(&c.Seq, &c.PersonID, &c.Category, &c.Purpose, &c.Decision, &c.Method, &c.NoticeVersion, &c.Language, &c.OperatorID, &c.Site, &c.GuardianID, &at)
			c.At = fromMS(at)
			return c, err
		}, personIDs)
	if err != nil {
		return nil, err
	}
	for _, c := range recs {
		out[c.PersonID] = append(out[c.PersonID], c)
	}
	return out, nil
}

func (t *tx) ConsentCounts(ctx context.Context) ([]store.ConsentCount, error) {
	return collect(ctx, t, "consent counts", `
		SELECT c.site, c.category, c.decision, COUNT(*) FROM consents c
		JOIN (SELECT MAX(seq) AS seq FROM consents GROUP BY person_id, category, purpose) l ON l.seq = c.seq
		GROUP BY c.site, c.category, c.decision ORDER BY c.site, c.category, c.decision`,
		func(r pgx.Row) (store.ConsentCount, error) {
			var c store.ConsentCount
			err := r.Scan(&c.Site, &c.Category, &c.Decision, &c.N)
			return c, err
		})
}

// --- exams ---

func (t *tx) AddExam(ctx context.Context, e store.Exam) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO exams(id, person_id, site, operator_id, findings_sealed, blood_type_sealed, at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		e.ID, e.PersonID, e.Site, e.OperatorID, e.FindingsSealed, e.BloodTypeSealed, ms(e.At))
	if err != nil {
		return t.fail("add exam", err)
	}
	return nil
}

func (t *tx) ExamPerson(ctx context.Context, examID string) (string, error) {
	var pid string
	if err := t.tx.QueryRow(ctx, `SELECT person_id FROM exams WHERE id = $1`, examID).Scan(&pid); err != nil {
		return "", t.fail("exam person", err)
	}
	return pid, nil
}

func (t *tx) ListExams(ctx context.Context, personID string) ([]store.Exam, error) {
	return collect(ctx, t, "list exams",
		`SELECT id, person_id, site, operator_id, findings_sealed, blood_type_sealed, at FROM exams WHERE person_id = $1 ORDER BY at, id`,
		func(r pgx.Row) (store.Exam, error) {
			var e store.Exam
			var at int64
			err := r.Scan(&e.ID, &e.PersonID, &e.Site, &e.OperatorID, &e.FindingsSealed, &e.BloodTypeSealed, &at)
			e.At = fromMS(at)
			return e, err
		}, personID)
}

// DeleteExamCategory deletes whole exams for "health" and clears the blood
// type for "blood_type"; any other category is an error.
func (t *tx) DeleteExamCategory(ctx context.Context, personID, category string) error {
	var q string
	switch category {
	case "health":
		q = `DELETE FROM exams WHERE person_id = $1`
	case "blood_type":
		q = `UPDATE exams SET blood_type_sealed = NULL WHERE person_id = $1`
	default:
		return fmt.Errorf("postgres: delete exam category %q: not an exam category", category)
	}
	if _, err := t.tx.Exec(ctx, q, personID); err != nil {
		return t.fail("delete exam category", err)
	}
	return nil
}

// --- audit ---

// AppendAudit stores the row at idx MAX(idx)+1 (0 in an empty log), read
// in this transaction. A concurrent writer that read the same MAX makes
// one of the two fail with a serialization failure or a key collision on
// idx; either way Update runs the loser again, and it then reads the
// winner's row.
func (t *tx) AppendAudit(ctx context.Context, personID string, data, leafHash []byte) (uint64, error) {
	var next int64
	err := t.tx.QueryRow(ctx, `INSERT INTO audit_events(idx, person_id, data, leaf_hash)
		SELECT COALESCE(MAX(idx) + 1, 0), $1, $2, $3 FROM audit_events RETURNING idx`, personID, data, leafHash).Scan(&next)
	if isCode(err, codeUniqueViolation) {
		// Only a concurrent append can take an idx this one computed.
		t.retry = true
		return 0, fmt.Errorf("postgres: append audit: idx taken by a concurrent transaction: %w", err)
	}
	if err != nil {
		return 0, t.fail("append audit", err)
	}
	return uint64(next), nil
}

func (t *tx) AuditSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := t.tx.QueryRow(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_events`).Scan(&n); err != nil {
		return 0, t.fail("audit size", err)
	}
	return uint64(n), nil
}

func (t *tx) AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error) {
	return collect(ctx, t, "audit leaves",
		`SELECT leaf_hash FROM audit_events WHERE idx >= $1 ORDER BY idx LIMIT $2`, scanBytes, int64(from), limit)
}

func scanAuditRow(r pgx.Row) (store.AuditRow, error) {
	var a store.AuditRow
	var idx int64
	err := r.Scan(&idx, &a.PersonID, &a.Data, &a.LeafHash)
	a.Index = uint64(idx)
	return a, err
}

func (t *tx) AuditRows(ctx context.Context, from uint64, limit int) ([]store.AuditRow, error) {
	return collect(ctx, t, "audit rows",
		`SELECT idx, person_id, data, leaf_hash FROM audit_events WHERE idx >= $1 ORDER BY idx LIMIT $2`, scanAuditRow, int64(from), limit)
}

func (t *tx) AuditRowsForPerson(ctx context.Context, personID string, limit int) ([]store.AuditRow, error) {
	return collect(ctx, t, "audit rows for person",
		`SELECT idx, person_id, data, leaf_hash FROM audit_events WHERE person_id = $1 ORDER BY idx LIMIT $2`, scanAuditRow, personID, limit)
}

// SaveCheckpoint stores a note for size; a second note for the same size
// is ignored (the first one stays).
func (t *tx) SaveCheckpoint(ctx context.Context, size uint64, note []byte, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO audit_checkpoints(size, note, created_at) VALUES ($1,$2,$3) ON CONFLICT (size) DO NOTHING`,
		int64(size), note, ms(at))
	if err != nil {
		return t.fail("save checkpoint", err)
	}
	return nil
}

func (t *tx) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	var size int64
	var note []byte
	err := t.tx.QueryRow(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	if err != nil {
		return 0, nil, t.fail("latest checkpoint", err)
	}
	return uint64(size), note, nil
}

func (t *tx) Checkpoints(ctx context.Context) ([][]byte, error) {
	return collect(ctx, t, "checkpoints", `SELECT note FROM audit_checkpoints ORDER BY size`, scanBytes)
}

// --- specimens ---

func (t *tx) AddSpecimen(ctx context.Context, s store.Specimen) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO specimens(id, person_id, sealed, created_at, updated_at) VALUES ($1,$2,$3,$4,$5)`,
		s.ID, s.PersonID, s.Sealed, ms(s.CreatedAt), ms(s.UpdatedAt))
	if err != nil {
		return t.fail("add specimen", err)
	}
	return nil
}

func scanSpecimen(r pgx.Row) (store.Specimen, error) {
	var s store.Specimen
	var c, u int64
	err := r.Scan(&s.ID, &s.PersonID, &s.Sealed, &c, &u)
	s.CreatedAt, s.UpdatedAt = fromMS(c), fromMS(u)
	return s, err
}

func (t *tx) GetSpecimen(ctx context.Context, id string) (store.Specimen, error) {
	s, err := scanSpecimen(t.tx.QueryRow(ctx, `SELECT id, person_id, sealed, created_at, updated_at FROM specimens WHERE id = $1`, id))
	if err != nil {
		return store.Specimen{}, t.fail("get specimen", err)
	}
	return s, nil
}

func (t *tx) UpdateSpecimen(ctx context.Context, s store.Specimen) error {
	tag, err := t.tx.Exec(ctx, `UPDATE specimens SET sealed = $1, updated_at = $2 WHERE id = $3`, s.Sealed, ms(s.UpdatedAt), s.ID)
	return t.affected("update specimen", tag, err)
}

func (t *tx) ListSpecimens(ctx context.Context, personID string) ([]store.Specimen, error) {
	return collect(ctx, t, "list specimens",
		`SELECT id, person_id, sealed, created_at, updated_at FROM specimens WHERE person_id = $1 ORDER BY created_at, id`, scanSpecimen, personID)
}

func (t *tx) AddSpecimenEvent(ctx context.Context, e store.SpecimenEvent) (store.SpecimenEvent, error) {
	err := t.tx.QueryRow(ctx, `INSERT INTO specimen_events(specimen_id, person_id, sealed, at) VALUES ($1,$2,$3,$4) RETURNING seq`,
		e.SpecimenID, e.PersonID, e.Sealed, ms(e.At)).Scan(&e.Seq)
	if err != nil {
		return e, t.fail("add specimen event", err)
	}
	return e, nil
}

func (t *tx) SpecimenEvents(ctx context.Context, specimenID string) ([]store.SpecimenEvent, error) {
	return collect(ctx, t, "specimen events",
		`SELECT seq, specimen_id, person_id, sealed, at FROM specimen_events WHERE specimen_id = $1 ORDER BY seq`,
		func(r pgx.Row) (store.SpecimenEvent, error) {
			var e store.SpecimenEvent
			var at int64
			err := r.Scan(&e.Seq, &e.SpecimenID, &e.PersonID, &e.Sealed, &at)
			e.At = fromMS(at)
			return e, err
		}, specimenID)
}
