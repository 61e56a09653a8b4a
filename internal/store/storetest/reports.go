package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

func sortCounts(cs []store.StatsCount) []store.StatsCount {
	key := func(c store.StatsCount) string {
		return strings.Join([]string{c.AreaCode, string(rune('0' + c.BirthYear%10)), c.Sex, c.Site, c.OperatorID, c.Category, c.Purpose, c.Decision}, "|")
	}
	slices.SortFunc(cs, func(a, b store.StatsCount) int {
		if a.BirthYear != b.BirthYear {
			return a.BirthYear - b.BirthYear
		}
		return strings.Compare(key(a), key(b))
	})
	return cs
}

func testAreas(t *testing.T, s store.Store) {
	ctx := context.Background()
	region := store.Area{Code: "R", Name: "Region", UpdatedAt: t0}
	district := store.Area{Code: "R.D1", Name: "District", ParentCode: "R", UpdatedAt: t0,
		Targets: []store.AreaTarget{{AgeBand: "0-11", Sex: "female", Target: 120}, {AgeBand: "0-11", Sex: "male", Target: 130}}}
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutArea(ctx, region); err != nil {
			return err
		}
		return tx.PutArea(ctx, district)
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetArea(ctx, "R.D1")
		if err != nil {
			return err
		}
		if d := cmp.Diff(district, got); d != "" {
			t.Errorf("get area (-want +got):\n%s", d)
		}
		all, err := tx.ListAreas(ctx)
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.Area{region, district}, all); d != "" {
			t.Errorf("list areas (-want +got):\n%s", d)
		}
		if _, err := tx.GetArea(ctx, "nowhere"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown area: got %v, want ErrNotFound", err)
		}
		return nil
	})
	// Putting again replaces name, parent and targets.
	district.Name, district.Targets = "District one", []store.AreaTarget{{AgeBand: "65+", Sex: "other", Target: 7}}
	update(t, s, func(tx store.Tx) error { return tx.PutArea(ctx, district) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetArea(ctx, "R.D1")
		if d := cmp.Diff(district, got); d != "" {
			t.Errorf("replaced area (-want +got):\n%s", d)
		}
		return err
	})
}

