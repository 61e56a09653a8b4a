package fingerprint

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
)

// tailFit is log10 FMR = a + b*score fitted by least squares to the pooled
// impostor quantiles at the given rates.
func tailFit(sorted []float64, rates []float64) (a, b float64) {
	var xs, ys []float64
	for _, q := range rates {
		k := int(q * float64(len(sorted)))
		if k < 1 {
			continue
		}
		xs = append(xs, sorted[len(sorted)-k])
		ys = append(ys, math.Log10(q))
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i] / float64(len(xs))
		my += ys[i] / float64(len(ys))
	}
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	b = sxy / sxx
	return my - b*mx, b
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// crossSensorFinger tells whether two pooled finger labels (set index x
// 1000 + finger, sets' order) are one finger: the same label, or finger n
// of FVC2000 DB1_B and finger n of DB2_B, which hold the same ten fingers
// (two sensors).
func crossSensorFinger(a, b int) bool {
	if a == b {
		return true
	}
	at := func(dir string) int {
		return slices.IndexFunc(sets, func(x struct {
			dir string
			dpi int
		}) bool {
			return x.dir == dir
		})
	}
	db1, db2 := at("fvc2000/db1_b"), at("fvc2000/db2_b")
	sa, sb := a/1000, b/1000
	return a%1000 == b%1000 && ((sa == db1 && sb == db2) || (sa == db2 && sb == db1))
}

func fmrAt(sorted []float64, t float64) float64 {
	i, _ := slices.BinarySearch(sorted, t)
	return float64(len(sorted)-i) / float64(len(sorted))
}

