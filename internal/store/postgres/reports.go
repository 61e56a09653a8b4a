package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/counts"
	"github.com/jackc/pgx/v5"
)

// --- areas ---

func (t *tx) PutArea(ctx context.Context, a store.Area) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO areas(code, name, parent_code, updated_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, updated_at = excluded.updated_at`,
		a.Code, a.Name, a.ParentCode, ms(a.UpdatedAt))
	if err != nil {
		return t.fail("put area", err)
	}
	if _, err := t.tx.Exec(ctx, `DELETE FROM area_targets WHERE area_code = $1`, a.Code); err != nil {
		return t.fail("put area", err)
	}
	for _, tg := range a.Targets {
		if _, err := t.tx.Exec(ctx, `INSERT INTO area_targets(area_code, age_band, sex, target) VALUES ($1,$2,$3,$4)`,
			a.Code, tg.AgeBand, tg.Sex, tg.Target); err != nil {
			return t.fail("put area target", err)
		}
	}
	return nil
}

func scanArea(r pgx.Row) (store.Area, error) {
	var a store.Area
	var at int64
	err := r.Scan(&a.Code, &a.Name, &a.ParentCode, &at)
	a.UpdatedAt = fromMS(at)
	return a, err
}

type codedTarget struct {
	code string
	store.AreaTarget
}

func scanTarget(r pgx.Row) (codedTarget, error) {
	var c codedTarget
	err := r.Scan(&c.code, &c.AgeBand, &c.Sex, &c.Target)
	return c, err
}

func (t *tx) GetArea(ctx context.Context, code string) (store.Area, error) {
	a, err := scanArea(t.tx.QueryRow(ctx, `SELECT code, name, parent_code, updated_at FROM areas WHERE code = $1`, code))
	if err != nil {
		return a, t.fail("get area", err)
	}
	ts, err := collect(ctx, t, "get area", `SELECT area_code, age_band, sex, target FROM area_targets WHERE area_code = $1 ORDER BY age_band, sex`, scanTarget, code)
	for _, tg := range ts {
		a.Targets = append(a.Targets, tg.AreaTarget)
	}
	return a, err
}

func (t *tx) ListAreas(ctx context.Context) ([]store.Area, error) {
	out, err := collect(ctx, t, "list areas", `SELECT code, name, parent_code, updated_at FROM areas ORDER BY code`, scanArea)
	if err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(out))
	for i, a := range out {
		idx[a.Code] = i
	}
	ts, err := collect(ctx, t, "list areas", `SELECT area_code, age_band, sex, target FROM area_targets ORDER BY area_code, age_band, sex`, scanTarget)
	for _, tg := range ts {
		if i, ok := idx[tg.code]; ok {
			out[i].Targets = append(out[i].Targets, tg.AreaTarget)
		}
	}
	return out, err
}

// --- statistics projection ---

func (t *tx) PutPersonStats(ctx context.Context, s store.PersonStats) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO person_stats(person_id, area_code, birth_year, birth_estimated, sex, site, operator_id, registered_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (person_id) DO UPDATE SET area_code = excluded.area_code, birth_year = excluded.birth_year,
		birth_estimated = excluded.birth_estimated, sex = excluded.sex, site = excluded.site, operator_id = excluded.operator_id, registered_at = excluded.registered_at,
		reproject = 0`,
		s.PersonID, s.AreaCode, s.BirthYear, s.BirthEstimated, s.Sex, s.Site, s.OperatorID, ms(s.RegisteredAt))
	if err != nil {
		return t.fail("put person stats", err)
	}
	return nil
}

