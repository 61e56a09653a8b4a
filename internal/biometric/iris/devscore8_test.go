package iris

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Eighth round of issue 17 (docs/iris.md): where CASIA-IrisV1's
// out-of-sample errors are, on the TestDevCache templates.

// devShipped returns every pair's shipped distance (2 for a non-match).
func devShipped(ps *devPairSet) (gen, imp []float64) {
	dist := func(i, j int32, z float32) float64 {
		if math.IsNaN(float64(z)) {
			return 2
		}
		n := pairNorm(DefaultNormBits, ps.feat[i].Q, ps.feat[j].Q)
		return min(max(0.5-float64(z)/math.Sqrt(n), 0), 1)
	}
	gen = make([]float64, len(ps.gz))
	for k := range gen {
		gen[k] = dist(ps.gi[k], ps.gj[k], ps.gz[k])
	}
	imp = make([]float64, len(ps.iz))
	for k := range imp {
		imp[k] = dist(ps.ii[k], ps.ij[k], ps.iz[k])
	}
	return gen, imp
}

// TestDevWhere8 lists, for each cached set at the threshold
// ASSENT_IRIS_DEV_THR (default 0.4058, IITD's EER threshold), the genuine
// pairs above it and the templates that carry the impostor pairs at or
// under it: how many pairs each, its usable bits and S, and how many
// impostor pairs remain when the worst templates are taken out.
func TestDevWhere8(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	thr := 0.4058
	if s := os.Getenv("ASSENT_IRIS_DEV_THR"); s != "" {
		thr, _ = strconv.ParseFloat(s, 64)
	}
	names := []string{"casia"}
	if os.Getenv("ASSENT_IRIS_DEV_IITD") != "" {
		names = append(names, "iitd")
	}
	for _, name := range names {
		ps := devPairsZ(t, name, cache, "")
		gen, imp := devShipped(ps)
		P := ps.set.Paths
		var ng int
		for k, d := range gen {
			if d > thr {
				ng++
				i, j := ps.gi[k], ps.gj[k]
				t.Logf("GEN %s %s~%s %.4f bits %.0f/%.0f S %.2f/%.2f", name, P[i], P[j], d, ps.feat[i].Bits, ps.feat[j].Bits, ps.feat[i].S, ps.feat[j].S)
			}
		}
		cnt := make([]int, len(P))
		var tail []int
		for k, d := range imp {
			if d <= thr {
				tail = append(tail, k)
				cnt[ps.ii[k]]++
				cnt[ps.ij[k]]++
			}
		}
		t.Logf("WHERE %s thr %.4f: genuine above %d of %d; impostor at or under %d of %d (%.3f %%)", name, thr, ng, len(gen), len(tail), len(imp), 100*float64(len(tail))/float64(len(imp)))
		order := make([]int, len(P))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cnt[b] - cnt[a] })
		var bitsAll, sAll, nAll float64
		for i, f := range ps.feat {
			if ps.ok[i] {
				bitsAll += f.Bits
				sAll += f.S
				nAll++
			}
		}
		t.Logf("WHERE %s all templates: bits %.0f S %.3f", name, bitsAll/nAll, sAll/nAll)
		if img := os.Getenv("ASSENT_IRIS_DEV_IMAGE"); img != "" {
			for i, p := range P {
				if !strings.Contains(p, img) {
					continue
				}
				low, gmax := 2.0, 0.0
				for k, d := range imp {
					if int(ps.ii[k]) == i || int(ps.ij[k]) == i {
						low = min(low, d)
					}
				}
				for k, d := range gen {
					if int(ps.gi[k]) == i || int(ps.gj[k]) == i {
						gmax = max(gmax, d)
					}
				}
				t.Logf("IMAGE %s %s: %d impostor pairs at or under %.4f, lowest impostor %.4f, worst genuine %.4f, bits %.0f S %.3f", name, p, cnt[i], thr, low, gmax, ps.feat[i].Bits, ps.feat[i].S)
			}
		}
		for r := range 30 {
			i := order[r]
			f := ps.feat[i]
			t.Logf("TOP %s %d %s: %d pairs, bits %.0f S %.3f", name, r, P[i], cnt[i], f.Bits, f.S)
		}
		// Greedy removal: pairs left after the worst n templates are out.
		out := make([]bool, len(P))
		left := len(tail)
		c2 := slices.Clone(cnt)
		for n := 1; n <= 40; n++ {
			b := -1
			for i := range c2 {
				if !out[i] && (b < 0 || c2[i] > c2[b]) {
					b = i
				}
			}
			out[b] = true
			for _, k := range tail {
				i, j := int(ps.ii[k]), int(ps.ij[k])
				if (i == b && !out[j]) || (j == b && !out[i]) {
					left--
					c2[i]--
					c2[j]--
				}
			}
			if n%5 == 0 || n <= 5 {
				t.Logf("REMOVE %s %d templates (last %s): %d impostor pairs left", name, n, P[b], left)
			}
		}
		// Per eye.
		ec := map[string]int{}
		for _, k := range tail {
			ec[ps.set.Eyes[ps.set.Eye[ps.ii[k]]]]++
			ec[ps.set.Eyes[ps.set.Eye[ps.ij[k]]]]++
		}
		type kv struct {
			k string
			v int
		}
		var es []kv
		for k, v := range ec {
			es = append(es, kv{k, v})
		}
		slices.SortFunc(es, func(a, b kv) int { return b.v - a.v })
		for r := range min(15, len(es)) {
			t.Logf("EYE %s %s: %d", name, es[r].k, es[r].v)
		}
	}
}

