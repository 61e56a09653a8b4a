package iris

import (
	"fmt"
	"image"
	"math"
	"math/cmplx"
	"slices"
)

// config holds the extraction parameters. One set, defaultConfig, is used
// for every data set; it is unexported so templates stay comparable, and
// EncoderVersion changes whenever it does.
type config struct {
	maxSide     int     // images are box-downscaled to at most this side
	polarRows   int     // radial samples of the unwrapped band
	polarCols   int     // angular samples (power of two, for the FFT)
	rhoMin      float64 // band start, 0 = pupil boundary
	rhoMax      float64 // band end, 1 = limbus
	wavelength  float64 // log-Gabor centre wavelength, in angular samples
	sigmaOnF    float64 // log-Gabor bandwidth ratio
	brightK     float64 // eyelid: brighter than median + brightK*sigma
	darkK       float64 // eyelash: darker than median - darkK*sigma
	maskWindow  int     // a bit is occluded if its band window is >= maskFrac occluded
	maskFrac    float64
	fragile     float64 // fraction of the weakest usable bits masked as fragile
	minUsable   int     // fewer usable bits is ErrQualityTooLow
	minContrast float64 // weaker limbus edges are ErrNoIris
	lashRun     int     // dark run (rows) that starts an upper-lid mask; 0 = off
	scale2      float64 // if > 0, half the code rows use wavelength*scale2
	lashK       float64 // black top-hat lash threshold in sigmas; 0 = off
	// Collarette check: an outer edge of strength >= collaretteEdge
	// replaces the limbus found when the latter lies within
	// collaretteFrac of the way from the pupil to it; 0 = off.
	collaretteFrac float64
	collaretteEdge float64
	// collaretteBound: the outer search reaches this many pupil radii
	// (0: the limbus search's 4).
	collaretteBound float64
	// collaretteNear: an outer edge at least this fraction as strong
	// as the limbus found replaces it wherever the latter lies (beyond
	// collaretteFrac too): of two about equal edges the limbus is the
	// outer one; 0 = off. The outer search then runs for every image.
	collaretteNear float64
	// limbusSplit: when the lateral arcs' own strongest edges, seen
	// from the pupil centre within reach of the limbus found, put its
	// centre further sideways than limbusSplit times the search's reach
	// (span + 1 px of refinement), the two arcs lie on different edges
	// and the limbus is searched again centred on the pupil; 0 = off.
	limbusSplit float64
	// limbusSplitEdge: limbusSplit is tested only when the centre found
	// lies beyond the coarse sideways range (more than span from the
	// pupil's): the search ran into its bound.
	limbusSplitEdge bool
	// limbusSplitKeep: the centred limbus replaces the first only when
	// its edge is at least this fraction as strong (0: always).
	limbusSplitKeep float64
	// limbusSplitInner: the split is measured only when each arc's own
	// strongest edge lies inside the radii searched (not on their
	// bounds, where the arc's edge may lie further out).
	limbusSplitInner bool
	// oneArc: where one lateral arc of the limbus search lies outside the
	// image, the other decides alone, its edge strength times oneArc;
	// 0 = such radii are not candidates.
	oneArc float64
	// minIrisFrac: a limbus radius under this fraction of the shorter
	// image side is ErrNoIris.
	minIrisFrac float64
	// limbusDy: the limbus centre's vertical search span as a fraction
	// of the horizontal one (the lateral arcs barely fix it).
	limbusDy float64
	// lidCurve: eyelid fronts fitted as parabolas (lidCurves), from at
	// least lidMin front points per lid.
	lidCurve bool
	lidMin   int
	// lidInlier: the fraction of the fronts the fit must keep;
	// lidGapOnly: the curve moves only columns with no front found.
	lidInlier  float64
	lidGapOnly bool
	// lidUpperOnly: only the upper eyelid is fitted.
	lidUpperOnly bool
	// lidMaxSigma: the fronts' robust scatter about the curve (pixels,
	// before the last trim) above which no curve is used; 0 = off.
	lidMaxSigma float64
	// detrend: width, in polar samples, of the circular moving average
	// (over the unoccluded samples of a band) subtracted from the band
	// before filtering; occluded samples take the local average, so they
	// add no step at the mask's edge. 0 = off (global mean fill).
	detrend int
	// radial: 0 = each code row is one band; 1 = neighbouring bands in
	// pairs give a sum row and a difference row (radialPairs).
	radial int
	// fragileRow: the fragile fraction is taken in each code row rather
	// than over the whole code.
	fragileRow bool
	// whiten: the exponent e of the spectral whitening of the bands before
	// the filter (whitening); 0 = off. whitenHalf: the half width, in
	// frequency bins, of its smoothing.
	whiten     float64
	whitenHalf int
	// whitenRef: with the power-law whitening (whitenHalf < 0), the
	// slope the template's spectrum is brought to (0 = flat).
	whitenRef float64
	// whitenInner: the spectrum is estimated on the inner half of the
	// bands only (the least occluded).
	whitenInner bool
	// whitenSteep: only a spectrum steeper than whitenRef is brought to
	// it; a flatter one is left as it is.
	whitenSteep bool
	// whitenCap: if > 0, the slope correction is at most this much.
	whitenCap float64
	// pupilCut: a dark component wider than tall whose lower edge is a
	// circular arc (a pupil cut by the upper eyelid) is a pupil
	// candidate, its score times pupilCut; 0 = off (cutDisc).
	pupilCut float64
	// upperSector: every sample within this many radians of straight
	// up is occluded (the upper iris under lashes); 0 = off.
	upperSector float64
	// lashDensity: on the upper side, a column is masked over the rows
	// next to its front (or the band's outer edge), row after row, where
	// at least this share of the samples around them (lashWinCols columns
	// either side, lashWinRows rows either side) are thin dark strokes:
	// darker by lashDensK robust sigmas than the brightest sample within
	// ±3 columns of their row (a black top-hat). Lashes hanging from the
	// lid over the upper iris are such strokes, dense; iris texture gives
	// them sparsely. 0 = off (issue 17, tenth round: it loses on both
	// sets).
	lashDensity, lashDensK   float64
	lashWinCols, lashWinRows int
	// lidBright: on the lower side (both sides with lidBrightBoth), a
	// column is masked over the rows next to its front (or the band's
	// outer edge) where the band, averaged over lidBrightCols columns
	// either side and one row either side (values clipped to 3 sigma), is
	// brighter than the lateral iris at the same row by this many robust
	// sigmas: an eyelid's skin, brighter than the iris but not by
	// 3 sigma a sample. 0 = off.
	lidBright     float64
	lidBrightCols int
	lidBrightBoth bool
	// lidStep: on the same sides, a column is masked from the first row
	// where the averaged band less the lateral iris of the same row (as
	// for lidBright) rises by this many robust
	// sigmas over four rows (from two rows inward to two rows outward) and
	// stays at least half that above its level inward of the step to the
	// band's outer edge: an eyelid's edge, a step, where an illumination
	// gradient rises slowly. 0 = off.
	lidStep float64
	// lidStepLevel: with lidStep, every row from the step outward must
	// also be at least this many sigmas brighter than the lateral iris of
	// its row. 0 = no such bound.
	lidStepLevel float64
	// lidStepSkip: the level bounds are tested from this many rows
	// outward of the step's row (whose average straddles the step).
	lidStepSkip int
}

