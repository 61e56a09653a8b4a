package report

import (
	"math"
	"testing"
	"time"
)

func TestBinomialCDF(t *testing.T) {
	for _, tc := range []struct {
		x, n int
		p    float64
		want float64
	}{
		{0, 10, 0.5, 1.0 / 1024},
		{1, 10, 0.5, 11.0 / 1024},
		{10, 10, 0.3, 1},
		{0, 50, 0.2, math.Pow(0.8, 50)},
		{2, 5, 0.1, 0.99144},
	} {
		if got := BinomialCDF(tc.x, tc.n, tc.p); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("P(X <= %d | %d, %g) = %g, want %g", tc.x, tc.n, tc.p, got, tc.want)
		}
	}
}

// TestIntegrityFlags: programme decline rate 20 %; site a never declines in
// 40 answers (flagged no_declines), site b declines 1 in 60 (p about 0.0002,
// flagged improbably_few), site c declines at the programme rate, site d has
// too few answers to test; operators are tested like sites.
func TestIntegrityFlags(t *testing.T) {
	ans := func(site, op, d string, n int) Count {
		return Count{Site: site, OperatorID: op, Category: "fingerprint", Purpose: "verification", Decision: d, N: n}
	}
	in := IntegrityInput{Answers: []Count{
		ans("a", "a1", "granted", 40),
		ans("b", "b1", "granted", 59), ans("b", "b1", "declined", 1),
		ans("c", "c1", "granted", 300), ans("c", "c1", "declined", 90),
		ans("d", "d1", "granted", 12),
	}}
	r, err := BuildIntegrity(in, IntegrityParams{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range r.Sites {
		got[s.SiteCode] = s.FlagReason
	}
	want := map[string]string{"a": "no_declines", "b": "improbably_few_declines", "c": "", "d": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("site %s: flag %q, want %q (all %v)", k, got[k], v, got)
		}
	}
	for _, o := range r.Operators {
		if o.SiteCode == "a" && !o.Flagged {
			t.Errorf("operator of site a not flagged")
		}
	}
	// b's single decline is under k: suppressed with a complement, yet flagged.
	for _, s := range r.Sites {
		if s.SiteCode == "b" && (s.Declined != nil || !s.Suppressed) {
			t.Errorf("site b: declined %v published", *s.Declined)
		}
	}
}

// TestCoverageAboveTarget: coverage above 100 % is shown, not capped, and a
// parent's target is the sum of its children's.
func TestCoverageAboveTarget(t *testing.T) {
	tg := func(n int) map[[2]string]int { return map[[2]string]int{{"18-64", "female"}: n} }
	in := CoverageInput{
		Areas:      []Area{{Code: "R"}, {Code: "A", Parent: "R", Targets: tg(20)}, {Code: "B", Parent: "R", Targets: tg(30)}},
		Registered: []Count{{AreaCode: "A", BirthYear: 1990, Sex: "female", N: 25}, {AreaCode: "B", BirthYear: 1990, Sex: "female", N: 15}},
	}
	c, err := BuildCoverage(in, Params{Area: "R", To: mustDate("2026-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range c.Cells {
		if cell.AgeBand != "18-64" || cell.Sex != "female" {
			continue
		}
		want := map[string][3]float64{"R": {50, 40, 0.8}, "A": {20, 25, 1.25}, "B": {30, 15, 0.5}}[cell.AreaCode]
		if cell.Suppressed || float64(*cell.Target) != want[0] || float64(*cell.Registered) != want[1] || *cell.Coverage != want[2] {
			t.Errorf("%s: %+v, want target %v registered %v coverage %v", cell.AreaCode, cell, want[0], want[1], want[2])
		}
	}
}

func mustDate(s string) (t time.Time) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}
