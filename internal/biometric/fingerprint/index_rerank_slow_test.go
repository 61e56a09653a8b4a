package fingerprint

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
)

// stageRetention measures what the two stages of an indexed search keep:
// every template in one indexed gallery, each searched as a probe. For
// every ordered genuine pair whose full comparison reaches thresholds[t],
// the mate is kept by the index when the impostor entries it ranks at or
// above the mate are at most the share pen of them (as EvalIndex counts);
// kept[t][c] is the share of the pairs the index keeps and whose
// second-stage score is at least cuts[c]. passed[c] is the share of the
// impostor entries the index keeps that pass cut c: the share of the
// shortlist compared in full.
func stageRetention(ts []*Template, finger []int, thresholds []float64, pen float64, cuts []int) (kept [][]float64, pairs []int, passed []float64) {
	g := NewGallery()
	g.indexFrom = 0
	keys := make([]string, len(ts))
	for i := range ts {
		keys[i] = strconv.Itoa(i)
	}
	g.AddAll(keys, ts)
	kept = make([][]float64, len(thresholds))
	for t := range kept {
		kept[t] = make([]float64, len(cuts))
	}
	pairs = make([]int, len(thresholds))
	passed = make([]float64, len(cuts))
	shortlisted := 0
	var s scratch
	as := new(alignScratch)
	for i, probe := range ts {
		idx := make([]float32, len(ts))
		rot := make([]uint8, len(ts))
		for _, sc := range g.indexVotes(probe, 0, rot) {
			idx[sc.entry()] = sc.score()
		}
		impostors := 0
		for e := range ts {
			if finger[e] != finger[i] {
				impostors++
			}
		}
		// an entry is in the index's shortlist when the impostors scoring
		// at least as high are at most the share pen of them
		inShortlist := func(e int) bool {
			above := 0
			for f := range ts {
				if finger[f] != finger[i] && idx[f] >= idx[e] {
					above++
				}
			}
			return float64(above) <= pen*float64(impostors)
		}
		pg := probe.galleryCylinders()
		ap := newAlignProbe(&pg)
		for e := range ts {
			if e == i || !inShortlist(e) {
				if finger[e] == finger[i] && e != i {
					mc := ts[e].galleryCylinders() // as a gallery compares
					full := match(&pg, &mc, &s)
					for t, th := range thresholds {
						if full >= th {
							pairs[t]++
						}
					}
				}
				continue
			}
			score := sketchScore(&ap, g.cyl.view(g.entries[e]), rot[e], as)
			if finger[e] != finger[i] {
				shortlisted++
				for c, cut := range cuts {
					if score >= cut {
						passed[c]++
					}
				}
				continue
			}
			mc := ts[e].galleryCylinders()
			full := match(&pg, &mc, &s)
			for t, th := range thresholds {
				if full < th {
					continue
				}
				pairs[t]++
				for c, cut := range cuts {
					if score >= cut {
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
	for c := range passed {
		passed[c] /= float64(max(1, shortlisted))
	}
	return kept, pairs, passed
}

// TestSecondStageRetention pools the eight FVC sets (640 templates) as
// TestIndexRetention does and checks the two stages of an indexed search
// together: at the 1:N threshold of a 100,000-person registry (200,000
// finger templates) the index's DefaultPenetration followed by the second
// stage's DefaultSecondStage must keep at least 99 % of the genuine pairs,
// as the index alone must, and the second stage must pass at most 60 % of
// the impostor entries the index keeps (else it saves little). At the
// thresholds of 500,000 to 16,000,000 templates (a 2,000,000-person shard
// holds 4,000,000 fingers) the penetration and cut a search uses by
// default there (SearchPenetration, SecondStageCut) must keep at least
// 99 % too. It logs the figures for other cuts (0 is the index alone), at
// DefaultPenetration and at the large galleries' penetration.
func TestSecondStageRetention(t *testing.T) {
	heavy(t)
	root := dataDir(t)
	ts, fingers := pooledTemplates(t, root, false)
	cuts := []int{0, 3, 4, DefaultSecondStage, 6, 7, 8, 9, 10}
	def := 3
	thresholds := []float64{Threshold(1 / (100 * 200000.0)), Threshold(math.Pow(10, -(math.Log10(4e6) + 2)))}
	for _, n := range []float64{5e5, 1e6, 2e6, 8e6, 16e6} {
		thresholds = append(thresholds, Threshold(1/(100*n)))
	}
	kept, pairs, passed := stageRetention(ts, fingers, thresholds, DefaultPenetration, cuts)
	for k, th := range thresholds {
		line := fmt.Sprintf("threshold %.4f: %d genuine pairs of %d templates; kept at %.0f%% penetration then cut:", th, pairs[k], len(ts), 100*DefaultPenetration)
		for c, cut := range cuts {
			line += fmt.Sprintf(" %d: %.4f", cut, kept[k][c])
		}
		t.Log(line)
	}
	line := "share of the shortlisted impostors compared in full at cut:"
	for c, cut := range cuts {
		line += fmt.Sprintf(" %d: %.3f", cut, passed[c])
	}
	t.Log(line)
	if pairs[0] < 1000 || kept[0][def] < 0.99 {
		t.Errorf("at the 100,000-person threshold the two stages keep %.4f of %d genuine pairs, want at least 0.99", kept[0][def], pairs[0])
	}
	// the penetration and cut a search at each threshold uses by default
	keptLarge, _, passedLarge := stageRetention(ts, fingers, thresholds, largePenetration, cuts)
	for k, th := range thresholds {
		pen, kp, ps := DefaultPenetration, kept[k], passed
		if SearchPenetration(th) != DefaultPenetration {
			pen, kp, ps = SearchPenetration(th), keptLarge[k], passedLarge
		}
		c := slices.Index(cuts, SecondStageCut(th))
		if c < 0 {
			t.Fatalf("cut %d for threshold %.4f not measured", SecondStageCut(th), th)
		}
		t.Logf("threshold %.4f: penetration %.3f and cut %d keep %.4f of %d pairs and compare %.4f of the gallery's impostors in full (%.3f of the shortlisted)", th, pen, cuts[c], kp[c], pairs[k], pen*ps[c], ps[c])
		if pairs[k] < 1000 || kp[c] < 0.99 {
			t.Errorf("at threshold %.4f the two stages (penetration %.3f, cut %d) keep %.4f of %d genuine pairs, want at least 0.99", th, pen, cuts[c], kp[c], pairs[k])
		}
	}
	for k, th := range thresholds {
		line := fmt.Sprintf("penetration %.3f, threshold %.4f: kept then cut:", largePenetration, th)
		for c, cut := range cuts {
			line += fmt.Sprintf(" %d: %.4f", cut, keptLarge[k][c])
		}
		t.Log(line)
	}
	line = fmt.Sprintf("penetration %.3f: share of the shortlisted impostors compared in full at cut:", largePenetration)
	for c, cut := range cuts {
		line += fmt.Sprintf(" %d: %.3f", cut, passedLarge[c])
	}
	t.Log(line)
	if passed[def] > 0.6 {
		t.Errorf("the second stage passes %.3f of the shortlisted impostors, want at most 0.6", passed[def])
	}
}