// devBest returns the best shift of b against a (shipped distance) and,
// at it, the disagreeing and compared bits per sector (8 of 32 columns)
// and row.
func devBest(a, b *Template) (shift int, diff, n [8][8]int) {
	w := a.words()
	rc, rm := make([]uint64, w), make([]uint64, w)
	best := math.Inf(1)
	for s := -DefaultRotations; s <= DefaultRotations; s++ {
		rotate(rc, b.Code, b.Rows, b.Cols, s)
		rotate(rm, b.Mask, b.Rows, b.Cols, s)
		var d, m int
		for i := range w {
			mk := a.Mask[i] & rm[i]
			d += popcount((a.Code[i] ^ rc[i]) & mk)
			m += popcount(mk)
		}
		if m < DefaultMinBits {
			continue
		}
		if x := (float64(m)/2 - float64(d)) / math.Sqrt(float64(m)); -x < best {
			best, shift = -x, s
		}
	}
	rotate(rc, b.Code, b.Rows, b.Cols, shift)
	rotate(rm, b.Mask, b.Rows, b.Cols, shift)
	for bit := range 64 * w {
		if (a.Mask[bit>>6]&rm[bit>>6])>>(bit&63)&1 == 0 {
			continue
		}
		col, row := bit/2/a.Rows, bit/2%a.Rows
		sec := col * 8 / a.Cols
		n[sec][row]++
		if (a.Code[bit>>6]^rc[bit>>6])>>(bit&63)&1 == 1 {
			diff[sec][row]++
		}
	}
	return shift, diff, n
}

// TestDevSectors8: where in the code (sector of the angle, row) the
// impostor pairs at or under the threshold agree, against a sample of all
// impostor pairs, and at which shift.
func TestDevSectors8(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	thr := 0.4058
	name := "casia"
	if s := os.Getenv("ASSENT_IRIS_DEV_SET"); s != "" {
		name = s
	}
	ps := devPairsZ(t, name, cache, "")
	_, ts := loadDevSet(t, filepath.Join(cache, name+".gob"))
	gen, imp := devShipped(ps)
	type acc struct {
		d, n   [8][8]int
		shifts [2*DefaultRotations + 1]int
		pairs  int
	}
	add := func(a *acc, i, j int32) {
		s, d, n := devBest(ts[i], ts[j])
		for x := range 8 {
			for y := range 8 {
				a.d[x][y] += d[x][y]
				a.n[x][y] += n[x][y]
			}
		}
		a.shifts[s+DefaultRotations]++
		a.pairs++
	}
	var tail, all, gtail acc
	for k, x := range imp {
		if x <= thr {
			add(&tail, ps.ii[k], ps.ij[k])
		}
		if k%97 == 0 && x < 1 {
			add(&all, ps.ii[k], ps.ij[k])
		}
	}
	for k, x := range gen {
		if x < 1 {
			add(&gtail, ps.gi[k], ps.gj[k])
		}
	}
	for _, a := range []struct {
		name string
		a    *acc
	}{{"tail", &tail}, {"sample", &all}, {"genuine", &gtail}} {
		t.Logf("SECT %s %s: %d pairs; disagreement by sector (rows mean) and compared-bit share:", name, a.name, a.a.pairs)
		var tot int
		for x := range 8 {
			for y := range 8 {
				tot += a.a.n[x][y]
			}
		}
		for x := range 8 {
			var d, n int
			line := ""
			for y := range 8 {
				d += a.a.d[x][y]
				n += a.a.n[x][y]
				line += fmt.Sprintf(" %.3f", float64(a.a.d[x][y])/float64(max(a.a.n[x][y], 1)))
			}
			t.Logf("SECT %s %s sector %d (cols %d-%d): %.4f share %.3f rows:%s", name, a.name, x, x*32, x*32+31, float64(d)/float64(max(n, 1)), float64(n)/float64(tot), line)
		}
		t.Logf("SECT %s %s shifts: %v", name, a.name, a.a.shifts)
	}
}

