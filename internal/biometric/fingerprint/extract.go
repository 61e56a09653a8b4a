package fingerprint

import (
	"fmt"
	"image"
	"math"
	"slices"
	"sort"
)

// Extraction works on an image resampled to 500 dpi, so every length below is
// in 500-dpi pixels (a ridge period is about 9).
const (
	blk          = 8    // block side for orientation, frequency and mask
	gaborRadius  = 6    // Gabor kernel radius; the kernel is 13x13
	orientBins   = 16   // Gabor orientations
	minPeriod    = 5    // shortest ridge period accepted, pixels
	maxPeriod    = 15   // longest ridge period accepted, pixels
	borderGap    = 14   // minutiae closer than this to the background are dropped
	contrastFrac = 0.22 // foreground: block contrast above this fraction of the 95th percentile
	minCoherence = 0.05 // foreground: and orientation coherence above this
	minClarity   = 0.4  // foreground after filtering: image-response correlation at least this
	orientSmooth = 2    // orientation averaged over (2r+1)^2 blocks
	refinePasses = 2    // orientation re-estimated on the filtered image this often
	traceLen     = 10   // ridge length traced to find a minutia direction
	shortRidge   = 18   // an ending joined to another minutia by fewer pixels is false
	bridgeLen    = 12   // two bifurcations joined by fewer pixels form a bridge
	brokenGap    = 14   // facing endings closer than this are a broken ridge
	clusterGap   = 5    // minutiae closer than this to another are dropped
	minMinutiae  = 8    // fewer reliable minutiae than this is a quality failure
	maxMinutiae  = 64   // keep at most this many, best quality first
	minArea      = 6000 // fewer foreground pixels than this is a quality failure
	minContrast  = 5.0  // and above this many grey levels
)

