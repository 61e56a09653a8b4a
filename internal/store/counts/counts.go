// Package counts computes the report aggregates of both SQL backends from
// the pre-aggregated count tables of migration 0011 (stats_*), kept by
// triggers in the same transaction as the rows they count. A period is
// split into whole UTC days, read from the count tables (thousands of
// rows), and the partial days at its edges, read from the rows themselves
// through their time indexes, so every aggregate means exactly what
// store.Statistics says, to the millisecond.
//
// The SQL is written once, with `?` placeholders and expressions both
// SQLite and PostgreSQL accept; a backend gives a DB that runs it.
package counts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// DayMS is one day in milliseconds: the count tables' day is time in ms / DayMS.
const DayMS int64 = 86_400_000

// weekAnchor is Monday 1970-01-05 in Unix milliseconds (day 4).
const weekAnchor, weekMS = 4 * DayMS, 7 * DayMS

// DB runs SQL written with `?` placeholders inside one transaction.
type DB interface {
	// Counts runs q; each row is the grouping columns named by cols (the
	// field names of store.StatsCount in snake case), then the count.
	Counts(ctx context.Context, op string, cols []string, q string, args ...any) ([]store.StatsCount, error)
	// Int runs q, which returns one integer.
	Int(ctx context.Context, op, q string, args ...any) (int64, error)
	// Exec runs a statement.
	Exec(ctx context.Context, op, q string, args ...any) error
}

// ms is t in Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func from(p store.Period) int64 {
	if p.From.IsZero() {
		return -1 << 62
	}
	return ms(p.From)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// span is [lo, hi) in ms split into whole days [d1, d2) and edges.
type span struct{ lo, hi, d1, d2 int64 }

func days(lo, hi int64) span {
	return span{lo: lo, hi: hi, d1: ceilDiv(lo, DayMS), d2: floorDiv(hi, DayMS)}
}

// whole: the span holds at least one whole day (else it is read raw).
func (s span) whole() bool { return s.d1 < s.d2 }

// roundOut says whether the last partial day is better read as the whole
// day less its part after the span (the shorter time), and gives that day's
// end.
func (s span) roundOut() (int64, bool) {
	in, out := s.hi-s.d2*DayMS, (s.d2+1)*DayMS-s.hi
	return (s.d2 + 1) * DayMS, in > 0 && out < in
}

// rows names the rows an aggregate counts and their time column, to ask
// whether a time range holds any.
type rows struct{ table, at string }

// none says whether r holds no row in [lo, hi) (one probe of its time
// index). A period that ends now has nothing after its end: its last day
// is then read whole from the counts, at no cost.
func (r rows) none(ctx context.Context, db DB, op string, lo, hi int64) (bool, error) {
	if lo >= hi {
		return true, nil
	}
	n, err := db.Int(ctx, op, `SELECT COUNT(*) FROM (SELECT 1 FROM `+r.table+` WHERE `+r.at+` >= ? AND `+r.at+` < ? LIMIT 1) x`, lo, hi)
	return n == 0, err
}

// roundOutIn is roundOut, also when the part after the span holds no row.
func (s span) roundOutIn(ctx context.Context, db DB, op string, r rows) (int64, bool, error) {
	end, ok := s.roundOut()
	if ok || s.hi == s.d2*DayMS {
		return end, ok, nil
	}
	empty, err := r.none(ctx, db, op, s.hi, end)
	return end, empty, err
}

// firstDay bounds prev_day for the first person-day in the span: a
// prev_day of -1 (no earlier exam) is before every day since 1970, the
// first time a row can have.
func (s span) firstDay() int64 { return max(s.d1, 0) }

// edges are the partial days around the whole ones, as [lo, hi) pairs;
// empty ones are left out.
func (s span) edges() [][2]int64 {
	var out [][2]int64
	for _, e := range [][2]int64{{s.lo, s.d1 * DayMS}, {s.d2 * DayMS, s.hi}} {
		if e[0] < e[1] {
			out = append(out, e)
		}
	}
	return out
}

type key struct {
	area      string
	year      int
	sex, site string
	op, cat   string
	purp, dec string
	week      int64
}

// part is counts to add (sign 1) or subtract (-1).
type part struct {
	cs   []store.StatsCount
	sign int
}