func testStatistics(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	update(t, s, func(tx store.Tx) error {
		for i, ps := range []store.PersonStats{
			{PersonID: "p1", AreaCode: "A", BirthYear: 1980, Sex: "female", Site: "s1", OperatorID: "o1", RegisteredAt: t0},
			{PersonID: "p2", AreaCode: "A", BirthYear: 1980, Sex: "female", Site: "s1", OperatorID: "o1", RegisteredAt: t0.Add(day)},
			{PersonID: "p3", AreaCode: "B", BirthYear: 2015, Sex: "male", Site: "s2", OperatorID: "o2", RegisteredAt: t0.Add(10 * day)},
		} {
			p := person(ps.PersonID)
			p.Site, p.CreatedAt = ps.Site, ps.RegisteredAt
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
			if err := tx.PutPersonStats(ctx, ps); err != nil {
				return err
			}
			if _, err := tx.AppendConsent(ctx, store.ConsentRecord{PersonID: ps.PersonID, Category: "iris", Purpose: "verification",
				Decision: []string{"granted", "declined", "granted"}[i], Method: "paper", NoticeVersion: "1", Language: "en",
				OperatorID: ps.OperatorID, Site: ps.Site, At: ps.RegisteredAt}); err != nil {
				return err
			}
		}
		// p1 withdraws within 30 days, p3 after 40.
		for _, w := range []struct {
			id string
			at time.Time
		}{{"p1", t0.Add(5 * day)}, {"p3", t0.Add(50 * day)}} {
			if _, err := tx.AppendConsent(ctx, store.ConsentRecord{PersonID: w.id, Category: "iris", Purpose: "verification",
				Decision: "withdrawn", Method: "portal", NoticeVersion: "1", Language: "en", At: w.at}); err != nil {
				return err
			}
		}
		if err := tx.AddExam(ctx, store.Exam{ID: "e1", PersonID: "p1", At: t0.Add(2 * day)}); err != nil {
			return err
		}
		if err := tx.AddExam(ctx, store.Exam{ID: "e2", PersonID: "p1", At: t0.Add(3 * day)}); err != nil {
			return err
		}
		for _, b := range []store.Biometric{
			{ReferenceID: "b1", PersonID: "p1", Category: "iris", Position: "left_eye", Format: "image", Purpose: "verification", TemplateSealed: []byte("x"), CreatedAt: t0},
			{ReferenceID: "b2", PersonID: "p1", Category: "iris", Position: "right_eye", Format: "image", Purpose: "verification", TemplateSealed: []byte("x"), CreatedAt: t0},
			{ReferenceID: "b3", PersonID: "p3", Category: "fingerprint", Position: "right_index", Format: "image", Purpose: "verification", TemplateSealed: []byte("x"), CreatedAt: t0.Add(10 * day)},
		} {
			if err := tx.AddBiometric(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	all := store.Period{To: t0.Add(100 * day)}
	view(t, s, func(tx store.Tx) error {
		reg, err := tx.CountRegistered(ctx, store.Period{To: t0.Add(5 * day)})
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{AreaCode: "A", BirthYear: 1980, Sex: "female", N: 2}}, sortCounts(reg)); d != "" {
			t.Errorf("registered before day 5 (-want +got):\n%s", d)
		}
		up, err := tx.CountCheckedUp(ctx, store.Period{From: t0.Add(day), To: t0.Add(5 * day)})
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{AreaCode: "A", BirthYear: 1980, Sex: "female", N: 1}}, sortCounts(up)); d != "" {
			t.Errorf("checked up (-want +got):\n%s", d)
		}
		en, err := tx.CountEnrolled(ctx, all)
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{AreaCode: "A", Category: "iris", N: 1}, {AreaCode: "B", Category: "fingerprint", N: 1}}, sortCounts(en)); d != "" {
			t.Errorf("enrolled (-want +got):\n%s", d)
		}
		ans, err := tx.CountAreaAnswers(ctx, store.Period{To: t0.Add(20 * day)})
		if err != nil {
			return err
		}
		want := []store.StatsCount{
			{AreaCode: "A", Category: "iris", Purpose: "verification", Decision: "declined", N: 1},
			{AreaCode: "A", Category: "iris", Purpose: "verification", Decision: "granted", N: 1},
			{AreaCode: "A", Category: "iris", Purpose: "verification", Decision: "withdrawn", N: 1},
			{AreaCode: "B", Category: "iris", Purpose: "verification", Decision: "granted", N: 1},
		}
		if d := cmp.Diff(want, sortCounts(ans)); d != "" {
			t.Errorf("area answers (-want +got):\n%s", d)
		}
		site, err := tx.CountSiteAnswers(ctx, store.Period{From: t0, To: t0.Add(2 * day)})
		if err != nil {
			return err
		}
		wantSite := []store.StatsCount{
			{Site: "s1", OperatorID: "o1", Category: "iris", Purpose: "verification", Decision: "declined", N: 1},
			{Site: "s1", OperatorID: "o1", Category: "iris", Purpose: "verification", Decision: "granted", N: 1},
		}
		if d := cmp.Diff(wantSite, sortCounts(site)); d != "" {
			t.Errorf("site answers (-want +got):\n%s", d)
		}
		early, err := tx.CountEarlyWithdrawals(ctx, all, 30*day)
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{Site: "s1", N: 1}}, sortCounts(early)); d != "" {
			t.Errorf("early withdrawals (-want +got):\n%s", d)
		}
		return nil
	})
	// Erasure deletes the projection; the early withdrawal still counts.
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0.Add(60*day)) })
	update(t, s, func(tx store.Tx) error { return tx.DeletePersonStats(ctx, "p3") })
	view(t, s, func(tx store.Tx) error {
		reg, err := tx.CountRegistered(ctx, all)
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{AreaCode: "A", BirthYear: 1980, Sex: "female", N: 1}}, sortCounts(reg)); d != "" {
			t.Errorf("registered after erasure (-want +got):\n%s", d)
		}
		early, err := tx.CountEarlyWithdrawals(ctx, all, 30*day)
		if d := cmp.Diff([]store.StatsCount{{Site: "s1", N: 1}}, sortCounts(early)); d != "" {
			t.Errorf("early withdrawals after erasure (-want +got):\n%s", d)
		}
		return err
	})
}