func (t *tx) DeletePersonStats(ctx context.Context, personID string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM person_stats WHERE person_id = $1`, personID); err != nil {
		return t.fail("delete person stats", err)
	}
	return nil
}

// counts runs q; each row is the grouping columns named by cols, in order,
// and the count last.
func (t *tx) counts(ctx context.Context, op string, cols []string, q string, args ...any) ([]store.StatsCount, error) {
	return collect(ctx, t, op, q, func(r pgx.Row) (store.StatsCount, error) {
		var c store.StatsCount
		dst := make([]any, 0, len(cols)+1)
		for _, col := range cols {
			switch col {
			case "area_code":
				dst = append(dst, &c.AreaCode)
			case "birth_year":
				dst = append(dst, &c.BirthYear)
			case "sex":
				dst = append(dst, &c.Sex)
			case "site":
				dst = append(dst, &c.Site)
			case "operator_id":
				dst = append(dst, &c.OperatorID)
			case "category":
				dst = append(dst, &c.Category)
			case "purpose":
				dst = append(dst, &c.Purpose)
			case "decision", "kind":
				dst = append(dst, &c.Decision)
			case "week":
				dst = append(dst, &c.Week)
			}
		}
		dst = append(dst, &c.N)
		err := r.Scan(dst...)
		return c, err
	}, args...)
}

// countDB runs the shared count queries (package counts), written with
// `?` placeholders, in this transaction.
type countDB struct{ t *tx }

// numbered turns each `?` of q into $1, $2... (the shared queries hold no
// `?` in a literal).
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Count queries run once per report and per connection: one round trip
// each (no statement prepared first), which matters more than planning.
func execMode(args []any) []any { return append([]any{pgx.QueryExecModeExec}, args...) }

func (d countDB) Counts(ctx context.Context, op string, cols []string, q string, args ...any) ([]store.StatsCount, error) {
	return d.t.counts(ctx, op, cols, numbered(q), execMode(args)...)
}

func (d countDB) Int(ctx context.Context, op, q string, args ...any) (int64, error) {
	var n int64
	if err := d.t.tx.QueryRow(ctx, numbered(q), execMode(args)...).Scan(&n); err != nil {
		return 0, d.t.fail(op, err)
	}
	return n, nil
}

func (d countDB) Exec(ctx context.Context, op, q string, args ...any) error {
	if _, err := d.t.tx.Exec(ctx, numbered(q), args...); err != nil {
		return d.t.fail(op, err)
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
	if _, err := t.tx.Exec(ctx, `INSERT INTO exclusion_events(site, category, kind, at) VALUES ($1,$2,$3,$4)`, e.Site, e.Category, e.Kind, ms(e.At)); err != nil {
		return t.fail("add exclusion event", err)
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
	return collect(ctx, t, "persons to reproject", `SELECT person_id FROM person_stats WHERE reproject <> 0 AND person_id > $1 ORDER BY person_id LIMIT $2`,
		scanString, after, limit)
}

// RebuildStatsCounts rebuilds the report counts in a REPEATABLE READ
// transaction (store.CountsRebuilder).
func (db *DB) RebuildStatsCounts(ctx context.Context) (int, error) {
	var n int
	err := db.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadWrite}, func(t store.Tx) error {
		var err error
		n, err = t.RebuildStatsCounts(ctx)
		return err
	})
	return n, err
}

func (t *tx) RebuildStatsCounts(ctx context.Context) (int, error) {
	return counts.Rebuild(ctx, countDB{t})
}

func (t *tx) RegisterQuality(ctx context.Context, asOf time.Time, majority int) (store.RegisterQuality, error) {
	q := store.RegisterQuality{OpenCasesByAge: map[string]int{}}
	minYear := asOf.UTC().Year() - majority
	day := int64(24 * time.Hour / time.Millisecond)
	for _, c := range []struct {
		dst  *int
		q    string
		args []any
	}{
		{&q.HouseholdsWithoutHead, `SELECT COUNT(*) FROM households h WHERE h.head_id = ''
			AND EXISTS (SELECT 1 FROM persons p WHERE p.household_id = h.id AND p.status = 'active')`, nil},
		{&q.HeadsUnderAge, `SELECT COUNT(*) FROM households h JOIN person_stats s ON s.person_id = h.head_id
			WHERE s.birth_year > $1`, []any{minYear}},
		// From the erased guardians (few: a partial index holds them) to
		// their wards.
		{&q.MinorsGuardianErased, `SELECT COUNT(*) FROM persons g JOIN persons p ON p.guardian_id = g.id
			JOIN person_stats s ON s.person_id = p.id WHERE g.status = 'erased' AND p.guardian_id <> '' AND s.birth_year > $1`, []any{minYear}},
	} {
		if err := t.tx.QueryRow(ctx, c.q, c.args...).Scan(c.dst); err != nil {
			return q, t.fail("register quality", err)
		}
	}
	est, err := counts.CountEstimated(ctx, countDB{t}, asOf)
	if err != nil {
		return q, err
	}
	q.EstimatedBirthDates = est
	type ageCount struct {
		k string
		n int
	}
	cs, err := collect(ctx, t, "register quality", `SELECT CASE WHEN $1::BIGINT - created_at < $2::BIGINT THEN '0-6' WHEN $1::BIGINT - created_at < $3::BIGINT THEN '7-29' ELSE '30+' END AS age, COUNT(*)
		FROM cases WHERE status = 'open' GROUP BY age`, func(r pgx.Row) (ageCount, error) {
		var c ageCount
		err := r.Scan(&c.k, &c.n)
		return c, err
	}, ms(asOf), 7*day, 30*day)
	for _, c := range cs {
		q.OpenCasesByAge[c.k] = c.n
	}
	return q, err
}
