package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/counts"
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
	_, err := t.exec(ctx, putPersonStats,
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
	case "decision", "kind":
		return &c.Decision
	case "week":
		return &c.Week
	}
	var discard sql.RawBytes
	return &discard
}

// countDB runs the shared count queries (package counts) in this transaction.
type countDB struct{ t *tx }

func (d countDB) Counts(ctx context.Context, op string, cols []string, q string, args ...any) ([]store.StatsCount, error) {
	return d.t.counts(ctx, op, cols, q, args...)
}

func (d countDB) Int(ctx context.Context, op, q string, args ...any) (int64, error) {
	var n int64
	if err := d.t.tx.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return n, nil
}

func (d countDB) Exec(ctx context.Context, op, q string, args ...any) error {
	if _, err := d.t.tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

func (t *tx) CountRegistered(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountRegistered(ctx, countDB{t}, p)
}

func (t *tx) CountRegisteredPerWeek(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountRegisteredPerWeek(ctx, countDB{t}, p)
}

func (t *tx) CountCheckedUp(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountCheckedUp(ctx, countDB{t}, p)
}

func (t *tx) CountEnrolled(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountEnrolled(ctx, countDB{t}, p)
}

func (t *tx) CountAreaAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountAreaAnswers(ctx, countDB{t}, p)
}

func (t *tx) CountSiteAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountSiteAnswers(ctx, countDB{t}, p)
}

func (t *tx) CountEarlyWithdrawals(ctx context.Context, p store.Period, within time.Duration) ([]store.StatsCount, error) {
	return counts.CountEarlyWithdrawals(ctx, countDB{t}, p, within)
}

func (t *tx) AddExclusionEvent(ctx context.Context, e store.ExclusionEvent) error {
	if _, err := t.exec(ctx, insertExclusionEvent, e.Site, e.Category, e.Kind, ms(e.At)); err != nil {
		return fmt.Errorf("sqlite: add exclusion event: %w", err)
	}
	return nil
}

func (t *tx) CountExclusions(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountExclusions(ctx, countDB{t}, p)
}

func (t *tx) CountCareWithoutBiometrics(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return counts.CountCareWithoutBiometrics(ctx, countDB{t}, p)
}

func (t *tx) PersonsToReproject(ctx context.Context, after string, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT person_id FROM person_stats WHERE reproject <> 0 AND person_id > ? ORDER BY person_id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: persons to reproject: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: persons to reproject: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *tx) RebuildStatsCounts(ctx context.Context) (int, error) {
	return counts.Rebuild(ctx, countDB{t})
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
		// From the erased guardians (few: a partial index holds them) to
		// their wards.
		{&q.MinorsGuardianErased, `SELECT COUNT(*) FROM persons g JOIN persons p ON p.guardian_id = g.id
			JOIN person_stats s ON s.person_id = p.id WHERE g.status = 'erased' AND p.guardian_id <> '' AND s.birth_year > ?`, []any{minYear}},
	} {
		if err := t.tx.QueryRowContext(ctx, c.q, c.args...).Scan(c.dst); err != nil {
			return q, fmt.Errorf("sqlite: register quality: %w", err)
		}
	}
	est, err := counts.CountEstimated(ctx, countDB{t}, asOf)
	if err != nil {
		return q, err
	}
	q.EstimatedBirthDates = est
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
