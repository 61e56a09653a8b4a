package report

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchCoverageInput is a region of 10 districts of 10 areas with people
// spread over bands and sexes the way `assent bench report` spreads them.
func benchCoverageInput(people int) CoverageInput {
	rng := rand.New(rand.NewPCG(1, 2))
	in := CoverageInput{Areas: []Area{{Code: "R"}}}
	var leaves []string
	for d := range 10 {
		dc := fmt.Sprint("R-D", d)
		in.Areas = append(in.Areas, Area{Code: dc, Parent: "R"})
		for a := range 10 {
			ac := fmt.Sprint(dc, "-A", a)
			in.Areas = append(in.Areas, Area{Code: ac, Parent: dc})
			leaves = append(leaves, ac)
		}
	}
	agg := map[[3]any]int{}
	for range people {
		agg[[3]any{leaves[rng.IntN(len(leaves))], 2026 - rng.IntN(90), Sexes[rng.IntN(len(Sexes))]}]++
	}
	for k, n := range agg {
		in.Registered = append(in.Registered, Count{AreaCode: k[0].(string), BirthYear: k[1].(int), Sex: k[2].(string), N: n})
	}
	return in
}

func BenchmarkCoverage20k(b *testing.B) {
	in := benchCoverageInput(20000)
	p := Params{Area: "R", To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	for b.Loop() {
		if _, err := BuildCoverage(in, p); err != nil {
			b.Fatal(err)
		}
	}
}
