package postgres

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/store"
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
		birth_estimated = excluded.birth_estimated, sex = excluded.sex, site = excluded.site, operator_id = excluded.operator_id, registered_at = excluded.registered_at`,
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

func periodFrom(p store.Period) int64 {
	if p.From.IsZero() {
		return -1 << 62
	}
	return ms(p.From)
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
			case "decision":
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

func (t *tx) CountRegistered(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count registered", []string{"area_code", "birth_year", "sex"},
		`SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats WHERE registered_at < $1 GROUP BY area_code, birth_year, sex`, ms(p.To))
}

// weekAnchor is Monday 1970-01-05 in Unix milliseconds.
const weekAnchor, weekMS = 345_600_000, 604_800_000

func (t *tx) CountRegisteredPerWeek(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count registered per week", []string{"area_code", "week"},
		`SELECT area_code, (registered_at - $1::BIGINT) / $2::BIGINT AS week, COUNT(*) FROM person_stats WHERE registered_at >= $3 AND registered_at < $4
		GROUP BY area_code, week`, int64(weekAnchor), int64(weekMS), max(periodFrom(p), weekAnchor), ms(p.To))
}

func (t *tx) CountCheckedUp(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count checked up", []string{"area_code", "birth_year", "sex"},
		`SELECT s.area_code, s.birth_year, s.sex, COUNT(*) FROM person_stats s
		WHERE EXISTS (SELECT 1 FROM exams e WHERE e.person_id = s.person_id AND e.at >= $1 AND e.at < $2)
		GROUP BY s.area_code, s.birth_year, s.sex`, periodFrom(p), ms(p.To))
}

func (t *tx) CountEnrolled(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count enrolled", []string{"area_code", "category"},
		`SELECT s.area_code, b.category, COUNT(DISTINCT b.person_id) FROM biometrics b JOIN person_stats s ON s.person_id = b.person_id
		WHERE b.created_at < $1 GROUP BY s.area_code, b.category`, ms(p.To))
}

func (t *tx) CountAreaAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count area answers", []string{"area_code", "category", "purpose", "decision"},
		`SELECT s.area_code, c.category, c.purpose, c.decision, COUNT(*) FROM consents c JOIN person_stats s ON s.person_id = c.person_id
		WHERE c.at >= $1 AND c.at < $2 GROUP BY s.area_code, c.category, c.purpose, c.decision`, periodFrom(p), ms(p.To))
}

func (t *tx) CountSiteAnswers(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count site answers", []string{"site", "operator_id", "category", "purpose", "decision"},
		`SELECT site, operator_id, category, purpose, decision, COUNT(*) FROM consents
		WHERE at >= $1 AND at < $2 GROUP BY site, operator_id, category, purpose, decision`, periodFrom(p), ms(p.To))
}

func (t *tx) CountEarlyWithdrawals(ctx context.Context, p store.Period, within time.Duration) ([]store.StatsCount, error) {
	return t.counts(ctx, "count early withdrawals", []string{"site"},
		`SELECT pe.site, COUNT(DISTINCT c.person_id) FROM consents c JOIN persons pe ON pe.id = c.person_id
		WHERE c.decision = 'withdrawn' AND c.at >= $1 AND c.at < $2 AND c.at - pe.created_at <= $3 GROUP BY pe.site`,
		periodFrom(p), ms(p.To), within.Milliseconds())
}

func (t *tx) AddExclusionEvent(ctx context.Context, e store.ExclusionEvent) error {
	if _, err := t.tx.Exec(ctx, `INSERT INTO exclusion_events(site, category, kind, at) VALUES ($1,$2,$3,$4)`, e.Site, e.Category, e.Kind, ms(e.At)); err != nil {
		return t.fail("add exclusion event", err)
	}
	return nil
}

func (t *tx) CountExclusions(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count exclusions", []string{"site", "category", "decision"},
		`SELECT site, category, kind, COUNT(*) FROM exclusion_events WHERE at >= $1 AND at < $2 GROUP BY site, category, kind`, periodFrom(p), ms(p.To))
}

func (t *tx) CountCareWithoutBiometrics(ctx context.Context, p store.Period) ([]store.StatsCount, error) {
	return t.counts(ctx, "count care without biometrics", []string{"site"},
		`SELECT e.site, COUNT(DISTINCT e.person_id) FROM exams e
		WHERE e.at >= $1 AND e.at < $2 AND NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = e.person_id)
		GROUP BY e.site`, periodFrom(p), ms(p.To))
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
		{&q.MinorsGuardianErased, `SELECT COUNT(*) FROM persons p JOIN person_stats s ON s.person_id = p.id
			JOIN persons g ON g.id = p.guardian_id WHERE p.guardian_id <> '' AND g.status = 'erased' AND s.birth_year > $1`, []any{minYear}},
		{&q.EstimatedBirthDates, `SELECT COUNT(*) FROM person_stats WHERE birth_estimated AND registered_at < $1`, []any{ms(asOf)}},
	} {
		if err := t.tx.QueryRow(ctx, c.q, c.args...).Scan(c.dst); err != nil {
			return q, t.fail("register quality", err)
		}
	}
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