func defaultConfig() config {
	return config{
		maxSide: 480, polarRows: 32, polarCols: 512,
		rhoMin: 0.0, rhoMax: 0.6,
		wavelength: 24, sigmaOnF: 0.4,
		brightK: 3, darkK: 3,
		maskWindow: 4, maskFrac: 0.34,
		fragile:     0.15,
		minUsable:   1200,
		minContrast: 3,
		lashRun:     3,
		// Chosen from IITD overlays (the collarette sits about a third of
		// the way out); no CASIA-IrisV1 image has a second edge that
		// close (the nearest at 0.53), so CASIA is unchanged.
		// The outer search reaches 5 pupil radii (a pupil of 0.2 of the
		// iris radius, the physiological small end), not the first
		// search's 4: IITD 168_R, limbus at 4.4-5 pupil radii.
		collaretteFrac: 0.5, collaretteEdge: 3, collaretteBound: 5,
		// 0.85 moves 14 IITD images and no CASIA-IrisV1 one (ninth
		// round: alone, IITD's lower threshold bound CASIA's genuine
		// pairs, out of sample 0.353 -> 0.441 %); shipped in the tenth
		// round with the lower lid's step (lidStep), which takes those
		// pairs in (docs/iris.md, "Issue 17, tenth round").
		collaretteNear: 0.85,
		// A limbus arc out of the frame (IITD: 36_L, 048_R, 127_R, 138_L/R)
		// leaves the other to decide, at half its strength so an edge seen
		// on both sides still wins where there is one (CASIA-IrisV1 is
		// unchanged at 0.5; at 0.7 two of its images moved).
		oneArc: 0.5, minIrisFrac: 0.125,
		// The limbus centre is held at the pupil's height: the lateral
		// arcs barely fix it, and letting it move (±10 % of the pupil
		// radius) put CASIA-IrisV1 091 and 101 limbus centres 6 px above
		// or below the pupil's in images of one eye. 0 took the CASIA EER
		// from 0.447 to 0.309 % and IITD's from 0.398 to 0.333 %
		// (docs/iris.md, Results; 0.1-0.3 tried).
		limbusDy: 0,
		// When the centre ran into the sideways bound and the lateral
		// arcs' own edges (each within reach, inside the radii searched)
		// put it 1.25 reaches off, the arcs lie on different edges
		// (CASIA-IrisV1 101_2_3: a lash shadow at 86 px on the left, the
		// limbus at 103 on the right) and the limbus is searched again
		// centred on the pupil, kept when at least half as strong.
		// Written after looking at both sets (issue 17, eleventh round:
		// 8 CASIA and 92 IITD templates move; at 1 IITD 156_R, an eye
		// whose iris is truly 6 px off, was recentred).
		limbusSplit: 1.25, limbusSplitEdge: true, limbusSplitKeep: 0.5, limbusSplitInner: true,
		// Eyelid curves (issue 17, third round) are off: on CASIA-IrisV1
		// they take the EER from 0.309 to 0.265 %, but both out-of-sample
		// EERs get worse, and IITD's in-sample EER unless lidMaxSigma is
		// 10 (docs/iris.md, "Issue 17, third round"). With these values
		// lidCurve alone gives the upper-lid row of that table.
		lidCurve: false, lidMin: 40, lidInlier: 0.8, lidUpperOnly: true,
		// A pupil cut by the upper eyelid (a wide dark component whose
		// lower edge is a circular arc) is a candidate at half the
		// score of a whole disc (issue 17, eighth round: IITD 137_L/04,
		// whose pupil is half under the lid, enrols; no CASIA-IrisV1
		// image and no other IITD image changes).
		pupilCut:    0.5,
		lashDensity: 0, lashDensK: 1.5, lashWinCols: 8, lashWinRows: 2,
		// The lower lid: a step of 1 sigma over four rows to a band at
		// least 1 sigma brighter than the lateral iris, to the band's
		// edge (issue 17, tenth round: CASIA-IrisV1 070_1_1 and 101_2_3;
		// the level bound after IITD 038_R, whose iris rings made steps).
		// Testing the level from the row after the step (lidStepSkip 1)
		// gains a CASIA pair out of sample but loses an IITD pair in
		// sample and one more to the coarse pass: not kept.
		lidBright: 0, lidBrightCols: 8, lidStep: 1, lidStepLevel: 1,
	}
}