// sum adds the parts by grouping fields and drops zeros.
func sum(parts ...part) []store.StatsCount {
	var all [][]store.StatsCount
	for _, p := range parts {
		cs := make([]store.StatsCount, len(p.cs))
		for i, c := range p.cs {
			c.N *= p.sign
			cs[i] = c
		}
		all = append(all, cs)
	}
	return merge(1, all...)
}

// merge sums counts with the same grouping fields (sign -1 subtracts the
// later parts' counts from the first) and drops zeros.
func merge(sign int, parts ...[]store.StatsCount) []store.StatsCount {
	n := 0
	for _, part := range parts {
		n += len(part)
	}
	// Sized once: a coverage report merges tens of thousands of counts.
	idx := make(map[key]int, n)
	out := make([]store.StatsCount, 0, n)
	for i, part := range parts {
		for _, c := range part {
			if i > 0 {
				c.N *= sign
			}
			k := key{c.AreaCode, c.BirthYear, c.Sex, c.Site, c.OperatorID, c.Category, c.Purpose, c.Decision, c.Week}
			if j, ok := idx[k]; ok {
				out[j].N += c.N
				continue
			}
			idx[k] = len(out)
			out = append(out, c)
		}
	}
	return slices.DeleteFunc(out, func(c store.StatsCount) bool { return c.N == 0 })
}

// additive reads an aggregate that is a plain sum over time: the whole days
// from table (grouped by cols, which are also its columns), the partial days
// by raw(lo, hi) on the rows. A partial day is read as its part inside the
// period, or as the whole day from table less its part outside the period,
// whichever is the shorter time: a period that ends now reads no row of its
// last day.
func additive(ctx context.Context, db DB, op string, s span, cols []string, table string, r rows,
	raw func(lo, hi int64) ([]store.StatsCount, error)) ([]store.StatsCount, error) {
	if !s.whole() {
		return raw(s.lo, s.hi)
	}
	d1, d2 := s.d1, s.d2
	var parts []part
	rawPart := func(lo, hi int64, sign int) error {
		if lo >= hi {
			return nil
		}
		r, err := raw(lo, hi)
		parts = append(parts, part{r, sign})
		return err
	}
	if in, out := s.d1*DayMS-s.lo, s.lo-(s.d1-1)*DayMS; in > 0 {
		if out < in {
			d1--
			if err := rawPart((s.d1-1)*DayMS, s.lo, -1); err != nil {
				return nil, err
			}
		} else if err := rawPart(s.lo, s.d1*DayMS, 1); err != nil {
			return nil, err
		}
	}
	if _, whole, err := s.roundOutIn(ctx, db, op, r); err != nil {
		return nil, err
	} else if s.hi > s.d2*DayMS {
		if whole {
			d2++
			if err := rawPart(s.hi, (s.d2+1)*DayMS, -1); err != nil {
				return nil, err
			}
		} else if err := rawPart(s.d2*DayMS, s.hi, 1); err != nil {
			return nil, err
		}
	}
	g := strings.Join(cols, ", ")
	mid, err := db.Counts(ctx, op, cols, `SELECT `+g+`, SUM(n) FROM `+table+` WHERE day >= ? AND day < ? GROUP BY `+g+` HAVING SUM(n) <> 0`, d1, d2)
	if err != nil {
		return nil, err
	}
	return sum(append(parts, part{mid, 1})...), nil
}

// CountRegistered: persons registered before p.To by area, birth year and
// sex. The totals of stats_registered less those registered since p.To when
// they are the fewer (a report up to now reads no person row), else the
// projection rows registered before p.To.
func CountRegistered(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count registered"
	cols := []string{"area_code", "birth_year", "sex"}
	to := ms(p.To)
	dT := floorDiv(to, DayMS)
	// Registered before the day of p.To less registered since.
	diff, err := db.Int(ctx, op, `SELECT COALESCE(SUM(CASE WHEN day < ? THEN n ELSE -n END), 0) FROM stats_registered_days`, dT)
	if err != nil {
		return nil, err
	}
	if diff < 0 {
		return db.Counts(ctx, op, cols, `SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats WHERE registered_at < ?
			GROUP BY area_code, birth_year, sex`, to)
	}
	total, err := db.Counts(ctx, op, cols, `SELECT area_code, birth_year, sex, n FROM stats_registered WHERE n <> 0`)
	if err != nil {
		return nil, err
	}
	since, err := db.Counts(ctx, op, cols, `SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats WHERE registered_at >= ?
		GROUP BY area_code, birth_year, sex`, to)
	if err != nil {
		return nil, err
	}
	return merge(-1, total, since), nil
}

