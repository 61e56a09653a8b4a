package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// --- areas ---

func (t *tx) PutArea(ctx context.Context, a store.Area) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO areas(code, name, parent_code, updated_at) VALUES (?,?,?,?)
		ON CONFLICT(code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, updated_at = excluded.updated_at`,
		a.Code, a.Name, a.ParentCode, ms(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put area: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM area_targets WHERE area_code = ?`, a.Code); err != nil {
		return fmt.Errorf("sqlite: put area: %w", err)
	}
	for _, tg := range a.Targets {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO area_targets(area_code, age_band, sex, target) VALUES (?,?,?,?)`,
			a.Code, tg.AgeBand, tg.Sex, tg.Target); err != nil {
			return conflictOr("sqlite: put area target", err)
		}
	}
	return nil
}

func (t *tx) GetArea(ctx context.Context, code string) (store.Area, error) {
	var a store.Area
	var at int64
	err := t.tx.QueryRowContext(ctx, `SELECT code, name, parent_code, updated_at FROM areas WHERE code = ?`, code).
		Scan(&a.Code, &a.Name, &a.ParentCode, &at)
	if err != nil {
		return a, notFound("sqlite: get area", err)
	}
	a.UpdatedAt = fromMS(at)
	rows, err := t.tx.QueryContext(ctx, `SELECT age_band, sex, target FROM area_targets WHERE area_code = ? ORDER BY age_band, sex`, code)
	if err != nil {
		return a, fmt.Errorf("sqlite: get area: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tg store.AreaTarget
		if err := rows.Scan(&tg.AgeBand, &tg.Sex, &tg.Target); err != nil {
			return a, fmt.Errorf("sqlite: get area: %w", err)
		}
		a.Targets = append(a.Targets, tg)
	}
	return a, rows.Err()
}

func (t *tx) ListAreas(ctx context.Context) ([]store.Area, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT code, name, parent_code, updated_at FROM areas ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list areas: %w", err)
	}
	var out []store.Area
	idx := map[string]int{}
	for rows.Next() {
		var a store.Area
		var at int64
		if err := rows.Scan(&a.Code, &a.Name, &a.ParentCode, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list areas: %w", err)
		}
		a.UpdatedAt = fromMS(at)
		idx[a.Code] = len(out)
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list areas: %w", err)
	}
	trows, err := t.tx.QueryContext(ctx, `SELECT area_code, age_band, sex, target FROM area_targets ORDER BY area_code, age_band, sex`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list areas: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var code string
		var tg store.AreaTarget
		if err := trows.Scan(&code, &tg.AgeBand, &tg.Sex, &tg.Target); err != nil {
			return nil, fmt.Errorf("sqlite: list areas: %w", err)
		}
		if i, ok := idx[code]; ok {
			out[i].Targets = append(out[i].Targets, tg)
		}
	}
	return out, trows.Err()
}

// --- statistics projection ---

func (t *tx) PutPersonStats(ctx context.Context, s store.PersonStats) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO person_stats(person_id, area_code, birth_year, birth_estimated, sex, site, operator_id, registered_at)
		VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(person_id) DO UPDATE SET area_code = excluded.area_code, birth_year = excluded.birth_year,
		birth_estimated = excluded.birth_estimated, sex = excluded.sex, site = excluded.site, operator_id = excluded.operator_id, registered_at = excluded.registered_at`,
		s.PersonID, s.AreaCode, s.BirthYear, s.BirthEstimated, s.Sex, s.Site, s.OperatorID, ms(s.RegisteredAt))
	if err != nil {
		return fmt.Errorf("sqlite: put person stats: %w", err)
	}
	return nil
}