// Extract segments the eye in img and returns its iris template.
//
// Errors: ErrTooLarge/ErrTooSmall for images outside the size limits,
// ErrNoIris when no plausible pupil and limbus are found, ErrQualityTooLow
// when fewer than about 30% of the code bits are usable. Extract never
// returns a template it could not vouch for: a failure is a failure to
// enrol, not a template of noise. It is safe for concurrent use.
func Extract(img image.Image) (*Template, error) {
	return extract(img, defaultConfig())
}

func extract(img image.Image, c config) (*Template, error) {
	t, _, err := extractSeg(img, c)
	return t, err
}

// extractSeg is extract that also returns the segmentation found (zero when
// none), for evaluation diagnostics.
func extractSeg(img image.Image, c config) (*Template, segmentation, error) {
	const op = "iris.Extract"
	if img == nil {
		return nil, segmentation{}, fmt.Errorf("%s: nil image: %w", op, ErrNotImage)
	}
	b := img.Bounds()
	if err := checkSize(b.Dx(), b.Dy()); err != nil {
		return nil, segmentation{}, fmt.Errorf("%s: %w", op, err)
	}
	g := toGray(img, c.maxSide)
	hl := fillHighlights(g)
	seg, ok := segmentWith(g, c)
	if !ok || seg.contrast < c.minContrast {
		return nil, seg, fmt.Errorf("%s: %w", op, ErrNoIris)
	}
	band, occ := unwrap(g, hl, seg, c)
	maskOcclusionsSeg(band, occ, &seg, c)
	t := encode(band, occ, c)
	if u := t.UsableBits(); u < c.minUsable {
		return nil, seg, fmt.Errorf("%s: %d usable bits: %w", op, u, ErrQualityTooLow)
	}
	return t, seg, nil
}

// unwrap samples the iris ring into a polarRows x polarCols band with
// Daugman's rubber-sheet model: at angle theta, radius rho in [0,1] runs
// linearly from the pupil boundary to the limbus, the two circles need not
// be concentric. occ marks samples outside the image, on a highlight or
// above the eyelid's edge where it cuts the pupil (s.lidY).
func unwrap(g gray, hl []bool, s segmentation, c config) (band []float32, occ []bool) {
	band = make([]float32, c.polarRows*c.polarCols)
	occ = make([]bool, len(band))
	for j := range c.polarCols {
		th := 2 * math.Pi * float64(j) / float64(c.polarCols)
		cs, sn := math.Cos(th), math.Sin(th)
		px, py := s.pupil.x+s.pupil.r*cs, s.pupil.y+s.pupil.r*sn
		ix, iy := s.iris.x+s.iris.r*cs, s.iris.y+s.iris.r*sn
		for i := range c.polarRows {
			rho := c.rhoMin + (c.rhoMax-c.rhoMin)*(float64(i)+0.5)/float64(c.polarRows)
			x, y := px+(ix-px)*rho, py+(iy-py)*rho
			k := i*c.polarCols + j
			v, ok := g.at(x, y)
			band[k] = v
			if !ok || hl[int(y+0.5)*g.w+int(x+0.5)] || y < s.lidY {
				occ[k] = true
			}
		}
	}
	return band, occ
}

// maskOcclusions marks eyelids (brighter than the iris) and eyelashes
// (darker) in the band, from robust statistics of the lateral inner iris,
// which eyelids rarely cover. On the upper and lower sides an eyelid covers
// the outer part of the band, so from the first occluded run outward the
// whole column is masked.
func maskOcclusions(band []float32, occ []bool, c config) { maskOcclusionsSeg(band, occ, nil, c) }