// Extract finds the minutiae of a fingerprint image scanned at dpi dots per
// inch. The image must be grey (8 or 16 bit, or a colour model holding only
// grey pixels) with sides up to MaxSide, before and after scaling to 500 dpi. Coordinates in the result are scaled
// to 500 dpi. A blank image, or one with too little usable ridge area or too
// few reliable minutiae, gives an error wrapping ErrQualityTooLow. Extract is
// deterministic and safe for concurrent use.
func Extract(img image.Image, dpi int) (*Template, error) {
	const op = "fingerprint: extract"
	if dpi < MinDPI || dpi > MaxDPI {
		return nil, fmt.Errorf("%s: %d dpi: %w", op, dpi, ErrDPI)
	}
	if img == nil {
		return nil, fmt.Errorf("%s: nil image: %w", op, ErrNotImage)
	}
	pix, err := greyPixels(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if sw, sh := w*500/dpi, h*500/dpi; sw > MaxSide || sh > MaxSide {
		return nil, fmt.Errorf("%s: %dx%d at %d dpi is %dx%d at 500 dpi: %w", op, w, h, dpi, sw, sh, ErrTooLarge)
	}
	if dpi != 500 {
		pix, w, h = resample(pix, w, h, 500/float64(dpi))
	}
	if w < MinSide || h < MinSide {
		return nil, fmt.Errorf("%s: %dx%d at 500 dpi: %w", op, w, h, ErrTooSmall)
	}
	ms, f, _, err := extractMinutiae(pix, w, h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	t := newTemplate(w, h, ms)
	t.setDesc(ringDescriptors(t.Minutiae, f))
	return t, nil
}

// resample scales a grey image by s with bilinear interpolation.
func resample(pix []float32, w, h int, s float64) ([]float32, int, int) {
	nw, nh := max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
	out := make([]float32, nw*nh)
	for y := range nh {
		fy := (float64(y)+0.5)/s - 0.5
		y0 := int(math.Floor(fy))
		ty := float32(fy - float64(y0))
		y0c, y1c := clamp(y0, 0, h-1), clamp(y0+1, 0, h-1)
		for x := range nw {
			fx := (float64(x)+0.5)/s - 0.5
			x0 := int(math.Floor(fx))
			tx := float32(fx - float64(x0))
			x0c, x1c := clamp(x0, 0, w-1), clamp(x0+1, 0, w-1)
			a := pix[y0c*w+x0c]*(1-tx) + pix[y0c*w+x1c]*tx
			b := pix[y1c*w+x0c]*(1-tx) + pix[y1c*w+x1c]*tx
			out[y*nw+x] = a*(1-ty) + b*ty
		}
	}
	return out, nw, nh
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// fields holds the block-wise estimates of one image.
type fields struct {
	bw, bh    int
	mask      []bool    // foreground blocks
	orient    []float64 // ridge direction per block, [0, π)
	coherence []float64 // 0..1
	period    []float64 // ridge period per block, pixels
	mean, std []float32 // local grey mean and contrast
}

// extractMinutiae runs the extraction on a 500-dpi grey image and returns
// the minutiae, the block fields (with the final mask) and the skeleton the
// minutiae were taken from (1 on ridge pixels; for TestDebugViz).
func extractMinutiae(pix []float32, w, h int) ([]Minutia, *fields, []uint8, error) {
	f := estimateFields(pix, w, h, !fastCfg.on || fastCfg.period == 1 || fastCfg.holes > 0 || fastCfg.gabor > 0 || fastCfg.gaborAbove > 0 || fastCfg.gaborFinal || fastCfg.mixGabor > 0)
	useSTFT := fastCfg.on && (fastCfg.gaborAbove == 0 || medianPeriod(f) <= fastCfg.gaborAbove)
	area := 0
	for _, m := range f.mask {
		if m {
			area += blk * blk
		}
	}
	if area < minArea {
		return nil, nil, nil, fmt.Errorf("foreground %d pixels: %w", area, ErrQualityTooLow)
	}
	norm := normalise(pix, w, h, f)
	if fastCfg.on && fastCfg.closeR > 0 {
		greyClose(norm, w+2*gaborRadius, h+2*gaborRadius, fastCfg.closeR)
	}
	if fastCfg.on && fastCfg.closeAlong > 0 {
		closeAlong(norm, w, h, f, fastCfg.closeAlong)
	}
	if stftCfg.speriod {
		f.period = spectralPeriod(norm, w, h, f)
	}
	bank := gaborBank{}
	var st filtered
	coh0 := slices.Clone(f.coherence)
	if useSTFT {
		if fastCfg.smooth0 > 0 {
			f.orient, f.coherence = orientationField(pix, w, h, f.bw, f.bh, fastCfg.smooth0, nil)
		}
		for range fastCfg.gabor {
			enhance(norm, w, h, f, bank, &st)
			o2, c2 := orientationField(st.resp, w, h, f.bw, f.bh, orientSmooth, nil)
			for b := range f.orient {
				if f.mask[b] && c2[b] > f.coherence[b] {
					f.orient[b], f.coherence[b] = o2[b], c2[b]
				}
			}
		}
		stftEnhanceFast(norm, w, h, f, &st)
		if fastCfg.mixGabor > 0 {
			// Eleventh pass: the STFT and Gabor responses (the Gabor
			// filter run once on the STFT's refined orientation), each
			// scaled to unit RMS over the mask, added with weights 1 and
			// mixGabor.
			var sg filtered
			enhance(norm, w, h, f, bank, &sg)
			var e1, e2 float64
			for y := range h {
				for x := range w {
					if f.inMask(x, y) {
						a, b := float64(st.resp[y*w+x]), float64(sg.resp[y*w+x])
						e1 += a * a
						e2 += b * b
					}
				}
			}
			if e1 > 0 && e2 > 0 {
				k1 := float32(1 / math.Sqrt(e1))
				k2 := float32(fastCfg.mixGabor / math.Sqrt(e2))
				for i := range st.resp {
					v := k1*st.resp[i] + k2*sg.resp[i]
					st.resp[i] = v
					st.ridges[i] = 0
					if v > 0 {
						st.ridges[i] = 1
					}
				}
			}
		}
		if a := float32(fastCfg.texture); a > 0 {
			// Eleventh pass: the normalised image's texture (open pores)
			// added back to the response before the binarisation.
			const r = gaborRadius
			for y := range h {
				for x := range w {
					if st.resp[y*w+x] == 0 && !f.inMask(x, y) {
						continue
					}
					v := st.resp[y*w+x] + a*norm[(y+r)*(w+2*r)+x+r]
					st.resp[y*w+x] = v
					st.ridges[y*w+x] = 0
					if v > 0 {
						st.ridges[y*w+x] = 1
					}
				}
			}
		}
		if fastCfg.gaborFinal {
			// Eleventh pass: the STFT's refined orientation field, the
			// Gabor filter's rendering.
			st = filtered{}
			enhance(norm, w, h, f, bank, &st)
		}
	} else {
		enhance(norm, w, h, f, bank, &st)
		// Refinement: the orientation measured on the filtered image is cleaner
		// in noisy and high-curvature areas. Where it is more coherent it
		// replaces the first estimate, and the changed blocks are filtered again.
		for range refinePasses {
			o2, c2 := orientationField(st.resp, w, h, f.bw, f.bh, orientSmooth, nil)
			for b := range f.orient {
				if f.mask[b] && c2[b] > f.coherence[b] {
					f.orient[b], f.coherence[b] = o2[b], c2[b]
				}
			}
			enhance(norm, w, h, f, bank, &st)
		}
	}
	var gcl []float64
	if stftCfg.mode != 0 {
		if stftCfg.unclear > 0 || stftCfg.gclar {
			gcl = clarity(norm, st.resp, w, h, f)
		}
		stftEnhance(norm, w, h, f, gcl, &st)
	}
	// Segmentation, second look: blocks where the filter response explains
	// little of the image (isotropic texture, speckled background, smudge)
	// leave the mask, so no minutia is taken from them or near them.
	// A print that is unclear all over (a sensor unlike those measured, a
	// uniformly poor capture) keeps its first mask rather than failing to
	// enrol here: when under a third of the area (or under minArea) would
	// be left, the step is skipped and the usual minutia tests decide.
	cl := gcl
	if !stftCfg.gclar {
		cl = clarity(norm, st.resp, w, h, f)
	}
	if useSTFT && fastCfg.qual == 1 {
		f.coherence = coh0
	}
	if useSTFT && fastCfg.qual == 2 {
		for b := range cl {
			f.coherence[b] = min(1, max(0, cl[b]))
		}
	}
	minCl := minClarity
	if useSTFT && fastCfg.clarity > 0 {
		minCl = fastCfg.clarity
	}
	clearMask := slices.Clone(f.mask)
	for b := range clearMask {
		clearMask[b] = clearMask[b] && cl[b] >= minCl
	}
	clearMask = cleanMask(clearMask, f.bw, f.bh)
	if n := countTrue(clearMask); blk*blk*n >= minArea && 3*n >= countTrue(f.mask) {
		f.mask = clearMask
	}
	if stftCfg.energy {
		em := energyMask(pix, w, h, f)
		for b := range em {
			em[b] = em[b] && f.mask[b]
		}
		em = cleanMask(em, f.bw, f.bh)
		if n := countTrue(em); blk*blk*n >= minArea && 2*n >= countTrue(f.mask) {
			f.mask = em
		}
	}
	ridges := st.ridges
	if stftCfg.holes > 0 {
		fillSmall(ridges, w, h, 1, stftCfg.holes)
		fillSmall(ridges, w, h, 0, stftCfg.holes)
	}
	if useSTFT && (fastCfg.holes > 0 || fastCfg.holesPx > 0) {
		maxA := fastCfg.holesPx
		if fastCfg.holes > 0 {
			p := medianPeriod(f)
			maxA = int(math.Round(fastCfg.holes * p * p))
		}
		seen := make([]uint8, w*h)
		fillSmallBounded(ridges, w, h, 1, maxA, seen)
		clear(seen)
		fillSmallBounded(ridges, w, h, 0, maxA, seen)
	}
	if useSTFT && fastCfg.dirSmooth > 0 {
		// Eleventh pass: the minutiae's directions (and the descriptors)
		// from the final response's orientation, averaged over fewer blocks.
		o2, _ := orientationField(st.resp, w, h, f.bw, f.bh, fastCfg.dirSmooth-1, nil)
		for b := range f.orient {
			if f.mask[b] {
				f.orient[b] = o2[b]
			}
		}
	}
	if debugRidges != nil {
		debugRidges(st.resp, ridges)
	}
	thin(ridges, w, h)
	ms := findMinutiae(ridges, w, h, f)
	if len(ms) < minMinutiae {
		return nil, nil, nil, fmt.Errorf("%d reliable minutiae: %w", len(ms), ErrQualityTooLow)
	}
	return ms, f, ridges, nil
}

// greyClose closes the padded normalised image (ridges positive) with a
// square of side 2r+1: a dilation (maximum) then an erosion (minimum), which
// fills dips narrower than the square in the ridges, such as open pores
// (eleventh pass of issue 17).
func greyClose(a []float32, w, h, r int) {
	tmp := make([]float32, len(a))
	pass := func(dst, src []float32, mx bool, horiz bool) {
		for y := range h {
			for x := range w {
				v := src[y*w+x]
				for d := -r; d <= r; d++ {
					xx, yy := x, y
					if horiz {
						xx += d
					} else {
						yy += d
					}
					if xx < 0 || yy < 0 || xx >= w || yy >= h {
						continue
					}
					u := src[yy*w+xx]
					if mx == (u > v) {
						v = u
					}
				}
				dst[y*w+x] = v
			}
		}
	}
	pass(tmp, a, true, true)
	pass(a, tmp, true, false)
	pass(tmp, a, false, true)
	pass(a, tmp, false, false)
}

// closeAlong closes the padded normalised image along the ridges: a
// maximum then a minimum over 2r+1 pixels in the block's ridge direction,
// which fills dips within a ridge (open pores) but not the valleys, which
// run along the ridges too (eleventh pass of issue 17).
func closeAlong(norm []float32, w, h int, f *fields, r int) {
	const pad = gaborRadius
	pw := w + 2*pad
	tmp := slices.Clone(norm)
	pass := func(dst, src []float32, mx bool) {
		for y := range h {
			for x := range w {
				b := f.at(x, y)
				if !f.mask[b] {
					continue
				}
				c, s := math.Cos(f.orient[b]), math.Sin(f.orient[b])
				v := src[(y+pad)*pw+x+pad]
				for d := -r; d <= r; d++ {
					xx := x + int(math.Round(float64(d)*c))
					yy := y + int(math.Round(float64(d)*s))
					if xx < -pad || yy < -pad || xx >= w+pad || yy >= h+pad {
						continue
					}
					u := src[(yy+pad)*pw+xx+pad]
					if mx == (u > v) {
						v = u
					}
				}
				dst[(y+pad)*pw+x+pad] = v
			}
		}
	}
	pass(tmp, norm, true)
	pass(norm, tmp, false)
}

// debugRidges, when set (by a test), sees the filter response and the
// binarised ridges before thinning.
var debugRidges func(resp []float32, ridges []uint8)

// estimateFields computes the foreground mask, orientation field, coherence
// and (with period) ridge period on blocks of blk pixels.
func estimateFields(pix []float32, w, h int, period bool) *fields {
	bw, bh := (w+blk-1)/blk, (h+blk-1)/blk
	nb := bw * bh
	sum := make([]float64, nb)
	sum2 := make([]float64, nb)
	cnt := make([]float64, nb)
	for y := range h {
		by := y / blk
		for x := range w {
			b := by*bw + x/blk
			v := float64(pix[y*w+x])
			sum[b] += v
			sum2[b] += v * v
			cnt[b]++
		}
	}
	box := func(a []float64) []float64 { return boxBlocks(a, bw, bh, 1) }
	sum, sum2, cnt = box(sum), box(sum2), box(cnt)
	f := &fields{bw: bw, bh: bh, mask: make([]bool, nb), period: make([]float64, nb),
		mean: make([]float32, nb), std: make([]float32, nb)}
	contrast := make([]float64, nb)
	for b := range nb {
		m := sum[b] / cnt[b]
		sd := math.Sqrt(max(0, sum2[b]/cnt[b]-m*m))
		f.mean[b], f.std[b] = float32(m), float32(max(sd, 1))
		contrast[b] = sd
	}
	f.orient, f.coherence = orientationField(pix, w, h, bw, bh, orientSmooth, nil)
	// Foreground: enough contrast relative to the image, cleaned up.
	sorted := slices.Clone(contrast)
	slices.Sort(sorted)
	thr := max(minContrast, contrastFrac*sorted[len(sorted)*95/100])
	for b := range nb {
		f.mask[b] = contrast[b] > thr && f.coherence[b] > minCoherence
	}
	f.mask = cleanMask(f.mask, bw, bh)
	if period {
		estimatePeriod(pix, w, h, f)
	}
	return f
}

// orientationField estimates the ridge direction (in [0, π)) and its
// coherence per block from Sobel gradients: the structure tensor of each
// block, averaged in the doubled-angle representation over (2r+1)^2 blocks
// (Kass and Witkin 1987; Bazen and Gerez 2002).
//
// With near set, only the blocks it marks are measured: for an image that is
// zero outside them and their 3x3 neighbourhoods (a filter response on the
// mask blocks, near marking those and their neighbours) the result is the
// same.
func orientationField(pix []float32, w, h, bw, bh, r int, near []bool) (orient, coherence []float64) {
	nb := bw * bh
	sxx := make([]float64, nb)
	syy := make([]float64, nb)
	sxy := make([]float64, nb)
	for y := 1; y < h-1; y++ {
		by := y / blk
		for x := 1; x < w-1; x++ {
			b := by*bw + x/blk
			if near != nil && !near[b] {
				x = (x/blk+1)*blk - 1
				continue
			}
			p := func(dx, dy int) float64 { return float64(pix[(y+dy)*w+x+dx]) }
			gx := (p(1, -1) + 2*p(1, 0) + p(1, 1)) - (p(-1, -1) + 2*p(-1, 0) + p(-1, 1))
			gy := (p(-1, 1) + 2*p(0, 1) + p(1, 1)) - (p(-1, -1) + 2*p(0, -1) + p(1, -1))
			sxx[b] += gx * gx
			syy[b] += gy * gy
			sxy[b] += gx * gy
		}
	}
	vx, vy, en := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	for b := range nb {
		vx[b], vy[b], en[b] = sxx[b]-syy[b], 2*sxy[b], sxx[b]+syy[b]
	}
	vx, vy, en = boxBlocks(vx, bw, bh, r), boxBlocks(vy, bw, bh, r), boxBlocks(en, bw, bh, r)
	orient, coherence = make([]float64, nb), make([]float64, nb)
	for b := range nb {
		o := 0.5*math.Atan2(vy[b], vx[b]) + math.Pi/2 // ridges run across the gradient
		if o >= math.Pi {
			o -= math.Pi
		}
		orient[b] = o
		if en[b] > 0 {
			coherence[b] = math.Hypot(vx[b], vy[b]) / en[b]
		}
	}
	return orient, coherence
}

// boxBlocks averages a block field over (2r+1)^2 neighbourhoods (clipped).
func boxBlocks(a []float64, bw, bh, r int) []float64 {
	tmp := make([]float64, len(a))
	out := make([]float64, len(a))
	for y := range bh {
		for x := range bw {
			s, n := 0.0, 0
			for dx := -r; dx <= r; dx++ {
				if xx := x + dx; xx >= 0 && xx < bw {
					s += a[y*bw+xx]
					n++
				}
			}
			tmp[y*bw+x] = s / float64(n)
		}
	}
	for y := range bh {
		for x := range bw {
			s, n := 0.0, 0
			for dy := -r; dy <= r; dy++ {
				if yy := y + dy; yy >= 0 && yy < bh {
					s += tmp[yy*bw+x]
					n++
				}
			}
			out[y*bw+x] = s / float64(n)
		}
	}
	return out
}

// cleanMask smooths the block mask with a majority vote, keeps the largest
// connected region and fills its holes.
func cleanMask(m []bool, bw, bh int) []bool {
	for range 2 {
		n := make([]bool, len(m))
		for y := range bh {
			for x := range bw {
				c, t := 0, 0
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						xx, yy := x+dx, y+dy
						if xx < 0 || yy < 0 || xx >= bw || yy >= bh {
							continue
						}
						t++
						if m[yy*bw+xx] {
							c++
						}
					}
				}
				n[y*bw+x] = 2*c > t
			}
		}
		m = n
	}
	label := make([]int, len(m))
	best, bestSize, next := 0, 0, 0
	var stack []int
	flood := func(start int, keep func(int) bool, id int) int {
		size := 0
		stack = append(stack[:0], start)
		label[start] = id
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			x, y := p%bw, p/bw
			for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				xx, yy := x+d[0], y+d[1]
				if xx < 0 || yy < 0 || xx >= bw || yy >= bh {
					continue
				}
				q := yy*bw + xx
				if label[q] == 0 && keep(q) {
					label[q] = id
					stack = append(stack, q)
				}
			}
		}
		return size
	}
	for p := range m {
		if m[p] && label[p] == 0 {
			next++
			if s := flood(p, func(q int) bool { return m[q] }, next); s > bestSize {
				best, bestSize = next, s
			}
		}
	}
	out := make([]bool, len(m))
	if bestSize == 0 {
		return out // no foreground at all
	}
	// Background reachable from the border stays background; other holes fill.
	outside := -1
	for p := range m {
		x, y := p%bw, p/bw
		if (x == 0 || y == 0 || x == bw-1 || y == bh-1) && label[p] != best && label[p] != outside {
			flood(p, func(q int) bool { return label[q] != best }, outside)
		}
	}
	for p := range m {
		out[p] = label[p] != outside && (label[p] == best || best != 0)
	}
	return out
}

