package fingerprint

import (
	"math"
	"sort"
)

// Contextual filtering in the Fourier domain, the enhancement of the
// extraction (issue 17, ninth to fourteenth passes; docs/fingerprint.md,
// "Extraction"): after Chikkerur, Cartwright and Govindaraju 2007, written
// from the paper's description. The normalised image is cut into windows
// of stftN pixels every stftN/2 (square-root Hann analysis and synthesis
// windows, whose product sums to one); each window's spectrum is
// multiplied by a radial Butterworth band pass around the ridge frequency
// (measured on the spectrum, within stftCfg.sector of the ridge normal) and
// an angular raised cosine around the ridges' normal (the block
// orientation field; narrower where it is coherent); the inverse
// transforms are added up.
//
// Cost: two horizontally neighbouring windows share one complex transform
// (real and imaginary parts; the filters are real and even, so the
// filtered spectra add up to the transform of the two filtered windows as
// real and imaginary parts again), the filter is evaluated only on the
// bins within its radial cut-off, and the inverse transform's first pass
// runs only over the lines of the spectrum where the filter is nonzero.

// stftN is the window side; a power of two.
const stftN = 32

// stftParams holds the filter's parameters (fixed for all sets; chosen in
// the tenth to thirteenth passes of issue 17, docs/fingerprint.md).
type stftParams struct {
	angBW    float64 // angular half-width at full coherence, radians
	angBWLow float64 // angular half-width at zero coherence, radians
	radBW    float64 // radial bandwidth relative to the ridge frequency
	refine   int     // orientation re-estimated on the response and refiltered this often
	sector   float64 // half-width of the sector around the normal where the ridge frequency is measured, radians
}

var stftCfg = stftParams{angBW: 0.6, angBWLow: 0.8, radBW: 0.6, refine: 2, sector: 0.4}

// holeArea is the largest hole in a binarised ridge (or island in a
// valley), in pixels, filled before thinning.
const holeArea = 40

// fft32 holds the tables of a radix-2 transform of stftN values.
type fft32 struct {
	tw, twi [stftN / 2]complex64
	rev     [stftN]uint8
	rho     [stftN * stftN]float32 // each bin's radius, in bins
	ang     [stftN * stftN]float32 // the angle of its frequency vector, [0, π)
	mirror  [stftN * stftN]uint16  // the index of the bin at minus its frequency
	byRho   []uint16               // bins other than 0 in order of radius
	band    []uint16               // bins within the accepted ridge periods
}

var fftTab = newFFT32()

func newFFT32() *fft32 {
	p := &fft32{}
	for k := range stftN / 2 {
		a := -2 * math.Pi * float64(k) / stftN
		p.tw[k] = complex(float32(math.Cos(a)), float32(math.Sin(a)))
		p.twi[k] = complex(float32(math.Cos(a)), -float32(math.Sin(a)))
	}
	for i := range stftN {
		r := 0
		for b := 0; 1<<b < stftN; b++ {
			if i&(1<<b) != 0 {
				r |= stftN >> (b + 1)
			}
		}
		p.rev[i] = uint8(r)
	}
	sgn := func(u int) int {
		if u >= stftN/2 {
			return u - stftN
		}
		return u
	}
	rmin, rmax := float64(stftN)/maxPeriod, float64(stftN)/minPeriod
	for v := range stftN {
		for u := range stftN {
			i := v*stftN + u
			fu, fv := float64(sgn(u)), float64(sgn(v))
			rho := math.Hypot(fu, fv)
			a := math.Atan2(fv, fu)
			if a < 0 {
				a += math.Pi
			}
			if a >= math.Pi {
				a -= math.Pi
			}
			p.rho[i], p.ang[i] = float32(rho), float32(a)
			p.mirror[i] = uint16(((stftN-v)%stftN)*stftN + (stftN-u)%stftN)
			if i != 0 {
				p.byRho = append(p.byRho, uint16(i))
			}
			if rho >= rmin && rho <= rmax {
				p.band = append(p.band, uint16(i))
			}
		}
	}
	sort.SliceStable(p.byRho, func(a, b int) bool { return p.rho[p.byRho[a]] < p.rho[p.byRho[b]] })
	return p
}

