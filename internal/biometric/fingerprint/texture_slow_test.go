package fingerprint

import (
	"os"
	"testing"
)

// TestTexCylinders prints, per set, the mean and largest number of
// cylinders a template holds and how many templates hold more than 64.
func TestTexCylinders(t *testing.T) {
	for _, e := range exploreLoad(t, os.Getenv("ASSENT_FP_FRESH") != "") {
		n, sum, mx, over := 0, 0, 0, 0
		for _, tp := range e.ts {
			if tp == nil {
				continue
			}
			c := tp.cyl.n()
			n, sum, mx = n+1, sum+c, max(mx, c)
			if c > 64 {
				over++
			}
		}
		t.Logf("%-16s templates %d cylinders mean %.1f max %d, over 64: %d", e.dir, n, float64(sum)/float64(max(n, 1)), mx, over)
	}
}