// maskOcclusionsSeg is maskOcclusions; with seg and c.lidCurve, each
// eyelid's front is also fitted as a parabola in the image (lidCurves).
func maskOcclusionsSeg(band []float32, occ []bool, seg *segmentation, c config) {
	rows, cols := c.polarRows, c.polarCols
	var seen []bool
	if c.lashDensity > 0 || c.lidBright > 0 || c.lidStep > 0 {
		seen = slices.Clone(occ)
	}
	var ref []float32
	for j := range cols {
		th := 2 * math.Pi * float64(j) / float64(cols)
		if math.Abs(math.Sin(th)) > 0.5 {
			continue
		}
		for i := range rows * 2 / 3 {
			if k := i*cols + j; !occ[k] {
				ref = append(ref, band[k])
			}
		}
	}
	if len(ref) < 16 {
		for i := range occ {
			occ[i] = true
		}
		return
	}
	slices.Sort(ref)
	med := float64(ref[len(ref)/2])
	dev := make([]float64, len(ref))
	for i, v := range ref {
		dev[i] = math.Abs(float64(v) - med)
	}
	slices.Sort(dev)
	sigma := math.Max(1.4826*dev[len(dev)/2], 2)
	hi, lo := float32(med+c.brightK*sigma), float32(med-c.darkK*sigma)
	bright := make([]bool, len(band))
	dark := make([]bool, len(band))
	for k, v := range band {
		switch {
		case v > hi:
			bright[k] = true
			occ[k] = true
		case v < lo:
			dark[k] = true
			occ[k] = true
		}
	}
	// Lashes over the upper iris are thin dark strokes: a sample much
	// darker than the brightest sample within ±lashHalf along its row
	// (a black top-hat) is a lash when lashK > 0.
	if c.lashK > 0 {
		const lashHalf = 3
		for i := range rows {
			for j := range cols {
				th := 2 * math.Pi * float64(j) / float64(cols)
				if math.Sin(th) > -0.3 {
					continue
				}
				k := i*cols + j
				var mx float32
				for d := -lashHalf; d <= lashHalf; d++ {
					mx = max(mx, band[i*cols+(j+d+cols)%cols])
				}
				if float64(mx-band[k]) > c.lashK*sigma {
					dark[k] = true
					occ[k] = true
				}
			}
		}
	}
	// Eyelid fronts: per column in the upper and lower sectors, the first
	// row (from the pupil) where two consecutive samples are bright (lid)
	// or lashRun consecutive samples dark (lashes hanging from the lid).
	front := make([]int, cols)
	for j := range cols {
		front[j] = rows
		th := 2 * math.Pi * float64(j) / float64(cols)
		if math.Abs(math.Sin(th)) < 0.3 {
			continue
		}
		run := 0
		for i := 0; i < rows; i++ {
			if dark[i*cols+j] && math.Sin(th) < 0 {
				run++
			} else {
				run = 0
			}
			if (i+1 < rows && bright[i*cols+j] && bright[(i+1)*cols+j]) || (c.lashRun > 0 && run >= c.lashRun) {
				front[j] = i - run + 1
				if run == 0 {
					front[j] = i
				}
				break
			}
		}
	}
	if c.lashDensity > 0 {
		lashFronts(front, band, seen, sigma, c)
	}
	if c.lidBright > 0 || c.lidStep > 0 {
		brightFronts(front, band, seen, med, sigma, c)
	}
	if seg != nil && c.lidCurve {
		lidCurves(front, seg, c)
	}

	// Median over neighbouring columns: an eyelid edge is smooth.
	const half = 6
	win := make([]int, 0, 2*half+1)
	for j := range cols {
		win = win[:0]
		for d := -half; d <= half; d++ {
			win = append(win, front[(j+d+cols)%cols])
		}
		slices.Sort(win)
		f := min(win[half], front[j]+2)
		if th := 2 * math.Pi * float64(j) / float64(cols); c.upperSector > 0 && math.Abs(th-3*math.Pi/2) <= c.upperSector {
			f = 0
		}
		for i := max(f-1, 0); i < rows; i++ {
			occ[i*cols+j] = true
		}
	}
}

