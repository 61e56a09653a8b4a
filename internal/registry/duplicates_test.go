package registry

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSortDuplicatesIsATotalOrder: whatever order the galleries answer in,
// the capture lists duplicates the same way: highest score first, ties by
// person id.
func TestSortDuplicatesIsATotalOrder(t *testing.T) {
	want := []Duplicate{
		{PersonID: "p5", Score: 9.5}, {PersonID: "p1", Score: 7}, {PersonID: "p2", Score: 7},
		{PersonID: "p3", Score: 7}, {PersonID: "p4", Score: 3.25},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		got := slices.Clone(want)
		rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		sortDuplicates(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("sortDuplicates (-want +got):\n%s", d)
		}
	}
}
