package fingerprint

import (
	"math"
	"os"
	"strings"
	"slices"
	"strconv"
	"testing"
)

// rerankRetention measures what the two stages of an indexed search keep,
// as EvalIndex does for the index alone: every template in one indexed
// gallery, each searched as a probe; for every ordered genuine pair whose
// full comparison reaches a threshold, the mate is kept when the index
// ranks it within the share pen of the impostor entries (as EvalIndex
// counts) and the local score ranks it within the share compared[c] of the
// impostor entries among the impostors the index kept. kept[t][c] is the
// share of the pairs at thresholds[t] kept with compared[c]; pairs[t] their
// number.
func rerankRetention(ts []*Template, finger []int, thresholds []float64, pen float64, compared []float64, variant string) (kept [][]float64, pairs []int) {
	g := NewGallery()
	g.indexFrom = 0
	keys := make([]string, len(ts))
	for i := range ts {
		keys[i] = strconv.Itoa(i)
	}
	g.AddAll(keys, ts)
	kept = make([][]float64, len(thresholds))
	for t := range kept {
		kept[t] = make([]float64, len(compared))
	}
	pairs = make([]int, len(thresholds))
	var s scratch
	var ls localScratch
	as := new(alignScratch)
	local := make([]float32, len(ts))
	for i, probe := range ts {
		idx := make([]float32, len(ts))
		rot := make([]uint8, len(ts))
		for _, sc := range g.indexVotes(probe, 0, rot) {
			idx[sc.entry()] = sc.score()
		}
		ap := newAlignProbe(&probe.cyl)
		for e := range ts {
			p := g.cyl.view(g.entries[e])
			switch variant {
			case "local":
				p.unpack(&ls.c)
				local[e] = localScore(&probe.cyl, &ls.c, &ls)
			case "align":
				local[e] = float32(alignScore(&ap, p.geom, rot[e], as))
			case "align+index":
				local[e] = stage2Score(alignScore(&ap, p.geom, rot[e], as), idx[e])
			case "align/sqrt+index":
				local[e] = float32(alignScore(&ap, p.geom, rot[e], as))*invSqrt[p.n()] + min(idx[e], 100)/1024
			case "align+2index":
				local[e] = float32(alignScore(&ap, p.geom, rot[e], as)) + idx[e]/2
			}
		}
		// the impostors' index scores, highest first: an entry is in the
		// index's shortlist when the impostors scoring at least as high
		// are at most the share pen of them
		var imp []float32
		for e := range ts {
			if finger[e] != finger[i] {
				imp = append(imp, idx[e])
			}
		}
		slices.Sort(imp)
		slices.Reverse(imp)
		above := func(v float32) int { // impostors with an index score >= v
			n, _ := slices.BinarySearchFunc(imp, v, func(a, b float32) int {
				if a >= b {
					return -1
				}
				return 1
			})
			return n
		}
		inShortlist := func(e int) bool { return float64(above(idx[e])) <= pen*float64(len(imp)) }
		for j, mate := range ts {
			if j == i || finger[j] != finger[i] {
				continue
			}
			pc, mc := probe.cyl, mate.cyl
			pc.desc, mc.desc = nil, nil
			full := match(&pc, &mc, &s)
			if !inShortlist(j) {
				for t, th := range thresholds {
					if full >= th {
						pairs[t]++
					}
				}
				continue
			}
			// impostors in the shortlist whose local score is at least the mate's
			n := 0
			for e := range ts {
				if finger[e] != finger[i] && local[e] >= local[j] && inShortlist(e) {
					n++
				}
			}
			for t, th := range thresholds {
				if full < th {
					continue
				}
				pairs[t]++
				for c, cp := range compared {
					if float64(n) <= cp*float64(len(imp)) {
						kept[t][c]++
					}
				}
			}
		}
	}
	for t := range kept {
		for c := range kept[t] {
			kept[t][c] /= float64(max(1, pairs[t]))
		}
	}
	return kept, pairs
}

// TestRerankRetention pools the eight FVC sets (640 templates) as
// TestIndexRetention does and checks the two stages of an indexed search
// together: at the 1:N threshold of a 100,000-person registry (200,000
// finger templates) the index's 2 % followed by the local score's
// DefaultCompared must keep at least 99 % of the genuine pairs, as the
// index alone must. It also logs the figures at the threshold of a
// 2,000,000-person shard (4,000,000 fingers) and for other shares compared.
func TestRerankRetention(t *testing.T) {
	heavy(t)
	root := dataDir(t)
	var ts []*Template
	var fingers []int
	for si, set := range sets {
		e := extractSet(t, root, set.dir, set.dpi)
		for i, im := range e.imps {
			if e.ts[i] != nil {
				ts = append(ts, e.ts[i])
				fingers = append(fingers, si*1000+im.Finger)
			}
		}
	}
	compared := []float64{0.0025, DefaultCompared, 0.01, DefaultPenetration}
	thresholds := []float64{Threshold(1 / (100 * 200000.0)), Threshold(math.Pow(10, -(math.Log10(4e6) + 2)))}
	variants := []string{"align+index"}
	if v := os.Getenv("ASSENT_RERANK_VARIANTS"); v != "" {
		variants = strings.Split(v, ",")
	}
	var kept [][]float64
	var pairs []int
	for _, v := range variants {
		if f := strings.Fields(v); len(f) == 4 {
			tol, _ := strconv.Atoi(f[1])
			cell, _ := strconv.Atoi(f[2])
			spread, _ := strconv.Atoi(f[3])
			alignDirTol, alignCell, alignSpread = uint16(tol), float32(cell), spread
			v = f[0]
		}
		kept, pairs = rerankRetention(ts, fingers, thresholds, DefaultPenetration, compared, v)
		for k, th := range thresholds {
			t.Logf("%s tol %d cell %v spread %d: threshold %.4f: %d genuine pairs of %d templates; kept with %.0f%% shortlisted then compared in full %v: %v",
				v, alignDirTol, alignCell, alignSpread, th, pairs[k], len(ts), 100*DefaultPenetration, compared, kept[k])
		}
	}
	if pairs[0] < 1000 || kept[0][1] < 0.99 {
		t.Errorf("at the 100,000-person threshold the two stages keep %.4f of %d genuine pairs, want at least 0.99", kept[0][1], pairs[0])
	}
	if kept[0][3] < kept[0][1] {
		t.Errorf("comparing the whole shortlist keeps %.4f, less than the second stage's %.4f", kept[0][3], kept[0][1])
	}
}