// TestDevWhatIf8 asks what fixing given genuine pairs would do to the
// out-of-sample EERs: each scenario sets the genuine pairs that involve
// one of its images (substrings of the path) to 0.3 (a match) and scores
// both sets in and out of sample.
func TestDevWhatIf8(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	type set struct {
		ps       *devPairSet
		gen, imp []float64
	}
	sets := map[string]set{}
	for _, name := range []string{"casia", "iitd"} {
		ps := devPairsZ(t, name, cache, "")
		g, i := devShipped(ps)
		sets[name] = set{ps, g, i}
	}
	scen := []struct {
		name        string
		casia, iitd []string
	}{
		{"baseline", nil, nil},
		{"iitd 137_L/04 enrols", nil, []string{"137_L/04"}},
		{"iitd both FTE enrol", nil, []string{"137_L/04", "087_L/02"}},
		{"casia 070_1_1", []string{"070_1_1"}, nil},
		{"casia 101_2_3", []string{"101_2_3"}, nil},
		{"casia all 8", []string{"070_1_1", "101_2_3", "091_1_3", "019_1_1"}, nil},
		{"casia all 8 + iitd 137_L/04", []string{"070_1_1", "101_2_3", "091_1_3", "019_1_1"}, []string{"137_L/04"}},
		{"casia 070_1_1 + iitd 137_L/04", []string{"070_1_1"}, []string{"137_L/04"}},
		{"casia 101_2_3 + iitd 137_L/04", []string{"101_2_3"}, []string{"137_L/04"}},
		{"casia all 8 + iitd 137_L/04, 095_L/01, 209_R/10", []string{"070_1_1", "101_2_3", "091_1_3", "019_1_1"}, []string{"137_L/04", "095_L/01", "209_R/10"}},
	}
	// ASSENT_IRIS_DEV_WHATIF: scenarios of its own, "casia images|iitd
	// images" (comma-separated substrings) separated by semicolons; they
	// replace the list above.
	if env := os.Getenv("ASSENT_IRIS_DEV_WHATIF"); env != "" {
		scen = scen[:1]
		for _, sc := range strings.Split(env, ";") {
			c, i, _ := strings.Cut(sc, "|")
			var cs, is []string
			if c != "" {
				cs = strings.Split(c, ",")
			}
			if i != "" {
				is = strings.Split(i, ",")
			}
			scen = append(scen, struct {
				name        string
				casia, iitd []string
			}{sc, cs, is})
		}
	}
	for _, sc := range scen {
		rs := map[string]*EvalResult{}
		for name, fix := range map[string][]string{"casia": sc.casia, "iitd": sc.iitd} {
			s := sets[name]
			gen := slices.Clone(s.gen)
			n := 0
			for k := range gen {
				for _, f := range fix {
					if strings.Contains(s.ps.set.Paths[s.ps.gi[k]], f) || strings.Contains(s.ps.set.Paths[s.ps.gj[k]], f) {
						gen[k] = 0.3
						n++
						break
					}
				}
			}
			r := &EvalResult{Dataset: name}
			imp := slices.Clone(s.imp)
			rates(r, gen, imp)
			r.gen, r.imp = gen, imp
			rs[name] = r
		}
		line := sc.name + ":"
		var sum float64
		for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
			cr, err := CrossFrom(rs[p[0]], rs[p[1]])
			if err != nil {
				t.Fatal(err)
			}
			sum += cr.Out.EER
			line += fmt.Sprintf(" | %s in %.3f%% (thr %.4f) out %.3f%% (FMR %.3f FNMR %.3f)", p[0], 100*rs[p[0]].EER, rs[p[0]].EERThreshold, 100*cr.Out.EER, 100*cr.Out.At[0].FMR, 100*cr.Out.At[0].FNMR)
		}
		t.Logf("WHATIF %s | mean out %.3f%%", line, 50*sum)
	}
}

// TestDevDiff8 lists the templates that differ between the caches
// ASSENT_IRIS_DEV_CACHE (a variant) and ASSENT_IRIS_DEV_BASE (the
// shipped engine): enrolled in one only, or changed (with the distance
// between the old and the new template).
func TestDevDiff8(t *testing.T) {
	cache, base := os.Getenv("ASSENT_IRIS_DEV_CACHE"), os.Getenv("ASSENT_IRIS_DEV_BASE")
	if cache == "" || base == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1, ASSENT_IRIS_DEV_CACHE and ASSENT_IRIS_DEV_BASE")
	}
	for _, name := range []string{"casia", "iitd"} {
		s, ts := loadDevSet(t, filepath.Join(cache, name+".gob"))
		b, bs := loadDevSet(t, filepath.Join(base, name+".gob"))
		changed := 0
		for i := range s.Paths {
			if b.Paths[i] != s.Paths[i] {
				t.Fatalf("%s: image lists differ", name)
			}
			if slices.Equal(s.Templates[i], b.Templates[i]) {
				continue
			}
			changed++
			switch {
			case ts[i] == nil:
				t.Logf("DIFF %s %s: no longer enrols", name, s.Paths[i])
			case bs[i] == nil:
				t.Logf("DIFF %s %s: now enrols (%d bits)", name, s.Paths[i], ts[i].UsableBits())
			default:
				d, _ := Distance(ts[i], bs[i])
				t.Logf("DIFF %s %s: changed, %d -> %d bits, old~new %.3f", name, s.Paths[i], bs[i].UsableBits(), ts[i].UsableBits(), d)
			}
		}
		t.Logf("DIFF %s: %d of %d templates differ", name, changed, len(s.Paths))
	}
}