// run transforms a in place (inv: the inverse, unscaled).
func (p *fft32) run(a *[stftN]complex64, inv bool) {
	for i := range stftN {
		if j := int(p.rev[i]); j > i {
			a[i], a[j] = a[j], a[i]
		}
	}
	tw := &p.tw
	if inv {
		tw = &p.twi
	}
	for s := 0; s < stftN; s += 4 {
		// Sizes 2 and 4 together: the twiddles are 1 and ∓i.
		a0, a1, a2, a3 := a[s], a[s+1], a[s+2], a[s+3]
		b0, b1, b2, b3 := a0+a1, a0-a1, a2+a3, a2-a3
		if inv {
			b3 = complex(-imag(b3), real(b3))
		} else {
			b3 = complex(imag(b3), -real(b3))
		}
		a[s], a[s+2] = b0+b2, b0-b2
		a[s+1], a[s+3] = b1+b3, b1-b3
	}
	for size := 8; size <= stftN; size <<= 1 {
		half, step := size/2, stftN/size
		for s := 0; s < stftN; s += size {
			u, v := a[s], a[s+half]
			a[s], a[s+half] = u+v, u-v
			for k := 1; k < half; k++ {
				t := tw[k*step]
				u, v := a[s+k], a[s+k+half]*t
				a[s+k], a[s+k+half] = u+v, u-v
			}
		}
	}
}

// rows transforms the rows of buf whose flag is set, cols every column.
func (p *fft32) rows(buf []complex64, use *[stftN]bool, inv bool) {
	for y := range stftN {
		if use == nil || use[y] {
			p.run((*[stftN]complex64)(buf[y*stftN:]), inv)
		}
	}
}

func (p *fft32) cols(buf []complex64, use *[stftN]bool, inv bool) {
	var col [stftN]complex64
	for x := range stftN {
		if use != nil && !use[x] {
			continue
		}
		for y := range stftN {
			col[y] = buf[y*stftN+x]
		}
		p.run(&col, inv)
		for y := range stftN {
			buf[y*stftN+x] = col[y]
		}
	}
}

// stftWindows is the analysis of one image: the packed spectra of window
// pairs and each window's ridge frequency.
type stftWindows struct {
	x0s, y0s []int
	spec     [][]complex64 // per pair (ty, tx/2): nil when neither window is active
	rho0     []float64     // per window: ridge frequency in bins, 0 if none
}

var sqrtHann = func() (w [stftN]float32) {
	for i := range stftN {
		w[i] = float32(math.Sqrt(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/stftN)))
	}
	return w
}()

// stftAnalyse transforms the foreground windows of the normalised (padded)
// image and estimates each window's ridge frequency: the power-weighted
// mean radius over the band of accepted periods, averaged over the 3x3
// neighbouring windows (weights 1/(1+d²)).
func stftAnalyse(norm []float32, w, h int, f *fields) *stftWindows {
	const r = normPad
	const n, hop = stftN, stftN / 2
	pw := w + 2*r
	sw := &stftWindows{}
	for x := -n + hop; x < w; x += hop {
		sw.x0s = append(sw.x0s, x)
	}
	for y := -n + hop; y < h; y += hop {
		sw.y0s = append(sw.y0s, y)
	}
	tw, th := len(sw.x0s), len(sw.y0s)
	pairs := (tw + 1) / 2
	sw.spec = make([][]complex64, th*pairs)
	en := make([]float64, tw*th)
	fr := make([]float64, tw*th)
	active := func(x0, y0 int) bool {
		for by := max(0, y0/blk); by <= min(f.bh-1, (y0+n-1)/blk); by++ {
			for bx := max(0, x0/blk); bx <= min(f.bw-1, (x0+n-1)/blk); bx++ {
				if f.mask[by*f.bw+bx] {
					return true
				}
			}
		}
		return false
	}
	var rowsUsed [stftN]bool
	var slab []complex64
	for ty, y0 := range sw.y0s {
		for pi := range pairs {
			tx := 2 * pi
			a := active(max(0, sw.x0s[tx]), max(0, y0))
			b := tx+1 < tw && active(max(0, sw.x0s[tx+1]), max(0, y0))
			if !a && !b {
				continue
			}
			if len(slab) < n*n {
				slab = make([]complex64, 16*n*n)
			}
			buf := slab[: n*n : n*n]
			slab = slab[n*n:]
			for y := range n {
				yy := y0 + y
				rowsUsed[y] = yy >= 0 && yy < h
				if !rowsUsed[y] {
					continue
				}
				row := norm[(yy+r)*pw+r:]
				wy := sqrtHann[y]
				for x := range n {
					var re, im float32
					if xx := sw.x0s[tx] + x; a && xx >= 0 && xx < w {
						re = row[xx] * sqrtHann[x] * wy
					}
					if xx := sw.x0s[tx] + hop + x; b && xx < w {
						im = row[xx] * sqrtHann[x] * wy
					}
					buf[y*n+x] = complex(re, im)
				}
			}
			fftTab.rows(buf, &rowsUsed, false)
			fftTab.cols(buf, nil, false)
			sw.spec[ty*pairs+pi] = buf
			// Power of each window within the band: X1 = (Z + Z*(-k))/2,
			// X2 = (Z - Z*(-k))/2i.
			var e1, s1, e2, s2 float64
			for _, i := range fftTab.band {
				z, m := buf[i], buf[fftTab.mirror[i]]
				ar, ai := real(z)+real(m), imag(z)-imag(m)
				br, bi := imag(z)+imag(m), real(m)-real(z)
				p1 := float64(ar*ar + ai*ai)
				p2 := float64(br*br + bi*bi)
				rho := float64(fftTab.rho[i])
				e1 += p1
				s1 += p1 * rho
				e2 += p2
				s2 += p2 * rho
			}
			if a {
				en[ty*tw+tx], fr[ty*tw+tx] = e1, s1
			}
			if b {
				en[ty*tw+tx+1], fr[ty*tw+tx+1] = e2, s2
			}
		}
	}
	sw.rho0 = make([]float64, tw*th)
	for ty := range th {
		for tx := range tw {
			if en[ty*tw+tx] == 0 {
				continue
			}
			if e, f := energyWeighted(en, fr, tw, th, tx, ty); e > 0 {
				sw.rho0[ty*tw+tx] = f / e
			}
		}
	}
	return sw
}