func (t *tx) DeletePersonStats(ctx context.Context, personID string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM person_stats WHERE person_id = ?`, personID); err != nil {
		return fmt.Errorf("sqlite: delete person stats: %w", err)
	}
	return nil
}

func from(p store.Period) int64 {
	if p.From.IsZero() {
		return -1 << 62
	}
	return ms(p.From)
}

// counts runs q and scans each row's grouping columns (named by cols, in
// order) and the count last.
func (t *tx) counts(ctx context.Context, op string, cols []string, q string, args ...any) ([]store.StatsCount, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	var out []store.StatsCount
	for rows.Next() {
		var c store.StatsCount
		dst := make([]any, 0, len(cols)+1)
		for _, col := range cols {
			dst = append(dst, countField(&c, col))
		}
		dst = append(dst, &c.N)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func countField(c *store.StatsCount, col string) any {
	switch col {
	case "area_code":
		return &c.AreaCode
	case "birth_year":
		return &c.BirthYear
	case "sex":
		return &c.Sex
	case "site":
		return &c.Site
	case "operator_id":
		return &c.OperatorID
	case "category":
		return &c.Category
	case "purpose":
		return &c.Purpose
	case "decision":
		return &c.Decision
	case "week":
		return &c.Week
	}
	var discard sql.RawBytes
	return &discard
}

func (t *tx) CountRegistered(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count registered", []string{"area_code", "birth_year", "sex"},
		`SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats WHERE registered_at < ? GROUP BY area_code, birth_year, sex`, ms(p.To))
}

// weekAnchor is Monday 1970-01-05 in Unix milliseconds.
const weekAnchor, weekMS = 345_600_000, 604_800_000

func (t *tx) CountRegisteredPerWeek(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count registered per week", []string{"area_code", "week"},
		`SELECT area_code, (registered_at - ?) / ? AS week, COUNT(*) FROM person_stats WHERE registered_at >= ? AND registered_at < ?
		GROUP BY area_code, week`, weekAnchor, weekMS, max(from(p), weekAnchor), ms(p.To))
}

func (t *tx) CountCheckedUp(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count checked up", []string{"area_code", "birth_year", "sex"},
		`SELECT s.area_code, s.birth_year, s.sex, COUNT(*) FROM person_stats s
		WHERE EXISTS (SELECT 1 FROM exams e WHERE e.person_id = s.person_id AND e.at >= ? AND e.at < ?)
		GROUP BY s.area_code, s.birth_year, s.sex`, from(p), ms(p.To))
}

func (t *tx) CountEnrolled(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count enrolled", []string{"area_code", "category"},
		`SELECT s.area_code, b.category, COUNT(DISTINCT b.person_id) FROM biometrics b JOIN person_stats s ON s.person_id = b.person_id
		WHERE b.created_at < ? GROUP BY s.area_code, b.category`, ms(p.To))
}

func (t *tx) CountAreaAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count area answers", []string{"area_code", "category", "purpose", "decision"},
		`SELECT s.area_code, c.category, c.purpose, c.decision, COUNT(*) FROM consents c JOIN person_stats s ON s.person_id = c.person_id
		WHERE c.at >= ? AND c.at < ? GROUP BY s.area_code, c.category, c.purpose, c.decision`, from(p), ms(p.To))
}

func (t *tx) CountSiteAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count site answers", []string{"site", "operator_id", "category", "purpose", "decision"},
		`SELECT site, operator_id, category, purpose, decision, COUNT(*) FROM consents
		WHERE at >= ? AND at < ? GROUP BY site, operator_id, category, purpose, decision`, from(p), ms(p.To))
}

func (t *tx) CountEarlyWithdrawals(ctx context.Context, p store.Period, within time.Duration) ([]store.StatsCount, error) {
	return t.counts(ctx, "count early withdrawals", []string{"site"},
		`SELECT pe.site, COUNT(DISTINCT c.person_id) FROM consents c JOIN persons pe ON pe.id = c.person_id
		WHERE c.decision = 'withdrawn' AND c.at >= ? AND c.at < ? AND c.at - pe.created_at <= ? GROUP BY pe.site`,
		from(p), ms(p.To), within.Milliseconds())
}

func (t *tx) AddExclusionEvent(ctx context.Context, e store.ExclusionEvent) error {
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO exclusion_events(site, category, kind, at) VALUES (?,?,?,?)`, e.Site, e.Category, e.Kind, ms(e.At)); err != nil {
		return fmt.Errorf("sqlite: add exclusion event: %w", err)
	}
	return nil
}

func (t *tx) CountExclusions(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count exclusions", []string{"site", "category", "decision"},
		`SELECT site, category, kind, COUNT(*) FROM exclusion_events WHERE at >= ? AND at < ? GROUP BY site, category, kind`, from(p), ms(p.To))
}

func (t *tx) CountCareWithoutBiometrics(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count care without biometrics", []string{"site"},
		`SELECT e.site, COUNT(DISTINCT e.person_id) FROM exams e
		WHERE e.at >= ? AND e.at < ? AND NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = e.person_id)
		GROUP BY e.site`, from(p), ms(p.To))
}

func (t *tx) RegisterQuality(ctx context.Context, asOf time.Time, majority int) (store.RegisterQuality, error) {
	q := store.RegisterQuality{OpenCasesByAge: map[string]int{}}
	minYear := asOf.UTC().Year() - majority // born after this year: under age
	day := int64(24 * time.Hour / time.Millisecond)
	for _, c := range []struct {
		dst  *int
		q    string
		args []any
	}{
		{&q.HouseholdsWithoutHead, `SELECT COUNT(*) FROM households h WHERE h.head_id = ''
			AND EXISTS (SELECT 1 FROM persons p WHERE p.household_id = h.id AND p.status = 'active')`, nil},
		{&q.HeadsUnderAge, `SELECT COUNT(*) FROM households h JOIN person_stats s ON s.person_id = h.head_id
			WHERE s.birth_year > ?`, []any{minYear}},
		{&q.MinorsGuardianErased, `SELECT COUNT(*) FROM persons p JOIN person_stats s ON s.person_id = p.id
			JOIN persons g ON g.id = p.guardian_id WHERE p.guardian_id <> '' AND g.status = 'erased' AND s.birth_year > ?`, []any{minYear}},
		{&q.EstimatedBirthDates, `SELECT COUNT(*) FROM person_stats WHERE birth_estimated <> 0 AND registered_at < ?`, []any{ms(asOf)}},
	} {
		if err := t.tx.QueryRowContext(ctx, c.q, c.args...).Scan(c.dst); err != nil {
			return q, fmt.Errorf("sqlite: register quality: %w", err)
		}
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT CASE WHEN ? - created_at < ? THEN '0-6' WHEN ? - created_at < ? THEN '7-29' ELSE '30+' END AS age, COUNT(*)
		FROM cases WHERE status = 'open' GROUP BY age`, ms(asOf), 7*day, ms(asOf), 30*day)
	if err != nil {
		return q, fmt.Errorf("sqlite: register quality: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return q, fmt.Errorf("sqlite: register quality: %w", err)
		}
		q.OpenCasesByAge[k] = n
	}
	return q, rows.Err()
}