// CountRegisteredPerWeek: persons registered in p by area and week.
func CountRegisteredPerWeek(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count registered per week"
	cols := []string{"area_code", "week"}
	raw := func(lo, hi int64) ([]store.StatsCount, error) {
		return db.Counts(ctx, op, cols, `SELECT area_code, (registered_at - 345600000) / 604800000 AS week, COUNT(*) FROM person_stats
			WHERE registered_at >= ? AND registered_at < ? GROUP BY area_code, (registered_at - 345600000) / 604800000`, lo, hi)
	}
	s := days(max(from(p), weekAnchor), ms(p.To))
	if !s.whole() {
		if s.lo >= s.hi {
			return nil, nil
		}
		return raw(s.lo, s.hi)
	}
	mid, err := db.Counts(ctx, op, cols, `SELECT area_code, (day - 4) / 7 AS week, SUM(n) FROM stats_registered_days
		WHERE day >= ? AND day < ? GROUP BY area_code, (day - 4) / 7 HAVING SUM(n) <> 0`, s.d1, s.d2)
	if err != nil {
		return nil, err
	}
	parts := [][]store.StatsCount{mid}
	for _, e := range s.edges() {
		r, err := raw(e[0], e[1])
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	return merge(1, parts...), nil
}

// CountCheckedUp: persons with at least one exam in p by area, birth year
// and sex. Whole days from the person-days of stats_checkups (each person
// once: the first of their days in the span), edge days from the exams of
// persons with no exam in the whole days.
func CountCheckedUp(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count checked up"
	cols := []string{"area_code", "birth_year", "sex"}
	s := days(from(p), ms(p.To))
	end, ok, err := s.roundOutIn(ctx, db, op, rows{"exams", "at"})
	if err != nil {
		return nil, err
	}
	if ok {
		// Up to the end of the last day, less the persons seen only after p.To.
		all, err := checkedUp(ctx, db, days(s.lo, end))
		if err != nil {
			return nil, err
		}
		less, err := db.Counts(ctx, op, cols, `SELECT s.area_code, s.birth_year, s.sex, COUNT(DISTINCT e.person_id) FROM exams e
			JOIN person_stats s ON s.person_id = e.person_id WHERE e.at >= ? AND e.at < ?
			AND NOT EXISTS (SELECT 1 FROM exams m WHERE m.person_id = e.person_id AND m.at >= ? AND m.at < ?)
			GROUP BY s.area_code, s.birth_year, s.sex`, s.hi, end, s.lo, s.hi)
		if err != nil {
			return nil, err
		}
		return sum(part{all, 1}, part{less, -1}), nil
	}
	return checkedUp(ctx, db, s)
}

func checkedUp(ctx context.Context, db DB, s span) ([]store.StatsCount, error) {
	const op = "count checked up"
	cols := []string{"area_code", "birth_year", "sex"}
	if !s.whole() {
		return db.Counts(ctx, op, cols, `SELECT s.area_code, s.birth_year, s.sex, COUNT(DISTINCT e.person_id) FROM exams e
			JOIN person_stats s ON s.person_id = e.person_id WHERE e.at >= ? AND e.at < ?
			GROUP BY s.area_code, s.birth_year, s.sex`, s.lo, s.hi)
	}
	mid, err := db.Counts(ctx, op, cols, `SELECT area_code, birth_year, sex, SUM(n) FROM stats_checkups
		WHERE day >= ? AND day < ? AND prev_day < ? GROUP BY area_code, birth_year, sex HAVING SUM(n) <> 0`, s.d1, s.d2, s.firstDay())
	if err != nil {
		return nil, err
	}
	edge, err := db.Counts(ctx, op, cols, `SELECT s.area_code, s.birth_year, s.sex, COUNT(DISTINCT e.person_id)
		FROM (SELECT person_id FROM exams WHERE at >= ? AND at < ? UNION ALL SELECT person_id FROM exams WHERE at >= ? AND at < ?) e
		JOIN person_stats s ON s.person_id = e.person_id
		WHERE NOT EXISTS (SELECT 1 FROM exams m WHERE m.person_id = e.person_id AND m.at >= ? AND m.at < ?)
		GROUP BY s.area_code, s.birth_year, s.sex`, s.lo, s.d1*DayMS, s.d2*DayMS, s.hi, s.d1*DayMS, s.d2*DayMS)
	if err != nil {
		return nil, err
	}
	return merge(1, mid, edge), nil
}

// CountEnrolled: persons holding a reference of a modality created before
// p.To, by area and modality: each person and modality counts on the day of
// its earliest reference.
func CountEnrolled(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count enrolled"
	cols := []string{"area_code", "category"}
	to := ms(p.To)
	dT := floorDiv(to, DayMS)
	// The earliest references of a day range [lo, hi).
	earliest := func(lo, hi int64) ([]store.StatsCount, error) {
		return db.Counts(ctx, op, cols, `SELECT s.area_code, b.category, COUNT(DISTINCT b.person_id) FROM biometrics b
			JOIN person_stats s ON s.person_id = b.person_id
			WHERE b.created_at >= ? AND b.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM biometrics o WHERE o.person_id = b.person_id AND o.category = b.category AND o.created_at < ?)
			GROUP BY s.area_code, b.category`, lo, hi, lo)
	}
	// The last partial day: its part before p.To, or the whole day less
	// its part after when that is shorter or holds nothing.
	var edge []store.StatsCount
	sign := 1
	_, out, err := days(to, to).roundOutIn(ctx, db, op, rows{"biometrics", "created_at"})
	if err != nil {
		return nil, err
	}
	if in := to - dT*DayMS; in > 0 && out {
		sign = -1
		if edge, err = earliest(to, (dT+1)*DayMS); err != nil {
			return nil, err
		}
		dT++
	} else if in > 0 {
		if edge, err = earliest(dT*DayMS, to); err != nil {
			return nil, err
		}
	}
	mid, err := db.Counts(ctx, op, cols, `SELECT area_code, category, SUM(n) FROM stats_enrolled WHERE day < ?
		GROUP BY area_code, category HAVING SUM(n) <> 0`, dT)
	if err != nil {
		return nil, err
	}
	return sum(part{mid, 1}, part{edge, sign}), nil
}

// CountAreaAnswers: consent answers recorded in p about persons in the
// projection, by their area, category, purpose and decision.
func CountAreaAnswers(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count area answers"
	cols := []string{"area_code", "category", "purpose", "decision"}
	return additive(ctx, db, op, days(from(p), ms(p.To)), cols, "stats_area_answers", rows{"consents", "at"}, func(lo, hi int64) ([]store.StatsCount, error) {
		return db.Counts(ctx, op, cols, `SELECT s.area_code, c.category, c.purpose, c.decision, COUNT(*) FROM consents c
			JOIN person_stats s ON s.person_id = c.person_id WHERE c.at >= ? AND c.at < ?
			GROUP BY s.area_code, c.category, c.purpose, c.decision`, lo, hi)
	})
}

// CountSiteAnswers: every consent answer recorded in p by site, operator,
// category, purpose and decision.
func CountSiteAnswers(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count site answers"
	cols := []string{"site", "operator_id", "category", "purpose", "decision"}
	return additive(ctx, db, op, days(from(p), ms(p.To)), cols, "stats_site_answers", rows{"consents", "at"}, func(lo, hi int64) ([]store.StatsCount, error) {
		return db.Counts(ctx, op, cols, `SELECT site, operator_id, category, purpose, decision, COUNT(*) FROM consents
			WHERE at >= ? AND at < ? GROUP BY site, operator_id, category, purpose, decision`, lo, hi)
	})
}

// CountEarlyWithdrawals reads the withdrawals of p (a partial index holds
// them; they are few) and their persons' registration.
func CountEarlyWithdrawals(ctx context.Context, db DB, p store.Period, within time.Duration) ([]store.StatsCount, error) {
	return db.Counts(ctx, "count early withdrawals", []string{"site"},
		`SELECT pe.site, COUNT(DISTINCT c.person_id) FROM consents c JOIN persons pe ON pe.id = c.person_id
		WHERE c.decision = 'withdrawn' AND c.at >= ? AND c.at < ? AND c.at - pe.created_at <= ? GROUP BY pe.site`,
		from(p), ms(p.To), within.Milliseconds())
}

// CountExclusions: exclusion events of p by site, modality and kind.
func CountExclusions(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count exclusions"
	return additive(ctx, db, op, days(from(p), ms(p.To)), []string{"site", "category", "kind"}, "stats_exclusions", rows{"exclusion_events", "at"},
		func(lo, hi int64) ([]store.StatsCount, error) {
			return db.Counts(ctx, op, []string{"site", "category", "kind"},
				`SELECT site, category, kind, COUNT(*) FROM exclusion_events WHERE at >= ? AND at < ? GROUP BY site, category, kind`, lo, hi)
		})
}

// CountCareWithoutBiometrics: by the exam's site, persons with an exam in p
// and no biometric reference at all; person-site-days as for check-ups.
func CountCareWithoutBiometrics(ctx context.Context, db DB, p store.Period) ([]store.StatsCount, error) {
	const op = "count care without biometrics"
	s := days(from(p), ms(p.To))
	end, ok, err := s.roundOutIn(ctx, db, op, rows{"exams", "at"})
	if err != nil {
		return nil, err
	}
	if ok {
		all, err := careWithoutBiometrics(ctx, db, days(s.lo, end))
		if err != nil {
			return nil, err
		}
		less, err := db.Counts(ctx, op, []string{"site"}, `SELECT e.site, COUNT(DISTINCT e.person_id) FROM exams e
			WHERE e.at >= ? AND e.at < ? AND NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = e.person_id)
			AND NOT EXISTS (SELECT 1 FROM exams m WHERE m.person_id = e.person_id AND m.site = e.site AND m.at >= ? AND m.at < ?)
			GROUP BY e.site`, s.hi, end, s.lo, s.hi)
		if err != nil {
			return nil, err
		}
		return sum(part{all, 1}, part{less, -1}), nil
	}
	return careWithoutBiometrics(ctx, db, s)
}

func careWithoutBiometrics(ctx context.Context, db DB, s span) ([]store.StatsCount, error) {
	const op = "count care without biometrics"
	cols := []string{"site"}
	if !s.whole() {
		return db.Counts(ctx, op, cols, `SELECT e.site, COUNT(DISTINCT e.person_id) FROM exams e
			WHERE e.at >= ? AND e.at < ? AND NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = e.person_id)
			GROUP BY e.site`, s.lo, s.hi)
	}
	mid, err := db.Counts(ctx, op, cols, `SELECT site, SUM(n) FROM stats_care_no_biometrics
		WHERE day >= ? AND day < ? AND prev_day < ? GROUP BY site HAVING SUM(n) <> 0`, s.d1, s.d2, s.firstDay())
	if err != nil {
		return nil, err
	}
	edge, err := db.Counts(ctx, op, cols, `SELECT e.site, COUNT(DISTINCT e.person_id)
		FROM (SELECT person_id, site FROM exams WHERE at >= ? AND at < ? UNION ALL SELECT person_id, site FROM exams WHERE at >= ? AND at < ?) e
		WHERE NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = e.person_id)
		AND NOT EXISTS (SELECT 1 FROM exams m WHERE m.person_id = e.person_id AND m.site = e.site AND m.at >= ? AND m.at < ?)
		GROUP BY e.site`, s.lo, s.d1*DayMS, s.d2*DayMS, s.hi, s.d1*DayMS, s.d2*DayMS)
	if err != nil {
		return nil, err
	}
	return merge(1, mid, edge), nil
}

// CountEstimated: persons registered before asOf whose birth date was
// estimated.
func CountEstimated(ctx context.Context, db DB, asOf time.Time) (int, error) {
	const op = "count estimated birth dates"
	to := ms(asOf)
	dT := floorDiv(to, DayMS)
	lo, hi, sign := dT*DayMS, to, int64(1)
	_, out, err := days(to, to).roundOutIn(ctx, db, op, rows{"person_stats", "registered_at"})
	if err != nil {
		return 0, err
	}
	if out { // the whole last day less its part after asOf
		lo, hi, sign = to, (dT+1)*DayMS, -1
		dT++
	}
	mid, err := db.Int(ctx, op, `SELECT COALESCE(SUM(n_estimated), 0) FROM stats_registered_days WHERE day < ?`, dT)
	if err != nil {
		return 0, err
	}
	edge, err := db.Int(ctx, op, `SELECT COUNT(*) FROM person_stats WHERE birth_estimated AND registered_at >= ? AND registered_at < ?`, lo, hi)
	return int(mid + sign*edge), err
}

// table is a count table and the query that recomputes it from the rows.
type table struct {
	name, cols, recompute string
}

// Tables are the count tables, each with the query that recomputes it from
// the rows (the migration's backfill runs the same queries).
var tables = []table{
	{"stats_registered", "area_code, birth_year, sex, n",
		`SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats GROUP BY area_code, birth_year, sex`},
	{"stats_registered_days", "day, area_code, n, n_estimated",
		`SELECT registered_at / 86400000, area_code, COUNT(*), SUM(CASE WHEN birth_estimated THEN 1 ELSE 0 END) FROM person_stats
		GROUP BY registered_at / 86400000, area_code`},
	{"stats_checkups", "day, prev_day, area_code, birth_year, sex, n",
		`SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = d.person_id AND e.at < d.day * 86400000) / 86400000, -1) AS prev_day,
			s.area_code, s.birth_year, s.sex, COUNT(*)
		FROM (SELECT DISTINCT person_id, at / 86400000 AS day FROM exams) d JOIN person_stats s ON s.person_id = d.person_id
		GROUP BY d.day, prev_day, s.area_code, s.birth_year, s.sex`},
	{"stats_enrolled", "day, area_code, category, n",
		`SELECT m.at / 86400000, s.area_code, m.category, COUNT(*)
		FROM (SELECT person_id, category, MIN(created_at) AS at FROM biometrics GROUP BY person_id, category) m
		JOIN person_stats s ON s.person_id = m.person_id GROUP BY m.at / 86400000, s.area_code, m.category`},
	{"stats_area_answers", "day, area_code, category, purpose, decision, n",
		`SELECT c.at / 86400000, s.area_code, c.category, c.purpose, c.decision, COUNT(*) FROM consents c
		JOIN person_stats s ON s.person_id = c.person_id GROUP BY c.at / 86400000, s.area_code, c.category, c.purpose, c.decision`},
	{"stats_site_answers", "day, site, operator_id, category, purpose, decision, n",
		`SELECT at / 86400000, site, operator_id, category, purpose, decision, COUNT(*) FROM consents
		GROUP BY at / 86400000, site, operator_id, category, purpose, decision`},
	{"stats_exclusions", "day, site, category, kind, n",
		`SELECT at / 86400000, site, category, kind, COUNT(*) FROM exclusion_events GROUP BY at / 86400000, site, category, kind`},
	{"stats_care_no_biometrics", "day, prev_day, site, n",
		`SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = d.person_id AND e.site = d.site AND e.at < d.day * 86400000) / 86400000, -1) AS prev_day,
			d.site, COUNT(*)
		FROM (SELECT DISTINCT person_id, site, at / 86400000 AS day FROM exams) d
		WHERE NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = d.person_id)
		GROUP BY d.day, prev_day, d.site`},
}

// Rebuild recomputes every count table from the rows and returns how many
// count rows differed (0 when the triggers kept them right). It reads and
// writes the whole projection: run it offline (assent report rebuild-counts).
func Rebuild(ctx context.Context, db DB) (int, error) {
	changed := 0
	for _, t := range tables {
		op := "rebuild " + t.name
		if err := db.Exec(ctx, op, `CREATE TEMP TABLE stats_fresh AS SELECT `+t.cols+` FROM `+t.name+` WHERE 1 = 0`); err != nil {
			return changed, err
		}
		if err := db.Exec(ctx, op, `INSERT INTO stats_fresh `+t.recompute); err != nil {
			return changed, err
		}
		n, err := db.Int(ctx, op, fmt.Sprintf(`SELECT COUNT(*) FROM (
			SELECT %[1]s FROM %[2]s WHERE n <> 0 EXCEPT SELECT * FROM stats_fresh) x`, t.cols, t.name))
		if err != nil {
			return changed, err
		}
		m, err := db.Int(ctx, op, fmt.Sprintf(`SELECT COUNT(*) FROM (
			SELECT * FROM stats_fresh EXCEPT SELECT %[1]s FROM %[2]s WHERE n <> 0) x`, t.cols, t.name))
		if err != nil {
			return changed, err
		}
		changed += int(n + m)
		for _, q := range []string{`DELETE FROM ` + t.name, `INSERT INTO ` + t.name + `(` + t.cols + `) SELECT * FROM stats_fresh`, `DROP TABLE stats_fresh`} {
			if err := db.Exec(ctx, op, q); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}