// stftFilter filters the analysed windows with the block orientation field
// of f and writes the response and its binarisation on f's foreground
// blocks into st (zero elsewhere).
func stftFilter(sw *stftWindows, w, h int, f *fields, st *filtered) {
	const n, hop = stftN, stftN / 2
	cfg := stftCfg
	tw := len(sw.x0s)
	pairs := (tw + 1) / 2
	out := make([]float32, w*h)
	buf := make([]complex64, n*n)
	var h1, h2 [stftN * stftN]float32
	normals, cohs, rho0s := windowParams(sw, w, h, f, cfg)
	filter := func(tx, ty int, hf *[stftN * stftN]float32) float32 {
		if tx >= tw || rho0s[ty*tw+tx] == 0 {
			return 0
		}
		return windowFilter(hf, normals[ty*tw+tx], cohs[ty*tw+tx], rho0s[ty*tw+tx], cfg)
	}
	syn := sqrtHann
	const gain = 1.0 / (n * n)
	for ty, y0 := range sw.y0s {
		for pi := range pairs {
			z := sw.spec[ty*pairs+pi]
			if z == nil {
				continue
			}
			tx := 2 * pi
			xa, xb := sw.x0s[tx], sw.x0s[tx]+hop
			// add adds sign times the filtered windows in b (real part:
			// window tx when ca, imaginary: tx+1 when cb) to out.
			add := func(b []complex64, ca, cb bool, sign float32) {
				for y := range n {
					yy := y0 + y
					if yy < 0 || yy >= h {
						continue
					}
					sy := syn[y] * gain
					o := out[yy*w:]
					row := b[y*n : y*n+n]
					if ca {
						for x := max(0, -xa); x < min(n, w-xa); x++ {
							o[xa+x] += sign * real(row[x]) * (syn[x] * sy)
						}
					}
					if cb {
						for x := 0; x < min(n, w-xb); x++ {
							o[xb+x] += sign * imag(row[x]) * (syn[x] * sy)
						}
					}
				}
			}
			clear(h1[:])
			clear(h2[:])
			c1 := filter(tx, ty, &h1)
			c2 := filter(tx+1, ty, &h2)
			if c1 == 0 && c2 == 0 {
				continue
			}
			// Y = H1·X1 + i·H2·X2 = ((H1+H2) Z + (H1-H2) Z*(-k)) / 2.
			clear(buf)
			var rowNZ, colNZ [stftN]bool
			cut := max(c1, c2)
			for _, i := range fftTab.byRho {
				if fftTab.rho[i] > cut {
					break
				}
				a, b := h1[i], h2[i]
				if a == 0 && b == 0 {
					continue
				}
				zi, zm := z[i], z[fftTab.mirror[i]]
				zm = complex(real(zm), -imag(zm))
				buf[i] = (zi*complex((a+b)/2, 0) + zm*complex((a-b)/2, 0))
				rowNZ[int(i)/n], colNZ[int(i)%n] = true, true
			}
			nr, nc := 0, 0
			for k := range n {
				if rowNZ[k] {
					nr++
				}
				if colNZ[k] {
					nc++
				}
			}
			if nr <= nc {
				fftTab.rows(buf, &rowNZ, true)
				fftTab.cols(buf, nil, true)
			} else {
				fftTab.cols(buf, &colNZ, true)
				fftTab.rows(buf, nil, true)
			}
			add(buf, c1 != 0, c2 != 0, 1)
		}
	}
	if st.resp == nil {
		st.resp = make([]float32, w*h)
		st.ridges = make([]uint8, w*h)
	}
	for by := range f.bh {
		for bx := range f.bw {
			fg := f.mask[by*f.bw+bx]
			for y := by * blk; y < min(h, (by+1)*blk); y++ {
				for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
					s := float32(0)
					if fg {
						s = out[y*w+x]
					}
					st.resp[y*w+x] = s
					st.ridges[y*w+x] = 0
					if s > 0 {
						st.ridges[y*w+x] = 1
					}
				}
			}
		}
	}
}

