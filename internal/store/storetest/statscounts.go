package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// countsModel is what the random sequence wrote, as the aggregates'
// definitions (store.Statistics) read it: the expected answer of every
// Count* is computed from it in Go.
type countsModel struct {
	stats    map[string]store.PersonStats
	consents []store.ConsentRecord
	exams    []store.Exam
	bios     []store.Biometric
	events   []store.ExclusionEvent
	erased   map[string]bool
}

func msIn(lo, hi time.Time, at time.Time) bool { return !at.Before(lo) && at.Before(hi) }

func (m *countsModel) registered(p store.Period) []store.StatsCount {
	var out []store.StatsCount
	for _, s := range m.stats {
		if s.RegisteredAt.Before(p.To) {
			out = append(out, store.StatsCount{AreaCode: s.AreaCode, BirthYear: s.BirthYear, Sex: s.Sex, N: 1})
		}
	}
	return out
}

func (m *countsModel) weekly(p store.Period) []store.StatsCount {
	anchor := time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)
	lo := p.From
	if lo.Before(anchor) {
		lo = anchor
	}
	var out []store.StatsCount
	for _, s := range m.stats {
		if msIn(lo, p.To, s.RegisteredAt) {
			out = append(out, store.StatsCount{AreaCode: s.AreaCode, Week: int64(s.RegisteredAt.Sub(anchor) / (7 * 24 * time.Hour)), N: 1})
		}
	}
	return out
}

func (m *countsModel) checkedUp(p store.Period) []store.StatsCount {
	seen := map[string]bool{}
	var out []store.StatsCount
	for _, e := range m.exams {
		s, ok := m.stats[e.PersonID]
		if !ok || seen[e.PersonID] || !msIn(p.From, p.To, e.At) {
			continue
		}
		seen[e.PersonID] = true
		out = append(out, store.StatsCount{AreaCode: s.AreaCode, BirthYear: s.BirthYear, Sex: s.Sex, N: 1})
	}
	return out
}

func (m *countsModel) enrolled(p store.Period) []store.StatsCount {
	seen := map[[2]string]bool{}
	var out []store.StatsCount
	for _, b := range m.bios {
		s, ok := m.stats[b.PersonID]
		k := [2]string{b.PersonID, b.Category}
		if !ok || seen[k] || !b.CreatedAt.Before(p.To) {
			continue
		}
		seen[k] = true
		out = append(out, store.StatsCount{AreaCode: s.AreaCode, Category: b.Category, N: 1})
	}
	return out
}

func (m *countsModel) areaAnswers(p store.Period) []store.StatsCount {
	var out []store.StatsCount
	for _, c := range m.consents {
		if s, ok := m.stats[c.PersonID]; ok && msIn(p.From, p.To, c.At) {
			out = append(out, store.StatsCount{AreaCode: s.AreaCode, Category: c.Category, Purpose: c.Purpose, Decision: c.Decision, N: 1})
		}
	}
	return out
}

func (m *countsModel) siteAnswers(p store.Period) []store.StatsCount {
	var out []store.StatsCount
	for _, c := range m.consents {
		if msIn(p.From, p.To, c.At) {
			out = append(out, store.StatsCount{Site: c.Site, OperatorID: c.OperatorID, Category: c.Category, Purpose: c.Purpose, Decision: c.Decision, N: 1})
		}
	}
	return out
}

func (m *countsModel) exclusions(p store.Period) []store.StatsCount {
	var out []store.StatsCount
	for _, e := range m.events {
		if msIn(p.From, p.To, e.At) {
			out = append(out, store.StatsCount{Site: e.Site, Category: e.Category, Decision: e.Kind, N: 1})
		}
	}
	return out
}

func (m *countsModel) careWithoutBiometrics(p store.Period) []store.StatsCount {
	withBio := map[string]bool{}
	for _, b := range m.bios {
		withBio[b.PersonID] = true
	}
	seen := map[[2]string]bool{}
	var out []store.StatsCount
	for _, e := range m.exams {
		k := [2]string{e.PersonID, e.Site}
		if withBio[e.PersonID] || seen[k] || !msIn(p.From, p.To, e.At) {
			continue
		}
		seen[k] = true
		out = append(out, store.StatsCount{Site: e.Site, N: 1})
	}
	return out
}

