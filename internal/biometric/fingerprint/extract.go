package fingerprint

import (
	"fmt"
	"image"
	"math"
	"slices"
)

// Extraction works on an image resampled to 500 dpi, so every length below is
// in 500-dpi pixels (a ridge period is about 9).
const (
	blk          = 8    // block side for orientation, frequency and mask
	normPad      = 6    // padding of the normalised image, pixels
	minPeriod    = 5    // shortest ridge period accepted, pixels
	maxPeriod    = 15   // longest ridge period accepted, pixels
	borderGap    = 14   // minutiae closer than this to the background are dropped
	contrastFrac = 0.22 // foreground: block contrast above this fraction of the 95th percentile
	minCoherence = 0.05 // foreground: and orientation coherence above this
	minClarity   = 0.4  // foreground after filtering: image-response correlation at least this
	orientSmooth = 2    // orientation averaged over (2r+1)^2 blocks
	traceLen     = 10   // ridge length traced to find a minutia direction
	shortRidge   = 18   // an ending joined to another minutia by fewer pixels is false
	bridgeLen    = 12   // two bifurcations joined by fewer pixels form a bridge
	brokenGap    = 14   // facing endings closer than this are a broken ridge
	clusterGap   = 5    // minutiae closer than this to another are dropped
	minMinutiae  = 8    // fewer reliable minutiae than this is a quality failure
	maxMinutiae  = 96   // keep at most this many, best quality first
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
	t.setTex()
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
	mean, std []float32 // local grey mean and contrast
}

// extractMinutiae runs the extraction on a 500-dpi grey image and returns
// the minutiae, the block fields (with the final mask) and the skeleton the
// minutiae were taken from (1 on ridge pixels; for TestDebugViz).
func extractMinutiae(pix []float32, w, h int) ([]Minutia, *fields, []uint8, error) {
	f := estimateFields(pix, w, h)
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
	// Contextual filtering in the Fourier domain, with the orientation
	// refined on its response (stftfast.go).
	var st filtered
	stftEnhance(norm, w, h, f, &st)
	// Segmentation, second look: blocks where the filter response explains
	// little of the image (isotropic texture, speckled background, smudge)
	// leave the mask, so no minutia is taken from them or near them.
	// A print that is unclear all over (a sensor unlike those measured, a
	// uniformly poor capture) keeps its first mask rather than failing to
	// enrol here: when under a third of the area (or under minArea) would
	// be left, the step is skipped and the usual minutia tests decide.
	// The clarity is also the blocks' quality from here on (the minutiae's
	// quality, in place of the orientation's coherence).
	cl := clarity(norm, st.resp, w, h, f)
	for b := range cl {
		f.coherence[b] = min(1, max(0, cl[b]))
	}
	clearMask := slices.Clone(f.mask)
	for b := range clearMask {
		clearMask[b] = clearMask[b] && cl[b] >= minClarity
	}
	clearMask = cleanMask(clearMask, f.bw, f.bh)
	if n := countTrue(clearMask); blk*blk*n >= minArea && 3*n >= countTrue(f.mask) {
		f.mask = clearMask
	}
	// Small holes in the binarised ridges (open pores) and small islands in
	// the valleys are filled before thinning.
	ridges := st.ridges
	seen := make([]uint8, w*h)
	fillSmallBounded(ridges, w, h, 1, holeArea, seen)
	clear(seen)
	fillSmallBounded(ridges, w, h, 0, holeArea, seen)
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

// debugRidges, when set (by a test), sees the filter response and the
// binarised ridges before thinning.
var debugRidges func(resp []float32, ridges []uint8)

// estimateFields computes the foreground mask, orientation field and
// coherence on blocks of blk pixels.
func estimateFields(pix []float32, w, h int) *fields {
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
	f := &fields{bw: bw, bh: bh, mask: make([]bool, nb),
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

// normalise returns the image normalised by its local mean and contrast and
// inverted (ridges positive), zero outside the foreground and its neighbour
// blocks, padded by normPad on every side for filtering.
func normalise(pix []float32, w, h int, f *fields) []float32 {
	const r = normPad
	pw := w + 2*r
	norm := make([]float32, pw*(h+2*r))
	for by := range f.bh {
		for bx := range f.bw {
			if !f.maskNear(bx, by) {
				continue
			}
			b := by*f.bw + bx
			mean, std := f.mean[b], f.std[b]
			for y := by * blk; y < min(h, (by+1)*blk); y++ {
				for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
					norm[(y+r)*pw+x+r] = (mean - pix[y*w+x]) / std
				}
			}
		}
	}
	return norm
}

// filtered is the enhancement's output for one image: the binarised ridges
// (1 on ridges, 0 elsewhere and on the background) and the filter response.
type filtered struct {
	ridges []uint8
	resp   []float32
}

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
// and its filtered response over the block and its neighbours: near 1 where the
// block is a clean oriented ridge pattern, low for isotropic noise.
func clarity(norm []float32, resp []float32, w, h int, f *fields) []float64 {
	const r = normPad
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
