package fingerprint

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// ASSENT_FP_TEX=stage=1,r=20,p=1,rel=1,kind=0,floor=0 switches the texture
// weights on for the exploratory harness (texture.go).
func init() {
	v := os.Getenv("ASSENT_FP_TEX")
	if v == "" {
		return
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			panic("ASSENT_FP_TEX: " + kv)
		}
		switch k {
		case "stage":
			texStage = int(f)
		case "r":
			texParams.r = f
		case "p":
			texParams.p = f
		case "rel":
			texParams.rel = f != 0
		case "kind":
			texParams.kind = int(f)
		case "c":
			texParams.c = f
		case "floor":
			texParams.floor = f
		default:
			panic("ASSENT_FP_TEX: " + kv)
		}
	}
}

func texApply(ts []*Template) {
	if texStage == 0 {
		return
	}
	for _, t := range ts {
		if t != nil {
			t.cyl.tex = texWeights(&t.cyl, t.Minutiae)
		}
	}
}

// TestTexStats prints, per set, the quartiles of the texture count of the
// templates' minutiae (texParams; kind 2 needs ASSENT_FP_FRESH=1).
func TestTexStats(t *testing.T) {
	es := exploreLoad(t, os.Getenv("ASSENT_FP_FRESH") != "")
	for _, e := range es {
		var cnt []float64
		for _, tp := range e.ts {
			if tp == nil {
				continue
			}
			save := texParams.rel
			texParams.rel = false
			p := texParams.p
			texParams.p = -1 // weight = 1 + count
			w := texWeights(&tp.cyl, tp.Minutiae)
			texParams.rel, texParams.p = save, p
			for _, x := range w {
				cnt = append(cnt, float64(x)-1)
			}
		}
		t.Logf("%-16s n %5d count q25 %.0f q50 %.0f q75 %.0f q90 %.0f", e.dir, len(cnt), q(cnt, .25), q(cnt, .5), q(cnt, .75), q(cnt, .9))
	}
}

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
