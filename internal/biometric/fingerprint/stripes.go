package fingerprint

import (
	"math"
	"slices"
)

// Exploration of the eighth pass: a sensor's stripes keep one orientation
// along the whole line they lie on, across the frame; a print's ridges
// curve. stripeFrac 0 leaves the test off.
var (
	stripeFrac   = 0.0  // least share of agreeing blocks along the line
	stripeTolDeg = 12.0 // orientation tolerance, degrees
	stripeMinLen = 20   // least line length, blocks
	stripeMode   = 0    // 0: after the clarity step; 1: on the first mask
)

// stripeBlocks marks the mask blocks whose orientation holds, within
// stripeTolDeg, on at least stripeFrac of the blocks met when walking
// from the block along that orientation to both edges of the frame, the
// line being at least stripeMinLen blocks long.
func stripeBlocks(f *fields) []bool {
	out := make([]bool, len(f.mask))
	tol := stripeTolDeg * math.Pi / 180
	for by := range f.bh {
		for bx := range f.bw {
			b := by*f.bw + bx
			if !f.mask[b] {
				continue
			}
			o := f.orient[b]
			c, s := math.Cos(o), math.Sin(o)
			agree, total := 0, 0
			for _, sg := range [2]float64{1, -1} {
				for t := 1; ; t++ {
					x := float64(bx) + 0.5 + sg*float64(t)*c
					y := float64(by) + 0.5 + sg*float64(t)*s
					if x < 0 || y < 0 || x >= float64(f.bw) || y >= float64(f.bh) {
						break
					}
					b2 := int(y)*f.bw + int(x)
					total++
					d := math.Abs(f.orient[b2] - o)
					if d > math.Pi/2 {
						d = math.Pi - d
					}
					if d <= tol {
						agree++
					}
				}
			}
			out[b] = total+1 >= stripeMinLen && float64(agree) >= stripeFrac*float64(total)
		}
	}
	return out
}

// dropStripes removes the stripe blocks from the mask (cleaned as usual),
// unless under half of it would be left.
func dropStripes(f *fields, pix []float32, w, h int) {
	var st []bool
	if stripeMode == 2 {
		st = phaseStripes(pix, w, h, f, stripeMinLen, stripeFrac)
	} else {
		st = stripeBlocks(f)
	}
	m := make([]bool, len(f.mask))
	for b := range m {
		m[b] = f.mask[b] && !st[b]
	}
	m = cleanMask(m, f.bw, f.bh)
	if n := countTrue(m); blk*blk*n >= minArea && 2*n >= countTrue(f.mask) {
		f.mask = m
	}
}

// Exploration: the minutia quality under test (0: the coherence, 1: ridge
// continuity over qualLen px, 2: the block's clarity) and the power of its
// weight, template-relative, in a 1:1 comparison's local similarities.
var (
	qualMode = 0
	qualPow  = 0.0
	qualCap  = false // penalty only: the weight at most 1
)

const qualLen = 40

// cylinderQual is the quality weight of each cylinder: its minutia's
// quality over the mean of the template's, to the power qualPow/2.
func cylinderQual(c *cylinders, ms []Minutia) []float32 {
	if distPow != 0 && qualPow == 0 && c.n() > 0 {
		out := make([]float32, c.n())
		for i := range out {
			out[i] = 1
		}
		return applyDist(c, out)
	}
	if qualPow == 0 || c.n() == 0 {
		return nil
	}
	out := make([]float32, c.n())
	mean := 0.0
	for i := range out {
		j := 0
		for j < len(ms) && (ms[j].X != c.x[i] || ms[j].Y != c.y[i] || ms[j].Dir != c.dir[i]) {
			j++
		}
		if j == len(ms) {
			return nil
		}
		out[i] = float32(ms[j].Quality)
		mean += float64(ms[j].Quality) / float64(len(out))
	}
	for i := range out {
		out[i] = float32(math.Pow(float64(out[i])/mean, qualPow/2))
		if qualCap {
			out[i] = min(out[i], 1)
		}
	}
	if distPow != 0 {
		return applyDist(c, out)
	}
	return out
}

// distPow: the distinctiveness of the sixth pass (1 - the highest
// similarity to another cylinder of the template within maxDirGap),
// to the power distPow/2, multiplies the quality weight.
var distPow = 0.0

func applyDist(c *cylinders, out []float32) []float32 {
	n := c.n()
	for i := range n {
		best := float32(0)
		for j := range n {
			if j == i {
				continue
			}
			d := c.dir[i] - c.dir[j]
			if d < 0 {
				d = -d
			}
			if d > math.Pi {
				d = 2*math.Pi - d
			}
			if d > maxDirGap {
				continue
			}
			r := sqrtTab[hamming(&c.bits[i], &c.bits[j])] / (c.norm[i] + c.norm[j])
			if r <= 1 {
				best = max(best, 1-r)
			}
		}
		out[i] *= float32(math.Pow(float64(1-best), distPow/2))
	}
	return out
}