// TestFarTailPooled measures the impostor tail across all eight shared sets
// pooled (every image against every image of every other finger, from any
// set: 204,480 pairs less the genuine ones), checks the shipped calibration
// (FMR, Threshold) against it, and fits an exponential tail on FMR 1e-2 ..
// 1e-4 whose prediction at 1e-5 is checked against the measured rate: how far
// an extrapolation of the tail holds. 1:1 scores (Score) are read with the
// 1:1 table (VerifyFMR, VerifyThreshold), a gallery's scores
// (galleryCylinders) with the gallery's (FMR, Threshold). docs/enrolment.md
// ("The far tail") quotes these figures.
func TestFarTailPooled(t *testing.T) {
	heavy(t)
	root := dataDir(t)
	var ts []*Template
	var finger []int
	var imgPath []string
	for si, s := range sets {
		e := extractSet(t, root, s.dir, s.dpi)
		for i, im := range e.imps {
			ts = append(ts, e.ts[i])
			finger = append(finger, si*1000+im.Finger)
			imgPath = append(imgPath, im.Path)
		}
	}
	// FVC2000 DB1_B and DB2_B hold the same ten fingers (finger n of one
	// is finger n of the other, two sensors): every one of the 422 pooled
	// "impostor" pairs above score 0.0775 when this test was written (first
	// wave) came
	// from those ten finger pairs and no other. They are the data's
	// duplicates, so they are counted apart (cross-sensor genuine pairs),
	// neither impostor nor genuine.
	sameFinger := crossSensorFinger
	var gen, imp, cross []float64
	type hi struct {
		i, j int
		v    float64
	}
	var high []hi
	var s scratch
	for i := range ts {
		for j := i + 1; j < len(ts); j++ {
			v := -1.0
			if ts[i] != nil && ts[j] != nil {
				v = match(&ts[i].cyl, &ts[j].cyl, &s)
			}
			if finger[i] == finger[j] {
				gen = append(gen, v)
			} else if sameFinger(finger[i], finger[j]) {
				cross = append(cross, v)
			} else {
				imp = append(imp, v)
				if v > 0.03 {
					high = append(high, hi{i, j, v})
				}
			}
		}
	}
	slices.Sort(imp)
	slices.Sort(gen)
	// Where the top of the tail comes from: the finger pairs of the 20
	// highest impostor scores (about FMR 1e-4).
	slices.SortFunc(high, func(x, y hi) int { return cmpFloat(y.v, x.v) })
	high = high[:min(20, len(high))]
	fp := map[[2]int]int{}
	for _, h := range high {
		fp[[2]int{finger[h.i], finger[h.j]}]++
	}
	t.Logf("the %d highest impostor scores (down to %.4f) come from %d finger pairs:", len(high), high[len(high)-1].v, len(fp))
	for k, c := range fp {
		t.Logf("  %s #%d ~ %s #%d: %d pairs", sets[k[0]/1000].dir, k[0]%1000, sets[k[1]/1000].dir, k[1]%1000, c)
	}
	if len(imp) < 200000 {
		t.Fatalf("%d impostor pairs, want over 200,000", len(imp))
	}
	slices.Sort(cross)
	t.Logf("pooled: %d genuine, %d impostor pairs; impostor max %.4f; %d cross-sensor pairs of the same finger (FVC2000 DB1/DB2), %.0f%% of them at or above the default threshold",
		len(gen), len(imp), imp[len(imp)-1], len(cross), 100*fmrAt(cross, DefaultVerifyThreshold()))
	for _, q := range []float64{1e-2, 1e-3, 1e-4, 1e-5} {
		k := int(q * float64(len(imp)))
		th := VerifyThreshold(q)
		t.Logf("FMR %g: measured score %.4f (%d pairs above); shipped Threshold %.4f lets %.2e through; FNMR there %.2f%%",
			q, imp[len(imp)-k], k, th, fmrAt(imp, th), 100*float64(countBelow(gen, th))/float64(len(gen)))
	}
	a, b := tailFit(imp, []float64{1e-2, 3e-3, 1e-3, 3e-4, 1e-4})
	pred := (-5 - a) / b // score the fit gives FMR 1e-5
	measured := fmrAt(imp, pred)
	t.Logf("tail fitted on 1e-2..1e-4: log10 FMR = %.2f %+.1f score; at its 1e-5 score %.4f the measured FMR is %.2e", a, b, pred, measured)
	for _, e := range []float64{-6, -7, -8, -9, -10} {
		sc := (e - a) / b
		t.Logf("extrapolated FMR 1e%.0f at score %.4f (shipped VerifyThreshold %.4f); FNMR at it %.2f%%", e, sc, VerifyThreshold(math.Pow(10, e)),
			100*float64(countBelow(gen, sc))/float64(len(gen)))
	}
	// Enrolment's candidate threshold: per-comparison FMR 1/(100 N) for a
	// gallery of N templates (docs/enrolment.md), two fingers a person.
	for _, people := range []float64{1e5, 1e6, 2e7} {
		fmr := 1 / (100 * 2 * people)
		th := VerifyThreshold(fmr)
		t.Logf("%.0e people (%.0e finger templates): shipped 1:1 threshold %.4f (asked FMR %.1e); pooled measured FMR %.2e, tail fit %.1e; FNMR %.2f%%",
			people, 2*people, th, fmr, fmrAt(imp, th), math.Pow(10, a+b*th), 100*float64(countBelow(gen, th))/float64(len(gen)))
	}
	// The one-decade extrapolation must hold within a factor of 3 (2.5x
	// with the first-wave matcher, 3.5x after the first pass of issue 17,
	// when 5 of the 7 pairs above the fitted 1e-5 score were one finger
	// pair of FVC2002 DB2, and the bound was 4x; 2.0x with the ring
	// descriptors; a change that fattens the tail fails it).
	if measured > 3e-5 || measured < 1e-5/3 {
		t.Errorf("measured FMR %.2e at the fitted 1e-5 score: the tail extrapolation is off by more than 3x", measured)
	}
	// The shipped 1:1 calibration must not be optimistic by more than 3x
	// at the default threshold (1e-4) on the pooled, cross-set impostors.
	if got := fmrAt(imp, DefaultVerifyThreshold()); got > 3e-4 {
		t.Errorf("pooled impostor FMR at the default threshold %.2e, want at most 3e-4", got)
	}
	// A gallery holds its 64 best-quality cylinders without ring
	// descriptors or texture weights (galleryCylinders), and a search
	// compares its probe in the same form: the same pairs, as the gallery
	// sees them.
	plain := make([]cylinders, len(ts))
	for i, tp := range ts {
		if tp != nil {
			plain[i] = tp.galleryCylinders()
		}
	}
	var pgen, pimp []float64
	var phigh []hi
	for i := range plain {
		for j := i + 1; j < len(plain); j++ {
			v := -1.0
			if ts[i] != nil && ts[j] != nil {
				v = match(&plain[i], &plain[j], &s)
			}
			if finger[i] == finger[j] {
				pgen = append(pgen, v)
			} else if !sameFinger(finger[i], finger[j]) {
				pimp = append(pimp, v)
				if v >= 0.04 {
					phigh = append(phigh, hi{i, j, v})
				}
			}
		}
	}
	slices.Sort(pimp)
	slices.Sort(pgen)
	// The top of a gallery's tail, pair by pair (image numbers).
	slices.SortFunc(phigh, func(x, y hi) int { return cmpFloat(y.v, x.v) })
	for _, h := range phigh {
		a, b := finger[h.i], finger[h.j]
		t.Logf("gallery impostor %.4f: %s %s ~ %s %s", h.v, sets[a/1000].dir, filepath.Base(imgPath[h.i]), sets[b/1000].dir, filepath.Base(imgPath[h.j]))
	}
	for _, q := range []float64{1e-2, 1e-3, 1e-4} {
		th := Threshold(q)
		t.Logf("a gallery's scores, FMR %g: measured score %.4f; shipped Threshold %.4f lets %.2e through; FNMR there %.2f%%",
			q, pimp[len(pimp)-int(q*float64(len(pimp)))], th, fmrAt(pimp, th), 100*float64(countBelow(pgen, th))/float64(len(pgen)))
	}
	for _, people := range []float64{1e5, 1e6, 2e7} {
		th := Threshold(1 / (100 * 2 * people))
		t.Logf("a gallery's scores, %.0e people: threshold %.4f, FNMR %.2f%%", people, th, 100*float64(countBelow(pgen, th))/float64(len(pgen)))
	}
	// The gallery's far tail (issue 17 item 4): the 1:N thresholds and
	// enrolment.md's expected false candidates read a gallery's scores, so
	// its tail is fitted the way the 1:1 tail is: on 1e-2..1e-4, checked
	// at 1e-5; and on 1e-2..1e-3, checked at 1e-4 and 1e-5.
	t.Logf("a gallery's scores: %d genuine, %d impostor pairs; impostor max %.4f (%d at or above 0.04)",
		len(pgen), len(pimp), pimp[len(pimp)-1], len(pimp)-countBelow(pimp, 0.04))
	ga, gb := tailFit(pimp, []float64{1e-2, 3e-3, 1e-3, 3e-4, 1e-4})
	g5 := (-5 - ga) / gb
	gMeasured := fmrAt(pimp, g5)
	ga3, gb3 := tailFit(pimp, []float64{1e-2, 3e-3, 1e-3})
	t.Logf("gallery tail fitted on 1e-2..1e-4: log10 FMR = %.2f %+.1f score; at its 1e-5 score %.4f the measured FMR is %.2e (%d pairs)",
		ga, gb, g5, gMeasured, len(pimp)-countBelow(pimp, g5))
	for _, e := range []float64{-4, -5} {
		sc := (e - ga3) / gb3
		t.Logf("gallery tail fitted on 1e-2..1e-3: log10 FMR = %.2f %+.1f score; at its 1e%.0f score %.4f the measured FMR is %.2e (%d pairs)",
			ga3, gb3, e, sc, fmrAt(pimp, sc), len(pimp)-countBelow(pimp, sc))
	}
	for _, e := range []float64{-6, -7, -8, -9, -10} {
		sc := (e - ga) / gb
		t.Logf("gallery: extrapolated FMR 1e%.0f at score %.4f (shipped Threshold %.4f); FNMR at it %.2f%%", e, sc, Threshold(math.Pow(10, e)),
			100*float64(countBelow(pgen, sc))/float64(len(pgen)))
	}
	// The deep fit: on the five deepest measured points (1e-3 .. 1e-5;
	// 201, 60, 20, 6 and 2 pairs), where the tail has bent away from the
	// upper quantiles' line; and the shipped table's own extrapolation
	// (its last decade's slope), checked at its 1e-5 score.
	da, db := tailFit(pimp, []float64{1e-3, 3e-4, 1e-4, 3e-5, 1e-5})
	t.Logf("gallery tail fitted on 1e-3..1e-5: log10 FMR = %.2f %+.1f score (measured scores at 1e-5: %.4f, at 3e-5: %.4f)",
		da, db, pimp[len(pimp)-2], pimp[len(pimp)-6])
	// How much of the deep tail is its top finger pair: the same fits
	// without every pair of the two fingers of the highest impostor score.
	if len(phigh) > 0 {
		fa, fb := finger[phigh[0].i], finger[phigh[0].j]
		var rest []float64
		for i := range plain {
			for j := i + 1; j < len(plain); j++ {
				if finger[i] == finger[j] || sameFinger(finger[i], finger[j]) ||
					finger[i] == fa && finger[j] == fb || finger[i] == fb && finger[j] == fa {
					continue
				}
				v := -1.0
				if ts[i] != nil && ts[j] != nil {
					v = match(&plain[i], &plain[j], &s)
				}
				rest = append(rest, v)
			}
		}
		slices.Sort(rest)
		ra, rb := tailFit(rest, []float64{1e-2, 3e-3, 1e-3, 3e-4, 1e-4})
		r5 := (-5 - ra) / rb
		xa, xb := tailFit(rest, []float64{1e-3, 3e-4, 1e-4, 3e-5, 1e-5})
		t.Logf("gallery without %s #%d ~ %s #%d (%d pairs left, max %.4f): fit on 1e-2..1e-4 log10 FMR = %.2f %+.1f score, at its 1e-5 score %.4f %.2e measured; deep fit %.2f %+.1f score; at the 1M / 20M thresholds %.1e / %.1e (fit), %.1e / %.1e (deep fit)",
			sets[fa/1000].dir, fa%1000, sets[fb/1000].dir, fb%1000, len(rest), rest[len(rest)-1], ra, rb, r5, fmrAt(rest, r5), xa, xb,
			math.Pow(10, ra+rb*Threshold(5e-9)), math.Pow(10, ra+rb*Threshold(2.5e-10)), math.Pow(10, xa+xb*Threshold(5e-9)), math.Pow(10, xa+xb*Threshold(2.5e-10)))
	}
	table5 := fmrAt(pimp, Threshold(1e-5))
	t.Logf("gallery: the shipped table's 1e-5 score %.4f (extrapolated with its last decade's slope) lets %.2e through (%d pairs)",
		Threshold(1e-5), table5, len(pimp)-countBelow(pimp, Threshold(1e-5)))
	for _, people := range []float64{1e5, 1e6, 2e7} {
		fmr := 1 / (100 * 2 * people)
		th := Threshold(fmr)
		fit, deep, table := math.Pow(10, ga+gb*th), math.Pow(10, da+db*th), FMR(th)
		// Two probe fingers, each against 2 x people finger templates.
		t.Logf("gallery, %.0e people: threshold %.4f (asked FMR %.1e); FMR there by the table %.1e, the 1e-2..1e-4 fit %.1e, the 1e-2..1e-3 fit %.1e, the deep fit %.1e; expected false finger candidates an enrolment %.1e / %.1e / %.1e (table / fit / deep fit); FNMR %.2f%%",
			people, th, fmr, table, fit, math.Pow(10, ga3+gb3*th), deep, 4*people*table, 4*people*fit, 4*people*deep, 100*float64(countBelow(pgen, th))/float64(len(pgen)))
	}
	// One decade of extrapolation within 4x for a gallery's scores (3.0x
	// measured when this was written, fourteenth pass: the gallery's tail
	// is heavier than the 1:1's beyond 1e-4, and a one-pair change moves
	// the ratio by half); and the shipped table not optimistic by more
	// than 3x at its own extrapolated 1e-5 point.
	if gMeasured > 4e-5 || gMeasured < 1e-5/4 {
		t.Errorf("gallery: measured FMR %.2e at the fitted 1e-5 score: the tail extrapolation is off by more than 4x", gMeasured)
	}
	if table5 > 3e-5 {
		t.Errorf("gallery: the shipped table's 1e-5 score lets %.2e through, want at most 3e-5", table5)
	}
	if got := fmrAt(pimp, DefaultThreshold()); got > 3e-4 {
		t.Errorf("pooled impostor FMR of a gallery's scores at the default threshold %.2e, want at most 3e-4", got)
	}
}