// estimatePeriod measures the ridge period per foreground block from the
// grey-level profile across the ridges, then fills gaps and smooths.
func estimatePeriod(pix []float32, w, h int, f *fields) {
	const half, along = 16, 6
	var sig [2 * half]float64
	valid := make([]bool, len(f.mask))
	for by := range f.bh {
		for bx := range f.bw {
			b := by*f.bw + bx
			if !f.mask[b] {
				continue
			}
			cx, cy := float64(bx*blk+blk/2), float64(by*blk+blk/2)
			o := f.orient[b]
			dx, dy := math.Cos(o), math.Sin(o) // along the ridge
			nx, ny := -dy, dx                  // across the ridge
			for u := -half; u < half; u++ {
				s, n := 0.0, 0
				for v := -along; v <= along; v++ {
					x := int(cx + float64(u)*nx + float64(v)*dx)
					y := int(cy + float64(u)*ny + float64(v)*dy)
					if x >= 0 && y >= 0 && x < w && y < h {
						s += float64(pix[y*w+x])
						n++
					}
				}
				if n > 0 {
					sig[u+half] = s / float64(n)
				} else {
					sig[u+half] = math.NaN()
				}
			}
			// Peaks of the lightly smoothed profile (valleys are bright).
			var peaks []int
			for i := 2; i < 2*half-2; i++ {
				a := (sig[i-1] + sig[i] + sig[i+1]) / 3
				l := (sig[i-2] + sig[i-1] + sig[i]) / 3
				r := (sig[i] + sig[i+1] + sig[i+2]) / 3
				if a > l && a >= r && !math.IsNaN(a) {
					peaks = append(peaks, i)
				}
			}
			if len(peaks) >= 2 {
				p := float64(peaks[len(peaks)-1]-peaks[0]) / float64(len(peaks)-1)
				if p >= minPeriod && p <= maxPeriod {
					f.period[b] = p
					valid[b] = true
				}
			}
		}
	}
	var vals []float64
	for b, v := range valid {
		if v {
			vals = append(vals, f.period[b])
		}
	}
	med := 9.0
	if len(vals) > 0 {
		sort.Float64s(vals)
		med = vals[len(vals)/2]
	}
	out := make([]float64, len(f.period))
	for by := range f.bh {
		for bx := range f.bw {
			s, n := 0.0, 0.0
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					xx, yy := bx+dx, by+dy
					if xx < 0 || yy < 0 || xx >= f.bw || yy >= f.bh || !valid[yy*f.bw+xx] {
						continue
					}
					s += f.period[yy*f.bw+xx]
					n++
				}
			}
			if n >= 3 {
				out[by*f.bw+bx] = 0.7*s/n + 0.3*med
			} else {
				out[by*f.bw+bx] = med
			}
		}
	}
	f.period = out
}