// alongRidgeClarity is the mean (or the least) clarity of the mask blocks
// met at -32, -16, 0, 16, 32 px along the ridge orientation o through
// (x, y).
func alongRidgeClarity(f *fields, x, y int, o float64, least bool) float64 {
	c, s := math.Cos(o), math.Sin(o)
	sum, n, lo := 0.0, 0, 1.0
	for t := -32.0; t <= 32; t += 16 {
		px, py := x+int(math.Round(t*c)), y+int(math.Round(t*s))
		if !f.inMask(px, py) {
			continue
		}
		v := f.clar[f.at(px, py)]
		sum += v
		n++
		lo = min(lo, v)
	}
	if n == 0 {
		return 0
	}
	if least {
		return lo
	}
	return sum / float64(n)
}

// borderDistQual is the distance from (x, y) to the mask's edge (16
// directions, up to 64 px) over three ridge periods of its block, at most 1.
func borderDistQual(f *fields, x, y, b int) float64 {
	d := 64.0
	for k := range 16 {
		a := float64(k) * math.Pi / 8
		for r := 2.0; r < d; r += 2 {
			if !f.inMask(x+int(r*math.Cos(a)), y+int(r*math.Sin(a))) {
				d = r
				break
			}
		}
	}
	per := f.period[b]
	if per <= 0 {
		per = 9
	}
	return min(1, d/(3*per))
}

// phaseStripes marks the mask blocks whose 16x16 grey window correlates,
// above thr, with the window d px away along the block's orientation (the
// better of the two sides inside the frame): a sensor's stripes keep their
// phase over such distances, a print's ridges curve.
func phaseStripes(pix []float32, w, h int, f *fields, d int, thr float64) []bool {
	out := make([]bool, len(f.mask))
	const r = 8
	win := func(cx, cy int) ([]float64, bool) {
		if cx-r < 0 || cy-r < 0 || cx+r > w || cy+r > h {
			return nil, false
		}
		v := make([]float64, 0, 4*r*r)
		m := 0.0
		for y := cy - r; y < cy+r; y++ {
			for x := cx - r; x < cx+r; x++ {
				v = append(v, float64(pix[y*w+x]))
				m += float64(pix[y*w+x])
			}
		}
		m /= float64(len(v))
		for i := range v {
			v[i] -= m
		}
		return v, true
	}
	corr := func(a, b []float64) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab += a[i] * b[i]
			aa += a[i] * a[i]
			bb += b[i] * b[i]
		}
		if aa*bb <= 0 {
			return 0
		}
		return ab / math.Sqrt(aa*bb)
	}
	for by := range f.bh {
		for bx := range f.bw {
			b := by*f.bw + bx
			if !f.mask[b] {
				continue
			}
			cx, cy := bx*blk+blk/2, by*blk+blk/2
			a, ok := win(cx, cy)
			if !ok {
				continue
			}
			o := f.orient[b]
			best := -1.0
			for _, sg := range [2]float64{1, -1} {
				ox := cx + int(math.Round(sg*float64(d)*math.Cos(o)))
				oy := cy + int(math.Round(sg*float64(d)*math.Sin(o)))
				if v, ok := win(ox, oy); ok {
					best = max(best, corr(a, v))
				}
			}
			out[b] = best >= thr
		}
	}
	return out
}

// borderStripes: the orientation of the frame's outer two rings of blocks,
// when coherent there (resultant of the doubled angles at least bsCoh),
// is taken as the sensor's stripe orientation, and mask blocks within
// bsTolDeg of it whose contrast is below bsContrast times the mask's
// median leave the mask (cleaned, kept when at least half is left).
var (
	bsCoh      = 0.0
	bsTolDeg   = 12.0
	bsContrast = 0.6
)

func dropBorderStripes(f *fields) {
	var sx, sy, n float64
	for by := range f.bh {
		for bx := range f.bw {
			if bx >= 2 && by >= 2 && bx < f.bw-2 && by < f.bh-2 {
				continue
			}
			o := f.orient[by*f.bw+bx]
			sx += math.Cos(2 * o)
			sy += math.Sin(2 * o)
			n++
		}
	}
	if n == 0 || math.Hypot(sx, sy)/n < bsCoh {
		return
	}
	th := math.Atan2(sy, sx) / 2
	var cs []float64
	for b, m := range f.mask {
		if m {
			cs = append(cs, float64(f.std[b]))
		}
	}
	if len(cs) == 0 {
		return
	}
	slices.Sort(cs)
	med := cs[len(cs)/2]
	tol := bsTolDeg * math.Pi / 180
	m := slices.Clone(f.mask)
	for b := range m {
		if !m[b] {
			continue
		}
		d := math.Abs(math.Mod(f.orient[b]-th+2*math.Pi, math.Pi))
		if d > math.Pi/2 {
			d = math.Pi - d
		}
		if d <= tol && float64(f.std[b]) < bsContrast*med {
			m[b] = false
		}
	}
	m = cleanMask(m, f.bw, f.bh)
	if k := countTrue(m); blk*blk*k >= minArea && 2*k >= countTrue(f.mask) {
		f.mask = m
	}
}