// windowFilter sets hf (zero on entry) to the filter of a window with the
// given ridge normal, coherence and ridge frequency (bins) and returns its
// radial cut-off: hf is zero beyond it.
func windowFilter(hf *[stftN * stftN]float32, normal, coh, rho0 float32, cfg stftParams) float32 {
	bw := float32(cfg.angBW + (cfg.angBWLow-cfg.angBW)*(1-float64(coh)))
	rbw := float32(cfg.radBW) * rho0
	cut := 2.5 * rho0
	for _, i := range fftTab.byRho {
		rho := fftTab.rho[i]
		if rho > cut {
			break
		}
		d := axialDiff(fftTab.ang[i], normal)
		if d >= bw || d <= -bw {
			continue
		}
		c := float32(math.Cos(float64(math.Pi * d / (2 * bw))))
		a := rho * rbw
		b := rho*rho - rho0*rho0
		a, b = a*a, b*b
		a, b = a*a, b*b
		v := c * c * float32(math.Sqrt(float64(a/(a+b))))
		hf[i] = v
	}
	return cut
}

// windowParams returns each window's ridge normal, its coherence (both
// from the block fields over the window's central hop x hop pixels) and
// its ridge frequency in bins (0 for a window not filtered): the spectral
// estimate over the bins within cfg.sector of the normal, averaged as in
// stftAnalyse.
func windowParams(sw *stftWindows, w, h int, f *fields, cfg stftParams) (normals, cohs, rho0s []float32) {
	const n, hop = stftN, stftN / 2
	tw, th := len(sw.x0s), len(sw.y0s)
	pairs := (tw + 1) / 2
	normals, cohs, rho0s = make([]float32, tw*th), make([]float32, tw*th), make([]float32, tw*th)
	for ty, y0 := range sw.y0s {
		for tx, x0 := range sw.x0s {
			k := ty*tw + tx
			if sw.rho0[k] == 0 {
				continue
			}
			var vx, vy, pn float64
			cxp, cyp := x0+n/2, y0+n/2
			for y := cyp - hop/2; y < cyp+hop/2; y += blk {
				for x := cxp - hop/2; x < cxp+hop/2; x += blk {
					if x < 0 || y < 0 || x >= w || y >= h {
						continue
					}
					b := f.at(x, y)
					c := f.coherence[b]
					vx += c * math.Cos(2*f.orient[b])
					vy += c * math.Sin(2*f.orient[b])
					pn++
				}
			}
			if pn == 0 {
				continue
			}
			normals[k] = float32(0.5*math.Atan2(vy, vx) + math.Pi/2)
			cohs[k] = float32(min(1, math.Hypot(vx, vy)/pn))
			rho0s[k] = float32(sw.rho0[k])
		}
	}
	en := make([]float64, tw*th)
	fr := make([]float64, tw*th)
	sec := float32(cfg.sector)
	for ty := range th {
		for tx := range tw {
			k := ty*tw + tx
			if rho0s[k] == 0 {
				continue
			}
			z := sw.spec[ty*pairs+tx/2]
			var e, sum float64
			for _, i := range fftTab.band {
				d := axialDiff(fftTab.ang[i], normals[k])
				if d >= sec || d <= -sec {
					continue
				}
				zi, m := z[i], z[fftTab.mirror[i]]
				var pr, pi float32
				if tx%2 == 0 {
					pr, pi = real(zi)+real(m), imag(zi)-imag(m)
				} else {
					pr, pi = imag(zi)+imag(m), real(m)-real(zi)
				}
				p := float64(pr*pr + pi*pi)
				e += p
				sum += p * float64(fftTab.rho[i])
			}
			en[k], fr[k] = e, sum
		}
	}
	for ty := range th {
		for tx := range tw {
			k := ty*tw + tx
			if rho0s[k] == 0 {
				continue
			}
			if e, f := energyWeighted(en, fr, tw, th, tx, ty); e > 0 {
				rho0s[k] = float32(f / e)
			}
		}
	}
	return normals, cohs, rho0s
}