// gaborBank caches kernels by orientation bin and period.
type gaborBank map[[2]int][]float32

// kernel returns the kernel of orientation bin ob and ridge period
// period/2 pixels.
func (g gaborBank) kernel(ob, period int) []float32 {
	key := [2]int{ob, period}
	if k, ok := g[key]; ok {
		return k
	}
	const side = 2*gaborRadius + 1
	k := make([]float32, side*side)
	o := float64(ob) * math.Pi / orientBins
	dx, dy := math.Cos(o), math.Sin(o)
	p := float64(period) / 2
	sAcross, sAlong := 0.5*p, 4.5
	mean := 0.0
	wsum := 0.0
	for y := -gaborRadius; y <= gaborRadius; y++ {
		for x := -gaborRadius; x <= gaborRadius; x++ {
			along := float64(x)*dx + float64(y)*dy
			across := -float64(x)*dy + float64(y)*dx
			env := math.Exp(-0.5 * (across*across/(sAcross*sAcross) + along*along/(sAlong*sAlong)))
			v := env * math.Cos(2*math.Pi*across/p)
			k[(y+gaborRadius)*side+x+gaborRadius] = float32(v)
			mean += v
			wsum += env
		}
	}
	// Remove the DC response, so flat areas give zero.
	for y := -gaborRadius; y <= gaborRadius; y++ {
		for x := -gaborRadius; x <= gaborRadius; x++ {
			along := float64(x)*dx + float64(y)*dy
			across := -float64(x)*dy + float64(y)*dx
			env := math.Exp(-0.5 * (across*across/(sAcross*sAcross) + along*along/(sAlong*sAlong)))
			k[(y+gaborRadius)*side+x+gaborRadius] -= float32(mean * env / wsum)
		}
	}
	g[key] = k
	return k
}