// lashFronts moves the front of each upper column (sin < -0.3) inward
// over the rows next to it (or to the band's outer edge) where lashes are
// dense, row after row without a gap (config.lashDensity): the share of
// black top-hat responses (a sample darker by lashDensK sigma than the
// brightest within ±3 columns of its row) among the samples in view
// (seen = not out of the image, not a highlight) in a window of
// 2 lashWinCols + 1 columns by 2 lashWinRows + 1 rows around it.
func lashFronts(front []int, band []float32, occ []bool, sigma float64, c config) {
	rows, cols := c.polarRows, c.polarCols
	const half = 3
	lim := float32(c.lashDensK * sigma)
	// Per row, the count of strokes and of samples in view within
	// ±lashWinCols columns (the angle wraps).
	hit := make([]int32, rows*cols)
	in := make([]int32, rows*cols)
	upper := func(j int) bool { return math.Sin(2*math.Pi*float64(j)/float64(cols)) < -0.3 }
	var isHit, isIn [512]int32
	if cols > len(isHit) {
		return
	}
	for i := range rows {
		r := band[i*cols : (i+1)*cols]
		for j := range cols {
			isHit[j], isIn[j] = 0, 0
			if occ[i*cols+j] || !upper(j) {
				continue
			}
			isIn[j] = 1
			var mx float32
			for d := -half; d <= half; d++ {
				mx = max(mx, r[(j+d+cols)%cols])
			}
			if mx-r[j] > lim {
				isHit[j] = 1
			}
		}
		w := c.lashWinCols
		var h, n int32
		for d := -w; d <= w; d++ {
			h += isHit[(d+cols)%cols]
			n += isIn[(d+cols)%cols]
		}
		for j := range cols {
			hit[i*cols+j], in[i*cols+j] = h, n
			h += isHit[(j+w+1)%cols] - isHit[(j-w+cols)%cols]
			n += isIn[(j+w+1)%cols] - isIn[(j-w+cols)%cols]
		}
	}
	for j := range cols {
		if !upper(j) {
			continue
		}
		// Lashes hang from the lid: the dense rows must reach the front
		// already found (or the band's outer edge) without a gap.
		i := min(front[j], rows) - 1
		for ; i >= 0; i-- {
			var h, n int32
			for d := max(i-c.lashWinRows, 0); d <= min(i+c.lashWinRows, rows-1); d++ {
				h += hit[d*cols+j]
				n += in[d*cols+j]
			}
			if n == 0 || float64(h) < c.lashDensity*float64(n) {
				break
			}
		}
		front[j] = min(front[j], i+1)
	}
}

// brightFronts moves the front of each lower column (sin > 0.3; with
// lidBrightBoth also the upper, sin < -0.3) inward over the rows next to
// it (or to the band's outer edge), row after row without a gap, where
// the band is brighter than the lateral iris of the same row by
// lidBright sigmas: the mean over 2 lidBrightCols + 1 columns and three
// rows of the samples in view (seen), each clipped to med ± 3 sigma, less
// the median of the lateral samples (|sin| < 0.5) of that row.
func brightFronts(front []int, band []float32, seen []bool, med, sigma float64, c config) {
	rows, cols := c.polarRows, c.polarCols
	lo, hi := float32(med-3*sigma), float32(med+3*sigma)
	ref := make([]float64, rows)
	var v []float32
	for i := range rows {
		v = v[:0]
		for j := range cols {
			if math.Abs(math.Sin(2*math.Pi*float64(j)/float64(cols))) < 0.5 && !seen[i*cols+j] {
				v = append(v, band[i*cols+j])
			}
		}
		ref[i] = med
		if len(v) >= 16 {
			slices.Sort(v)
			ref[i] = float64(v[len(v)/2])
		}
	}
	// Per row, the sum and count of clipped samples in view within
	// ±lidBrightCols columns (the angle wraps).
	sum := make([]float64, rows*cols)
	cnt := make([]int32, rows*cols)
	w := c.lidBrightCols
	for i := range rows {
		val := func(j int) (float64, int32) {
			k := i*cols + (j+cols)%cols
			if seen[k] {
				return 0, 0
			}
			return float64(min(max(band[k], lo), hi)), 1
		}
		var s float64
		var n int32
		for d := -w; d <= w; d++ {
			a, b := val(d)
			s, n = s+a, n+b
		}
		for j := range cols {
			sum[i*cols+j], cnt[i*cols+j] = s, n
			a, b := val(j + w + 1)
			x, y := val(j - w)
			s, n = s+a-x, n+b-y
		}
	}
	lim := c.lidBright * sigma
	prof := make([]float64, rows)
	for j := range cols {
		sn := math.Sin(2 * math.Pi * float64(j) / float64(cols))
		if sn <= 0.3 && (!c.lidBrightBoth || sn >= -0.3) {
			continue
		}
		if c.lidStep > 0 {
			// The column's profile, averaged over its window and one
			// row either side, less the lateral iris of its row (which
			// shares the dark fringe at the pupil); NaN where nothing
			// is in view.
			for i := range rows {
				var s float64
				var n int32
				for d := max(i-1, 0); d <= min(i+1, rows-1); d++ {
					s += sum[d*cols+j]
					n += cnt[d*cols+j]
				}
				prof[i] = math.NaN()
				if n > 0 {
					prof[i] = s/float64(n) - ref[i]
				}
			}
			step := c.lidStep * sigma
		scan:
			for i := range min(front[j], rows) {
				a, b := prof[max(i-2, 0)], prof[min(i+2, rows-1)]
				if !(b-a >= step) {
					continue
				}
				for r := min(i+c.lidStepSkip, rows-1); r < rows; r++ {
					if !(prof[r]-a >= step/2) || prof[r] < c.lidStepLevel*sigma {
						continue scan
					}
				}
				front[j] = i
				break
			}
			continue
		}
		i := min(front[j], rows) - 1
		for ; i >= 0; i-- {
			var s, r float64
			var n int32
			for d := max(i-1, 0); d <= min(i+1, rows-1); d++ {
				s += sum[d*cols+j]
				n += cnt[d*cols+j]
				r += ref[d] * float64(cnt[d*cols+j])
			}
			if n == 0 || s-r < lim*float64(n) {
				break
			}
		}
		front[j] = min(front[j], i+1)
	}
}

