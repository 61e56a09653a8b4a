package fingerprint

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func init() {
	if v := os.Getenv("ASSENT_FP_CONSOL"); v != "" {
		consolidation, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("ASSENT_FP_STRIPE"); v != "" {
		// frac,tol,minlen,mode
		var x [4]float64
		for i, p := range strings.Split(v, ",") {
			x[i], _ = strconv.ParseFloat(p, 64)
		}
		stripeFrac, stripeTolDeg, stripeMinLen, stripeMode = x[0], x[1], int(x[2]), int(x[3])
	}
	if v := os.Getenv("ASSENT_FP_QUAL"); v != "" {
		// mode,pow
		p := strings.Split(v, ",")
		qualMode, _ = strconv.Atoi(p[0])
		qualPow, _ = strconv.ParseFloat(p[1], 64)
		qualCap = len(p) > 2
	}
	if v := os.Getenv("ASSENT_FP_DIST"); v != "" {
		distPow, _ = strconv.ParseFloat(v, 64)
	}
	if v := os.Getenv("ASSENT_FP_BS"); v != "" {
		p := strings.Split(v, ",")
		bsCoh, _ = strconv.ParseFloat(p[0], 64)
		bsTolDeg, _ = strconv.ParseFloat(p[1], 64)
		bsContrast, _ = strconv.ParseFloat(p[2], 64)
	}
	lsaTau = os.Getenv("ASSENT_FP_LSATAU") != ""
	if v := os.Getenv("ASSENT_FP_LSAPOW"); v != "" {
		lsaPow, _ = strconv.ParseFloat(v, 64)
	}
}

// TestLSACost times the 1:1 comparisons of one set with each pair choice.
func TestLSACost(t *testing.T) {
	es := exploreLoad(t, false)
	e := es[0]
	var s scratch
	for _, mode := range []int{0, 1, 2, 3} {
		consolidation = mode
		start := time.Now()
		n := 0
		for i := range e.ts {
			for j := i + 1; j < len(e.ts); j++ {
				if e.ts[i] != nil && e.ts[j] != nil {
					match(&e.ts[i].cyl, &e.ts[j].cyl, &s)
					n++
				}
			}
		}
		t.Logf("mode %d: %d comparisons, %.1f us each", mode, n, float64(time.Since(start).Microseconds())/float64(n))
	}
	consolidation = 0
}