// normalise returns the image normalised by its local mean and contrast and
// inverted (ridges positive), zero outside the foreground and its neighbour
// blocks, padded by gaborRadius on every side for filtering.
func normalise(pix []float32, w, h int, f *fields) []float32 {
	const r = gaborRadius
	pw := w + 2*r
	norm := make([]float32, pw*(h+2*r))
	for by := range f.bh {
		for bx := range f.bw {
			if !f.maskNear(bx, by) {
				continue
			}
			b := by*f.bw + bx
			mean, std := f.mean[b], f.std[b]
			if fastCfg.normInterp {
				// Eleventh pass: mean and contrast interpolated bilinearly
				// between block centres (clamped at the image's edge).
				at := func(v []float32, x, y int) float32 {
					fx := (float64(x)+0.5)/blk - 0.5
					fy := (float64(y)+0.5)/blk - 0.5
					x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
					ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
					g := func(i, j int) float32 {
						return v[clamp(j, 0, f.bh-1)*f.bw+clamp(i, 0, f.bw-1)]
					}
					return (1-ay)*((1-ax)*g(x0, y0)+ax*g(x0+1, y0)) + ay*((1-ax)*g(x0, y0+1)+ax*g(x0+1, y0+1))
				}
				for y := by * blk; y < min(h, (by+1)*blk); y++ {
					for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
						norm[(y+r)*pw+x+r] = (at(f.mean, x, y) - pix[y*w+x]) / at(f.std, x, y)
					}
				}
				continue
			}
			for y := by * blk; y < min(h, (by+1)*blk); y++ {
				for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
					norm[(y+r)*pw+x+r] = (mean - pix[y*w+x]) / std
				}
			}
		}
	}
	return norm
}