func (m *countsModel) estimated(asOf time.Time) int {
	n := 0
	for _, s := range m.stats {
		if s.BirthEstimated && s.RegisteredAt.Before(asOf) {
			n++
		}
	}
	return n
}

// canonical sums counts by every grouping field and sorts them.
func canonical(cs []store.StatsCount) []store.StatsCount {
	sum := map[string]store.StatsCount{}
	for _, c := range cs {
		n := c.N
		c.N = 0
		k := fmt.Sprintf("%+v", c)
		c.N = sum[k].N + n
		sum[k] = c
	}
	keys := make([]string, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []store.StatsCount{}
	for _, k := range keys {
		if sum[k].N != 0 {
			out = append(out, sum[k])
		}
	}
	return out
}

// testStatsCountsRandom writes a random sequence of registrations,
// rectifications, consent answers, check-ups, biometric references and
// their deletion, exclusion events, merges and erasures, at random
// milliseconds over a few days (several on one day), then checks that the
// count tables equal their recomputation (RebuildStatsCounts changes
// nothing) and that every aggregate, for random periods with partial days,
// equals its definition computed from what was written.
func testStatsCountsRandom(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(14, uint64(time.Now().UnixNano())))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func() time.Time {
		return base.Add(time.Duration(rng.Int64N(int64(6*24*time.Hour))) / time.Millisecond * time.Millisecond)
	}
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	m := &countsModel{stats: map[string]store.PersonStats{}, erased: map[string]bool{}}
	var ids []string
	seq := 0
	for step := 0; step < 1000; step++ {
		seq++
		update(t, s, func(tx store.Tx) error {
			live := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return m.erased[id] })
			op := rng.IntN(12)
			if len(live) == 0 || op == 0 {
				id := fmt.Sprintf("rp%d", seq)
				p := person(id)
				p.LookupIndex = []byte(id)
				if err := tx.CreatePerson(ctx, p); err != nil {
					return err
				}
				ids = append(ids, id)
				if rng.IntN(5) > 0 {
					ps := store.PersonStats{PersonID: id, AreaCode: pick("A", "B"), BirthYear: []int{0, 1980, 2012}[rng.IntN(3)],
						BirthEstimated: rng.IntN(2) == 0, Sex: pick("female", "male"), Site: "s1", OperatorID: "o1", RegisteredAt: at()}
					m.stats[id] = ps
					return tx.PutPersonStats(ctx, ps)
				}
				return nil
			}
			id := live[rng.IntN(len(live))]
			switch op {
			case 1: // rectification or a late projection
				ps, ok := m.stats[id]
				if !ok {
					ps = store.PersonStats{PersonID: id, Site: "s2", OperatorID: "o2", RegisteredAt: at()}
				}
				ps.AreaCode, ps.BirthYear, ps.Sex, ps.BirthEstimated = pick("A", "B", "C"), []int{0, 1980, 2012}[rng.IntN(3)], pick("female", "other"), rng.IntN(2) == 0
				m.stats[id] = ps
				return tx.PutPersonStats(ctx, ps)
			case 2, 3:
				c := store.ConsentRecord{PersonID: id, Category: pick("iris", "face"), Purpose: "verification", Decision: pick("granted", "declined", "withdrawn"),
					Method: "paper", NoticeVersion: "1", Language: "en", OperatorID: pick("o1", "o2"), Site: pick("s1", "s2"), At: at()}
				m.consents = append(m.consents, c)
				_, err := tx.AppendConsent(ctx, c)
				return err
			case 4, 5:
				e := store.Exam{ID: fmt.Sprintf("re%d", seq), PersonID: id, Site: pick("s1", "s2"), At: at()}
				m.exams = append(m.exams, e)
				return tx.AddExam(ctx, e)
			case 6:
				b := store.Biometric{ReferenceID: fmt.Sprintf("rb%d", seq), PersonID: id, Category: pick("iris", "face"), Position: "face", Format: "image",
					Purpose: "verification", TemplateSealed: []byte("x"), CreatedAt: at()}
				if len(m.bios) > 0 && rng.IntN(2) == 0 { // the same time as another reference: ties
					b.CreatedAt = m.bios[rng.IntN(len(m.bios))].CreatedAt
				}
				m.bios = append(m.bios, b)
				return tx.AddBiometric(ctx, b)
			case 7:
				cat := pick("", "iris", "face")
				m.bios = slices.DeleteFunc(m.bios, func(b store.Biometric) bool { return b.PersonID == id && (cat == "" || b.Category == cat) })
				return tx.DeleteBiometrics(ctx, id, cat)
			case 8:
				m.exams = slices.DeleteFunc(m.exams, func(e store.Exam) bool { return e.PersonID == id })
				return tx.DeleteExamCategory(ctx, id, "health")
			case 9:
				e := store.ExclusionEvent{Site: pick("s1", "s2"), Category: pick("iris", "face"), Kind: pick(store.ExclusionCaptureFailed, store.ExclusionNoMatch), At: at()}
				m.events = append(m.events, e)
				return tx.AddExclusionEvent(ctx, e)
			case 10: // merged into another: no projection
				delete(m.stats, id)
				return tx.DeletePersonStats(ctx, id)
			default: // erasure
				if rng.IntN(3) > 0 {
					return nil
				}
				m.erased[id] = true
				delete(m.stats, id)
				m.exams = slices.DeleteFunc(m.exams, func(e store.Exam) bool { return e.PersonID == id })
				m.bios = slices.DeleteFunc(m.bios, func(b store.Biometric) bool { return b.PersonID == id })
				return tx.ErasePerson(ctx, id, base)
			}
		})
	}
	check := func(when string) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			for i := 0; i < 40; i++ {
				lo, hi := at(), at()
				if hi.Before(lo) {
					lo, hi = hi, lo
				}
				switch i % 4 {
				case 0:
					lo = time.Time{} // since the start
				case 1:
					lo, hi = lo.Truncate(24*time.Hour), hi.Truncate(24*time.Hour).Add(24*time.Hour) // whole days
				case 2:
					hi = lo.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))) // about a day
				}
				p := store.Period{From: lo, To: hi}
				for _, a := range []struct {
					name string
					got  func() ([]store.StatsCount, error)
					want []store.StatsCount
				}{
					{"registered", func() ([]store.StatsCount, error) { return tx.CountRegistered(ctx, p) }, m.registered(p)},
					{"weekly", func() ([]store.StatsCount, error) { return tx.CountRegisteredPerWeek(ctx, p) }, m.weekly(p)},
					{"checked up", func() ([]store.StatsCount, error) { return tx.CountCheckedUp(ctx, p) }, m.checkedUp(p)},
					{"enrolled", func() ([]store.StatsCount, error) { return tx.CountEnrolled(ctx, p) }, m.enrolled(p)},
					{"area answers", func() ([]store.StatsCount, error) { return tx.CountAreaAnswers(ctx, p) }, m.areaAnswers(p)},
					{"site answers", func() ([]store.StatsCount, error) { return tx.CountSiteAnswers(ctx, p) }, m.siteAnswers(p)},
					{"exclusions", func() ([]store.StatsCount, error) { return tx.CountExclusions(ctx, p) }, m.exclusions(p)},
					{"care without biometrics", func() ([]store.StatsCount, error) { return tx.CountCareWithoutBiometrics(ctx, p) }, m.careWithoutBiometrics(p)},
				} {
					got, err := a.got()
					if err != nil {
						return err
					}
					if d := cmp.Diff(canonical(a.want), canonical(got)); d != "" {
						t.Errorf("%s: %s over [%v, %v) (-want +got):\n%s", when, a.name, lo, hi, d)
					}
				}
				q, err := tx.RegisterQuality(ctx, hi, 18)
				if err != nil {
					return err
				}
				if want := m.estimated(hi); q.EstimatedBirthDates != want {
					t.Errorf("%s: estimated birth dates before %v = %d, want %d", when, hi, q.EstimatedBirthDates, want)
				}
			}
			return nil
		})
	}
	check("kept by the database")
	var changed int
	update(t, s, func(tx store.Tx) error {
		var err error
		changed, err = tx.RebuildStatsCounts(ctx)
		return err
	})
	if changed != 0 {
		t.Errorf("rebuilding the counts changed %d count rows: the counts kept with the writes differ from their recomputation", changed)
	}
	check("rebuilt")
}