func testWeekly(t *testing.T, s store.Store) {
	ctx := context.Background()
	monday := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // a Monday
	update(t, s, func(tx store.Tx) error {
		for i, at := range []time.Time{monday, monday.Add(6*24*time.Hour + 23*time.Hour), monday.AddDate(0, 0, 7), monday.AddDate(0, 0, 15)} {
			if err := tx.PutPersonStats(ctx, store.PersonStats{PersonID: string(rune('a' + i)), AreaCode: "A", Sex: "female", RegisteredAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	w0 := int64(monday.Sub(time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)) / (7 * 24 * time.Hour))
	view(t, s, func(tx store.Tx) error {
		got, err := tx.CountRegisteredPerWeek(ctx, store.Period{From: monday, To: monday.AddDate(0, 0, 14)})
		want := []store.StatsCount{{AreaCode: "A", Week: w0, N: 2}, {AreaCode: "A", Week: w0 + 1, N: 1}}
		if d := cmp.Diff(want, got, cmpSortWeeks); d != "" {
			t.Errorf("weekly (-want +got):\n%s", d)
		}
		return err
	})
}

var cmpSortWeeks = cmp.Transformer("sortWeeks", func(in []store.StatsCount) []store.StatsCount {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b store.StatsCount) int { return int(a.Week - b.Week) })
	return out
})

func testExclusionAndQuality(t *testing.T, s store.Store) {
	ctx := context.Background()
	day := 24 * time.Hour
	update(t, s, func(tx store.Tx) error {
		for _, e := range []store.ExclusionEvent{
			{Site: "s1", Category: "fingerprint", Kind: store.ExclusionCaptureFailed, At: t0},
			{Site: "s1", Category: "fingerprint", Kind: store.ExclusionCaptureFailed, At: t0.Add(time.Hour)},
			{Site: "s1", Category: "iris", Kind: store.ExclusionNoMatch, At: t0},
			{Site: "s2", Category: "iris", Kind: store.ExclusionNotEnrolled, At: t0.Add(40 * day)},
		} {
			if err := tx.AddExclusionEvent(ctx, e); err != nil {
				return err
			}
		}
		// p1 (adult) heads h1; p2 (born 2015) heads h2; h3 has a member and no head.
		// p3 is a minor whose guardian p4 was erased; p1 had an exam and no biometric.
		people := []struct {
			id, hh, guardian string
			year             int
			estimated        bool
			at               time.Time
		}{{"p1", "h1", "", 1980, true, t0}, {"p2", "h2", "", 2015, false, t0}, {"p3", "h3", "p4", 2016, true, t0}, {"p4", "", "", 1970, true, t0},
			{"p5", "", "", 1990, true, t0.Add(40 * day)}} // p5: registered after the report's day
		for _, pp := range people {
			p := person(pp.id)
			p.HouseholdID, p.GuardianID = pp.hh, pp.guardian
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
			if err := tx.PutPersonStats(ctx, store.PersonStats{PersonID: pp.id, AreaCode: "A", BirthYear: pp.year, BirthEstimated: pp.estimated, Sex: "female", RegisteredAt: pp.at}); err != nil {
				return err
			}
		}
		for _, h := range []store.Household{{ID: "h1", AreaCode: "A", HeadID: "p1"}, {ID: "h2", AreaCode: "A", HeadID: "p2"}, {ID: "h3", AreaCode: "A"}} {
			h.CreatedAt, h.UpdatedAt = t0, t0
			if err := tx.CreateHousehold(ctx, h); err != nil {
				return err
			}
		}
		if err := tx.AddExam(ctx, store.Exam{ID: "e1", PersonID: "p1", Site: "s1", At: t0}); err != nil {
			return err
		}
		if err := tx.AddExam(ctx, store.Exam{ID: "e2", PersonID: "p2", Site: "s1", At: t0}); err != nil {
			return err
		}
		if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: "b1", PersonID: "p2", Category: "face", Position: "face", Format: "image", Purpose: "verification", TemplateSealed: []byte("x"), CreatedAt: t0}); err != nil {
			return err
		}
		if _, err := tx.OpenCase(ctx, store.Case{ID: "c1", Status: store.CaseOpen, PersonA: "p1", PersonB: "p2", Score: 5, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.OpenCase(ctx, store.Case{ID: "c2", Status: store.CaseOpen, PersonA: "p1", PersonB: "p3", Score: 5, CreatedAt: t0.Add(25 * day)})
		return err
	})
	view(t, s, func(tx store.Tx) error {
		q, err := tx.RegisterQuality(ctx, t0.Add(31*day), 18)
		if err != nil {
			return err
		}
		if q.EstimatedBirthDates != 3 { // p1, p3, p4; not p2 (exact), not p5 (later)
			t.Errorf("estimated birth dates before erasure and rectification = %d, want 3", q.EstimatedBirthDates)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p4", t0) })
	// p3's birth date is rectified to a known date: the projection is rewritten.
	update(t, s, func(tx store.Tx) error {
		return tx.PutPersonStats(ctx, store.PersonStats{PersonID: "p3", AreaCode: "A", BirthYear: 2016, Sex: "female", RegisteredAt: t0})
	})
	view(t, s, func(tx store.Tx) error {
		ex, err := tx.CountExclusions(ctx, store.Period{From: t0, To: t0.Add(day)})
		if err != nil {
			return err
		}
		want := []store.StatsCount{{Site: "s1", Category: "fingerprint", Decision: "capture_failed", N: 2}, {Site: "s1", Category: "iris", Decision: "no_match", N: 1}}
		if d := cmp.Diff(want, sortCounts(ex)); d != "" {
			t.Errorf("exclusions (-want +got):\n%s", d)
		}
		care, err := tx.CountCareWithoutBiometrics(ctx, store.Period{To: t0.Add(day)})
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.StatsCount{{Site: "s1", N: 1}}, care); d != "" {
			t.Errorf("care without biometrics (-want +got):\n%s", d)
		}
		q, err := tx.RegisterQuality(ctx, t0.Add(31*day), 18)
		if err != nil {
			return err
		}
		wantQ := store.RegisterQuality{HouseholdsWithoutHead: 1, HeadsUnderAge: 1, MinorsGuardianErased: 1, EstimatedBirthDates: 1, OpenCasesByAge: map[string]int{"0-6": 1, "30+": 1}}
		if d := cmp.Diff(wantQ, q); d != "" {
			t.Errorf("register quality (-want +got):\n%s", d)
		}
		return nil
	})
}