// filtered is the state of the Gabor filtering of one image: the binarised
// ridges, the response, and per block the kernel last used (-1 for none), so
// a later pass refilters only the blocks whose kernel changed.
type filtered struct {
	ridges []uint8
	resp   []float32
	kernel []int32
}

// enhance filters each foreground pixel of the normalised image with a Gabor
// kernel tuned to its block's orientation and period (Hong, Wan and Jain
// 1998) and binarises: ridges is 1 on ridges and 0 elsewhere and on the
// background; resp is the filter response itself. Blocks whose kernel is the
// one used by the previous call on st are left as they are.
func enhance(norm []float32, w, h int, f *fields, bank gaborBank, st *filtered) {
	const r = gaborRadius
	const side = 2*r + 1
	pw := w + 2*r
	if st.resp == nil {
		st.resp = make([]float32, w*h)
		st.ridges = make([]uint8, w*h)
		st.kernel = make([]int32, len(f.mask))
		for i := range st.kernel {
			st.kernel[i] = -1
		}
	}
	for by := range f.bh {
		for bx := range f.bw {
			b := by*f.bw + bx
			if !f.mask[b] {
				continue
			}
			ob := int(math.Round(f.orient[b]/math.Pi*orientBins)) % orientBins
			period := 2 * int(math.Round(f.period[b])) // half pixels
			if stftCfg.speriod {
				period = int(math.Round(2 * f.period[b]))
			}
			if id := int32(ob*64 + period); id == st.kernel[b] {
				continue
			} else {
				st.kernel[b] = id
			}
			k := bank.kernel(ob, period)
			for y := by * blk; y < min(h, (by+1)*blk); y++ {
				for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
					var s float32
					for ky := range side {
						s += dot13(norm[(y+ky)*pw+x:], k[ky*side:])
					}
					st.ridges[y*w+x] = 0
					if s > 0 {
						st.ridges[y*w+x] = 1
					}
					st.resp[y*w+x] = s
				}
			}
		}
	}
}