// bandPoint is the image point of band sample (row i, column j).
func bandPoint(s *segmentation, c config, i, j int) (x, y float64) {
	th := 2 * math.Pi * float64(j) / float64(c.polarCols)
	cs, sn := math.Cos(th), math.Sin(th)
	px, py := s.pupil.x+s.pupil.r*cs, s.pupil.y+s.pupil.r*sn
	ix, iy := s.iris.x+s.iris.r*cs, s.iris.y+s.iris.r*sn
	rho := c.rhoMin + (c.rhoMax-c.rhoMin)*(float64(i)+0.5)/float64(c.polarRows)
	return px + (ix-px)*rho, py + (iy-py)*rho
}

// lidCurves fits each eyelid's detected front (upper and lower side
// separately; only the upper with lidUpperOnly) as a parabola
// y = a x^2 + b x + c in the image, by least squares with two rounds of
// trimming (2.5 robust sigmas), and moves the front of the side's columns
// (|sin| >= 0.3) inward to where the band crosses the parabola, within the
// horizontal extent of the fronts kept (no extrapolation beyond them);
// with lidGapOnly only columns where no front was found. An eyelid is a
// smooth curve across the eye: where its edge was found in some columns,
// those between them (an edge too faint for the thresholds) are covered
// too. A fit is used only with at least lidMin fronts, at least lidInlier
// of them kept, a scatter within lidMaxSigma (if set), the curvature of an
// eyelid (opening away from the pupil) and its apex beyond the pupil's
// edge.
func lidCurves(front []int, s *segmentation, c config) {
	rows, cols := c.polarRows, c.polarCols
	for _, upper := range []bool{true, false} {
		if !upper && c.lidUpperOnly {
			continue
		}
		var xs, ys []float64
		for j := range cols {
			sn := math.Sin(2 * math.Pi * float64(j) / float64(cols))
			if (upper && sn > -0.3) || (!upper && sn < 0.3) || front[j] >= rows {
				continue
			}
			x, y := bandPoint(s, c, front[j], j)
			xs, ys = append(xs, x-s.pupil.x), append(ys, y-s.pupil.y)
		}
		if len(xs) < c.lidMin {
			continue
		}
		keep := make([]bool, len(xs))
		for i := range keep {
			keep[i] = true
		}
		var q [3]float64
		ok := false
		sigma := 0.0
		for round := range 3 {
			q, ok = fitParabola(xs, ys, keep)
			if !ok || round == 2 {
				break
			}
			res := make([]float64, 0, len(xs))
			for i := range xs {
				if keep[i] {
					res = append(res, math.Abs(ys[i]-(q[0]*xs[i]*xs[i]+q[1]*xs[i]+q[2])))
				}
			}
			slices.Sort(res)
			sigma = 1.4826 * res[len(res)/2]
			lim := max(2, 2.5*sigma)
			n := 0
			for i := range xs {
				keep[i] = math.Abs(ys[i]-(q[0]*xs[i]*xs[i]+q[1]*xs[i]+q[2])) <= lim
				if keep[i] {
					n++
				}
			}
			if n < c.lidMin {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		// y grows downward: an upper lid opens downward in y (a > 0, apex
		// above the pupil), a lower one upward.
		lo, hi := math.Inf(1), math.Inf(-1)
		kept := 0
		for i, x := range xs {
			if keep[i] {
				lo, hi = min(lo, x), max(hi, x)
				kept++
			}
		}
		// Fronts of a real eyelid lie on one curve: most of them must
		// be inliers.
		if float64(kept) < c.lidInlier*float64(len(xs)) || (c.lidMaxSigma > 0 && sigma > c.lidMaxSigma) {
			continue
		}
		apex := q[2] - q[1]*q[1]/(4*q[0])
		if upper && (q[0] <= 0 || apex > -s.pupil.r) || !upper && (q[0] >= 0 || apex < s.pupil.r) {
			continue
		}
		for j := range cols {
			sn := math.Sin(2 * math.Pi * float64(j) / float64(cols))
			if (upper && sn > -0.3) || (!upper && sn < 0.3) {
				continue
			}
			if c.lidGapOnly && front[j] < rows {
				continue
			}
			for i := 0; i < min(front[j], rows); i++ {
				x, y := bandPoint(s, c, i, j)
				x, y = x-s.pupil.x, y-s.pupil.y
				ly := q[0]*x*x + q[1]*x + q[2]
				if x < lo || x > hi {
					continue
				}
				if (upper && y < ly) || (!upper && y > ly) {
					front[j] = i
					break
				}
			}
		}
	}
}

// fitParabola fits y = q0 x^2 + q1 x + q2 to the kept points by least
// squares (normal equations, Cramer's rule); ok is false when singular.
func fitParabola(xs, ys []float64, keep []bool) (q [3]float64, ok bool) {
	var m [3][3]float64
	var v [3]float64
	for i := range xs {
		if !keep[i] {
			continue
		}
		x := xs[i] / 100 // scaled for conditioning
		p := [3]float64{x * x, x, 1}
		for a := range 3 {
			for b := range 3 {
				m[a][b] += p[a] * p[b]
			}
			v[a] += p[a] * ys[i]
		}
	}
	det := func(m [3][3]float64) float64 {
		return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	}
	d := det(m)
	if math.Abs(d) < 1e-9 {
		return q, false
	}
	for k := range 3 {
		mk := m
		for a := range 3 {
			mk[a][k] = v[a]
		}
		q[k] = det(mk) / d
	}
	q[0] /= 100 * 100
	q[1] /= 100
	return q, true
}

// encode filters each radial band of the unwrapped iris with a 1-D
// log-Gabor filter along the angle and keeps the signs of the real and
// imaginary responses (Masek 2003; Daugman 2004 phase quantisation). Bits
// whose window is too occluded, and the weakest fragile fraction of the
// rest, are masked (Hollingsworth et al. 2009).
func encode(band []float32, occ []bool, c config) *Template {
	rows, cols := DefaultRows, DefaultCols
	waves := []float64{c.wavelength}
	if c.scale2 > 0 {
		waves = append(waves, c.wavelength*c.scale2)
	}
	bands := rows / len(waves)
	step := c.polarCols / cols
	t := &Template{Encoder: EncoderVersion, Rows: rows, Cols: cols}
	t.Code = make([]uint64, t.words())
	t.Mask = make([]uint64, t.words())
	filters := make([][]float64, len(waves))
	for i, w := range waves {
		filters[i] = logGabor(c.polarCols, w, c.sigmaOnF)
	}
	resp, frac := bandSpectra(band, occ, c, rows, bands)
	var weight []float64
	if c.whiten > 0 {
		spec := resp
		if c.whitenInner {
			spec = resp[:bands/2]
		}
		weight = whitening(spec, c.whitenHalf, c.whiten, c.whitenRef, c.whitenSteep, c.whitenCap)
	}
	for r := range rows {
		x, filter := resp[r], filters[r/bands]
		for j := range x {
			h := filter[j]
			if weight != nil {
				h *= weight[j]
			}
			x[j] *= complex(h, 0)
		}
		fft(x, true)
	}
	if c.radial == 1 {
		radialPairs(resp, frac)
	}
	type weak struct {
		bit int
		mag float64
	}
	var mags []weak
	rowStart := make([]int, 0, rows+1)
	for r := range rows {
		rowStart = append(rowStart, len(mags))
		x, fr := resp[r], frac[r]
		for col := range cols {
			j := col * step
			var o float64
			for d := -c.maskWindow; d <= c.maskWindow; d++ {
				o += fr[(j+d+c.polarCols)%c.polarCols]
			}
			o /= float64(2*c.maskWindow + 1)
			z := x[j]
			for k, v := range [2]float64{real(z), imag(z)} {
				bit := (col*rows+r)*2 + k
				if v > 0 {
					t.Code[bit>>6] |= 1 << (bit & 63)
				}
				if o < c.maskFrac {
					mags = append(mags, weak{bit, math.Abs(v)})
				}
			}
		}
	}
	rowStart = append(rowStart, len(mags))
	byMag := func(a, b weak) int {
		switch {
		case a.mag < b.mag:
			return -1
		case a.mag > b.mag:
			return 1
		}
		return 0
	}
	groups := [][]weak{mags}
	if c.fragileRow {
		groups = groups[:0]
		for r := range rows {
			groups = append(groups, mags[rowStart[r]:rowStart[r+1]])
		}
	}
	for _, g := range groups {
		slices.SortFunc(g, byMag)
		for _, w := range g[int(c.fragile*float64(len(g))):] {
			t.Mask[w.bit>>6] |= 1 << (w.bit & 63)
		}
	}
	return t
}

// bandSpectra averages the polar rows of band into the bands of code
// rows 0..rows-1 (row r is band r mod bands, of polarRows/bands polar rows),
// fills each band's occluded samples (c.detrend) and returns its spectrum
// along the angle and the occluded fraction of each of its polar columns.
func bandSpectra(band []float32, occ []bool, c config, rows, bands int) (resp [][]complex128, frac [][]float64) {
	per := c.polarRows / bands
	// resp[r] is code row r's filtered band along the angle, frac[r] the
	// occluded fraction of each of its polar columns.
	resp = make([][]complex128, rows)
	frac = make([][]float64, rows)
	for r := range rows {
		b := r % bands
		x := make([]complex128, c.polarCols)
		fr := make([]float64, c.polarCols)
		// Average `per` polar rows into one band; note occluded fractions.
		var sum float64
		n := 0
		for j := range c.polarCols {
			var s float64
			m := 0
			for i := b * per; i < (b+1)*per; i++ {
				k := i*c.polarCols + j
				if !occ[k] {
					s += float64(band[k])
					m++
				}
			}
			fr[j] = 1 - float64(m)/float64(per)
			if m > 0 {
				x[j] = complex(s/float64(m), 0)
				sum += s / float64(m)
				n++
			} else {
				x[j] = cmplx.NaN()
			}
		}
		if c.detrend > 0 {
			detrendBand(x, c.detrend)
		} else {
			mean := 0.0
			if n > 0 {
				mean = sum / float64(n)
			}
			for j := range x {
				if cmplx.IsNaN(x[j]) {
					x[j] = complex(mean, 0)
				}
			}
		}
		fft(x, false)
		resp[r], frac[r] = x, fr
	}
	return resp, frac
}

// whitening returns, per frequency bin, the factor P(k)^(-e/2), P the
// power spectrum of the template's bands (their spectra spec, averaged
// over the bands and over bins k-half..k+half), normalised so the factor's
// mean over the positive half is 1: with e = 1 every template's bands
// reach the filter with a flat spectrum, so the code's correlation along
// the angle is the filter's and not the optics'.
func whitening(spec [][]complex128, half int, e, ref float64, steepOnly bool, capSlope float64) []float64 {
	n := len(spec[0])
	p := make([]float64, n)
	for _, x := range spec {
		for k, z := range x {
			p[k] += real(z)*real(z) + imag(z)*imag(z)
		}
	}
	w := make([]float64, n)
	var sum float64
	if half < 0 {
		// A power law fitted to P over the bins from a quarter to four
		// times the filter's centre (-half: that centre's bin), by least
		// squares in log-log: one slope per template, little noise.
		b := spectrumSlope(p, -half) - ref
		if steepOnly {
			b = min(b, 0)
		}
		if capSlope > 0 {
			b = max(min(b, capSlope), -capSlope)
		}
		for k := 1; k < n/2; k++ {
			w[k] = math.Pow(float64(k), -b*e/2)
			sum += w[k]
		}
		for k := range w {
			w[k] /= sum / float64(n/2-1)
		}
		return w
	}
	for k := 1; k < n/2; k++ {
		var s float64
		var m int
		for d := -half; d <= half; d++ {
			if j := k + d; j >= 1 && j < n/2 {
				s += p[j]
				m++
			}
		}
		w[k] = math.Pow(s/float64(m)+1e-12, -e/2)
		sum += w[k]
	}
	for k := range w {
		w[k] /= sum / float64(n/2-1)
	}
	return w
}

// spectrumSlope fits log p(k) = a + b log k by least squares over the bins
// from a quarter to four times bin c and returns b.
func spectrumSlope(p []float64, c int) float64 {
	n := len(p)
	var sx, sy, sxx, sxy, m float64
	for k := max(1, c/4); k <= min(n/2-1, 4*c); k++ {
		x, y := math.Log(float64(k)), math.Log(p[k]+1e-12)
		sx, sy, sxx, sxy, m = sx+x, sy+y, sxx+x*x, sxy+x*y, m+1
	}
	return (m*sxy - sx*sy) / (m*sxx - sx*sx)
}

// radialPairs replaces each pair of neighbouring rows (2p, 2p+1) by their
// half sum and half difference (a Haar step across the radius): two
// neighbouring bands with the same variance give a sum and a difference
// that are uncorrelated, where the bands themselves are correlated by the
// optics' blur and the radial texture. A pair's occluded fraction is the
// larger of its two rows'.
func radialPairs(resp [][]complex128, frac [][]float64) {
	for p := 0; p+1 < len(resp); p += 2 {
		a, b := resp[p], resp[p+1]
		for j := range a {
			a[j], b[j] = (a[j]+b[j])/2, (a[j]-b[j])/2
			m := max(frac[p][j], frac[p+1][j])
			frac[p][j], frac[p+1][j] = m, m
		}
	}
}

// detrendBand subtracts from every sample of x (real values, NaN where
// occluded) the mean of the unoccluded samples within a circular window of
// width samples around it; an occluded sample becomes 0 (its local mean),
// and so does one with no unoccluded sample in its window.
func detrendBand(x []complex128, width int) {
	n := len(x)
	half := width / 2
	v := make([]float64, n)
	ok := make([]float64, n)
	for j, z := range x {
		if !cmplx.IsNaN(z) {
			v[j], ok[j] = real(z), 1
		}
	}
	var s, c float64
	for d := -half; d <= half; d++ {
		k := (d + n) % n
		s += v[k]
		c += ok[k]
	}
	for j := range x {
		switch {
		case ok[j] == 0 || c == 0:
			x[j] = 0
		default:
			x[j] = complex(v[j]-s/c, 0)
		}
		out, in := (j-half+n)%n, (j+half+1)%n
		s += v[in] - v[out]
		c += ok[in] - ok[out]
	}
}

// logGabor returns the frequency response of a 1-D log-Gabor filter for an
// n-point FFT, positive frequencies only (so the output is analytic).
func logGabor(n int, wavelength, sigmaOnF float64) []float64 {
	h := make([]float64, n)
	f0 := 1 / wavelength
	den := 2 * math.Log(sigmaOnF) * math.Log(sigmaOnF)
	for k := 1; k < n/2; k++ {
		f := float64(k) / float64(n)
		l := math.Log(f / f0)
		h[k] = 2 * math.Exp(-l*l/den)
	}
	return h
}

// fft is an in-place radix-2 FFT; len(x) must be a power of two. inverse
// applies the conjugate transform and divides by n.
func fft(x []complex128, inverse bool) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Rect(1, sign*2*math.Pi/float64(size))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := range size / 2 {
				a, b := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = a+b, a-b
				wk *= w
			}
		}
	}
	if inverse {
		for i := range x {
			x[i] /= complex(float64(n), 0)
		}
	}
}