// stftEnhance is the enhancement: analysis once, the filter with the block
// orientation, and (stftCfg.refine times) the orientation re-estimated on
// the response where it is more coherent and the filter applied again to
// the same spectra.
func stftEnhance(norm []float32, w, h int, f *fields, st *filtered) {
	sw := stftAnalyse(norm, w, h, f)
	stftFilter(sw, w, h, f, st)
	near := make([]bool, len(f.mask))
	for by := range f.bh {
		for bx := range f.bw {
			near[by*f.bw+bx] = f.maskNear(bx, by)
		}
	}
	for range stftCfg.refine {
		o2, c2 := orientationField(st.resp, w, h, f.bw, f.bh, orientSmooth, near)
		for b := range f.orient {
			if f.mask[b] && c2[b] > f.coherence[b] {
				f.orient[b], f.coherence[b] = o2[b], c2[b]
			}
		}
		stftFilter(sw, w, h, f, st)
	}
}

// fillSmallBounded sets to v the 4-connected components of pixels not equal
// to v (holes in ridges for v = 1, islands for v = 0) of at most maxArea
// pixels that do not touch the image's border. A flood stops as soon as
// its component is known to be too large (more than maxArea pixels, on the
// border, or joined to a component already found too large) and marks what
// it reached, so no pixel is flooded twice and large components cost
// little. seen is scratch of len(m), zeroed.
func fillSmallBounded(m []uint8, w, h int, v uint8, maxArea int, seen []uint8) {
	const (
		unseen = iota
		queued
		large
		small
	)
	var comp, stack []int32
	for p := range m {
		if m[p] == v || seen[p] != unseen {
			continue
		}
		comp, stack = comp[:0], append(stack[:0], int32(p))
		seen[p] = queued
		big := false
	flood:
		for len(stack) > 0 {
			q := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			comp = append(comp, int32(q))
			x, y := q%w, q/w
			if x == 0 || y == 0 || x == w-1 || y == h-1 || len(comp) > maxArea {
				big = true
				break
			}
			for _, r := range [4]int{q - 1, q + 1, q - w, q + w} {
				if m[r] == v {
					continue
				}
				switch seen[r] {
				case large:
					big = true
					break flood
				case unseen:
					seen[r] = queued
					stack = append(stack, int32(r))
				}
			}
		}
		if big {
			for _, q := range comp {
				seen[q] = large
			}
			for _, q := range stack {
				seen[q] = large
			}
			continue
		}
		for _, q := range comp {
			seen[q] = small
			m[q] = v
		}
	}
}

// energyWeighted sums over the 3x3 tiles around (tx, ty) of a tw x th
// grid the energy en and the energy-weighted frequency fr, each tile
// weighted 1/(1+dx^2+dy^2): their ratio is the neighbourhood's ridge
// frequency.
func energyWeighted(en, fr []float64, tw, th, tx, ty int) (e, f float64) {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			xx, yy := tx+dx, ty+dy
			if xx < 0 || yy < 0 || xx >= tw || yy >= th {
				continue
			}
			wgt := 1.0 / float64(1+dx*dx+dy*dy)
			e += wgt * en[yy*tw+xx]
			f += wgt * fr[yy*tw+xx]
		}
	}
	return e, f
}

// axialDiff is the difference a - b of two orientations (angles modulo a
// half turn), in [-pi/2, pi/2].
func axialDiff(a, b float32) float32 {
	d := a - b
	for d > math.Pi/2 {
		d -= math.Pi
	}
	for d < -math.Pi/2 {
		d += math.Pi
	}
	return d
}