// dot13 is the dot product of the first 13 values of a and k (one kernel
// row), unrolled with independent partial sums.
func dot13(a, k []float32) float32 {
	a, k = a[:13:13], k[:13:13]
	s0 := a[0]*k[0] + a[4]*k[4] + a[8]*k[8] + a[12]*k[12]
	s1 := a[1]*k[1] + a[5]*k[5] + a[9]*k[9]
	s2 := a[2]*k[2] + a[6]*k[6] + a[10]*k[10]
	s3 := a[3]*k[3] + a[7]*k[7] + a[11]*k[11]
	return (s0 + s1) + (s2 + s3)
}

// dot13 is written for 13x13 kernels; this fails to compile otherwise.
var _ = [1]struct{}{}[2*gaborRadius+1-13]

// maskNear reports whether block (bx, by) or a neighbour is foreground.
func (f *fields) maskNear(bx, by int) bool {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			x, y := bx+dx, by+dy
			if x >= 0 && y >= 0 && x < f.bw && y < f.bh && f.mask[y*f.bw+x] {
				return true
			}
		}
	}
	return false
}

// inMask reports whether pixel (x, y) lies in a foreground block.
func (f *fields) inMask(x, y int) bool {
	if x < 0 || y < 0 {
		return false
	}
	bx, by := x/blk, y/blk
	return bx < f.bw && by < f.bh && f.mask[by*f.bw+bx]
}

func (f *fields) at(x, y int) int {
	return clamp(y/blk, 0, f.bh-1)*f.bw + clamp(x/blk, 0, f.bw-1)
}

func countTrue(m []bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// clarity returns, per block, the correlation between the normalised image
// and its Gabor response over the block and its neighbours: near 1 where the
// block is a clean oriented ridge pattern, low for isotropic noise.
func clarity(norm []float32, resp []float32, w, h int, f *fields) []float64 {
	const r = gaborRadius
	pw := w + 2*r
	nb := f.bw * f.bh
	sxy, sxx, syy := make([]float64, nb), make([]float64, nb), make([]float64, nb)
	for y := range h {
		by := y / blk
		for x := range w {
			b := by*f.bw + x/blk
			if !f.mask[b] {
				continue
			}
			a, g := float64(norm[(y+r)*pw+x+r]), float64(resp[y*w+x])
			sxy[b] += a * g
			sxx[b] += a * a
			syy[b] += g * g
		}
	}
	sxy, sxx, syy = boxBlocks(sxy, f.bw, f.bh, 1), boxBlocks(sxx, f.bw, f.bh, 1), boxBlocks(syy, f.bw, f.bh, 1)
	out := make([]float64, nb)
	for b := range nb {
		if d := sxx[b] * syy[b]; d > 0 {
			out[b] = sxy[b] / math.Sqrt(d)
		}
	}
	return out
}
