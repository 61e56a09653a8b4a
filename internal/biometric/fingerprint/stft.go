package fingerprint

import (
	"math"
	"math/cmplx"
	"slices"
)

// Contextual filtering in the Fourier domain (short-time Fourier transform
// analysis; Chikkerur, Cartwright and Govindaraju 2007), written from the
// paper's description: the normalised image is cut into overlapping windows
// of stftN pixels (a Hann window, hop stftN/2, whose shifted copies sum to
// one), each window's spectrum is multiplied by a radial (Butterworth band
// pass around the ridge frequency) times angular (raised cosine around the
// ridges' normal) filter, and the inverse transforms are added up.

const stftN = 32 // window side; a power of two

// stftConfig holds the variant of the STFT enhancement (experiment switches
// of the ninth pass of issue 17; mode 0 is the Gabor filter alone).
type stftConfig struct {
	mode     int     // 0 off; 1 filter from the block fields; 2 from the spectrum
	speriod  bool    // the Gabor filter tuned to the spectral period, in half pixels
	angBW    float64 // angular half-width at full coherence, radians
	angBWLow float64 // angular half-width at zero coherence, radians
	radBW    float64 // radial bandwidth relative to the ridge frequency
	order    int     // Butterworth order
	unclear  float64 // > 0: only blocks whose Gabor clarity is below this take the STFT response
	smooth   int     // spectral estimates averaged over (2r+1)^2 windows (mode 2)
	hop      int     // window step (stftN/2 or stftN/4)
	pw       int     // 2: spectral estimates weighted by the squared power
	holes    int     // > 0: holes and islands of at most this many pixels filled before thinning
	energy   bool    // the final mask also cut by the STFT energy map (Otsu)
	wola     bool    // square-root Hann analysis and synthesis windows
	gclar    bool    // the clarity mask from the Gabor response, not the STFT one
}

var stftCfg = stftConfig{angBW: math.Pi / 8, angBWLow: math.Pi / 3, radBW: 0.6, order: 2, smooth: 1, hop: stftN / 2}

// fft32 is an in-place radix-2 transform of stftN complex values; inv
// selects the inverse (unscaled).
type fftPlan struct {
	tw  [stftN / 2]complex64
	rev [stftN]int
	// rho and ang are each spectrum bin's radius (in bins) and the angle
	// of its frequency vector in [0, π).
	rho, ang [stftN * stftN]float64
	c2, s2   [stftN * stftN]float64 // cos and sin of twice the angle
}

var plan = newPlan()

func newPlan() *fftPlan {
	p := &fftPlan{}
	for k := range stftN / 2 {
		a := -2 * math.Pi * float64(k) / stftN
		p.tw[k] = complex64(cmplx.Rect(1, a))
	}
	bits := 0
	for 1<<bits < stftN {
		bits++
	}
	for i := range stftN {
		r := 0
		for b := range bits {
			if i&(1<<b) != 0 {
				r |= 1 << (bits - 1 - b)
			}
		}
		p.rev[i] = r
	}
	for v := range stftN {
		fv := v
		if fv >= stftN/2 {
			fv -= stftN
		}
		for u := range stftN {
			fu := u
			if fu >= stftN/2 {
				fu -= stftN
			}
			p.rho[v*stftN+u] = math.Hypot(float64(fu), float64(fv))
			a := math.Atan2(float64(fv), float64(fu))
			if a < 0 {
				a += math.Pi
			}
			if a >= math.Pi {
				a -= math.Pi
			}
			p.ang[v*stftN+u] = a
			p.c2[v*stftN+u], p.s2[v*stftN+u] = math.Cos(2*a), math.Sin(2*a)
		}
	}
	return p
}

func (p *fftPlan) fft(a []complex64, stride int, inv bool) {
	for i := range stftN {
		if j := p.rev[i]; j > i {
			a[i*stride], a[j*stride] = a[j*stride], a[i*stride]
		}
	}
	for size := 2; size <= stftN; size <<= 1 {
		half, step := size/2, stftN/size
		for s := 0; s < stftN; s += size {
			for k := range half {
				t := p.tw[k*step]
				if inv {
					t = complex(real(t), -imag(t))
				}
				u, v := a[(s+k)*stride], a[(s+k+half)*stride]*t
				a[(s+k)*stride], a[(s+k+half)*stride] = u+v, u-v
			}
		}
	}
}

func (p *fftPlan) fft2(a []complex64, inv bool) {
	for y := range stftN {
		p.fft(a[y*stftN:], 1, inv)
	}
	for x := range stftN {
		p.fft(a[x:], stftN, inv)
	}
}

// stftEnhance replaces st.resp and st.ridges (on foreground blocks; with
// cfg.unclear > 0 only on blocks whose clarity cl is below it) with the
// response of the contextual Fourier filter. norm is normalise's padded
// image.
func stftEnhance(norm []float32, w, h int, f *fields, cl []float64, st *filtered) {
	cfg := stftCfg
	const r = gaborRadius
	pw := w + 2*r
	hop := cfg.hop
	n := stftN
	win := make([]float32, n)
	syn := make([]float32, n) // synthesis window (1 unless cfg.wola)
	for i := range n {
		win[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n)))
		syn[i] = 1
		if cfg.wola {
			// square-root Hann on both sides: their product sums to one
			// and the synthesis window damps the circular wrap at the
			// window's edges.
			win[i] = float32(math.Sqrt(float64(win[i])))
			syn[i] = win[i]
		}
	}
	wsum := float32(n / hop / 2) // overlap-add gain of the Hann windows (per axis)
	gain := 1 / (wsum * wsum * float32(n*n))
	// Window origins: every pixel is covered by n/hop windows per axis.
	x0s, y0s := []int{}, []int{}
	for x := -n + hop; x < w; x += hop {
		x0s = append(x0s, x)
	}
	for y := -n + hop; y < h; y += hop {
		y0s = append(y0s, y)
	}
	tw, th := len(x0s), len(y0s)
	out := make([]float32, w*h)
	buf := make([]complex64, n*n)
	// The spectra are kept for mode 2 (estimates smoothed across windows).
	type est struct {
		cx, cy, e float64 // doubled-angle normal vector (energy weighted), energy
		fr        float64 // energy-weighted radius sum
		active    bool
	}
	ests := make([]est, tw*th)
	spectra := make([][]complex64, tw*th)
	active := func(x0, y0 int) bool {
		for by := max(0, y0/blk); by <= min(f.bh-1, (y0+n-1)/blk); by++ {
			for bx := max(0, x0/blk); bx <= min(f.bw-1, (x0+n-1)/blk); bx++ {
				b := by*f.bw + bx
				if f.mask[b] && (cfg.unclear <= 0 || cl[b] < cfg.unclear) {
					return true
				}
			}
		}
		return false
	}
	rmin, rmax := float64(n)/maxPeriod, float64(n)/minPeriod
	for ty, y0 := range y0s {
		for tx, x0 := range x0s {
			if y0 < -n || x0 < -n || !active(max(0, x0), max(0, y0)) {
				continue
			}
			e := &ests[ty*tw+tx]
			e.active = true
			for y := range n {
				yy := y0 + y
				for x := range n {
					xx := x0 + x
					v := float32(0)
					if xx >= 0 && yy >= 0 && xx < w && yy < h {
						v = norm[(yy+r)*pw+xx+r] * win[x] * win[y]
					}
					buf[y*n+x] = complex(v, 0)
				}
			}
			plan.fft2(buf, false)
			sp := make([]complex64, n*n)
			copy(sp, buf)
			spectra[ty*tw+tx] = sp
			if cfg.mode >= 2 {
				for i, rho := range plan.rho {
					if rho < rmin || rho > rmax {
						continue
					}
					c := buf[i]
					p := float64(real(c)*real(c) + imag(c)*imag(c))
					if cfg.pw == 2 {
						p *= p
					}
					e.cx += p * plan.c2[i]
					e.cy += p * plan.s2[i]
					e.e += p
					e.fr += p * rho
				}
			}
		}
	}
	filt := make([]float32, n*n)
	for ty, y0 := range y0s {
		for tx, x0 := range x0s {
			sp := spectra[ty*tw+tx]
			if sp == nil {
				continue
			}
			var normal, rho0, coh float64
			var sNormal, sRho, sCoh, fNormal, fRho, fCoh float64
			if cfg.mode >= 2 {
				var cx, cy, en, fr float64
				for dy := -cfg.smooth; dy <= cfg.smooth; dy++ {
					for dx := -cfg.smooth; dx <= cfg.smooth; dx++ {
						xx, yy := tx+dx, ty+dy
						if xx < 0 || yy < 0 || xx >= tw || yy >= th || !ests[yy*tw+xx].active {
							continue
						}
						e := ests[yy*tw+xx]
						wgt := 1.0 / float64(1+dx*dx+dy*dy)
						cx += wgt * e.cx
						cy += wgt * e.cy
						en += wgt * e.e
						fr += wgt * e.fr
					}
				}
				if en <= 0 {
					continue
				}
				sNormal = 0.5 * math.Atan2(cy, cx)
				sCoh = math.Hypot(cx, cy) / en
				sRho = fr / en
			}
			{
				// The block fields over the window's central hop x hop pixels.
				var vx, vy, cs, ps, pn float64
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
						cs += c
						if f.period[b] > 0 {
							ps += f.period[b]
							pn++
						}
					}
				}
				if pn == 0 {
					continue
				}
				fNormal = 0.5*math.Atan2(vy, vx) + math.Pi/2
				if cs > 0 {
					fCoh = math.Hypot(vx, vy) / pn
				}
				fRho = float64(n) / (ps / pn)
			}
			switch cfg.mode {
			case 1:
				normal, rho0, coh = fNormal, fRho, fCoh
			case 2:
				normal, rho0, coh = sNormal, sRho, sCoh
			case 3:
				normal, rho0, coh = fNormal, sRho, fCoh
			case 4:
				normal, rho0, coh = sNormal, fRho, sCoh
			}

			bw := cfg.angBW + (cfg.angBWLow-cfg.angBW)*(1-min(1, coh))
			rbw := cfg.radBW * rho0
			for i := range filt {
				filt[i] = 0
			}
			for i, rho := range plan.rho {
				if rho == 0 || rho > 2.5*rho0 {
					continue
				}
				d := plan.ang[i] - normal // both in [0, π) up to the sign of normal
				for d > math.Pi/2 {
					d -= math.Pi
				}
				for d < -math.Pi/2 {
					d += math.Pi
				}
				if math.Abs(d) >= bw {
					continue
				}
				c := math.Cos(math.Pi * d / (2 * bw))
				a := rho * rbw
				b := rho*rho - rho0*rho0
				a, b = a*a, b*b
				for range cfg.order - 1 {
					a, b = a*a, b*b // order 2^k: 1, 2, 4
				}
				filt[i] = float32(c * c * math.Sqrt(a/(a+b)))
			}
			for i := range buf {
				buf[i] = sp[i] * complex(filt[i], 0)
			}
			plan.fft2(buf, true)
			for y := range n {
				yy := y0 + y
				if yy < 0 || yy >= h {
					continue
				}
				for x := range n {
					xx := x0 + x
					if xx < 0 || xx >= w {
						continue
					}
					out[yy*w+xx] += real(buf[y*n+x]) * gain * syn[x] * syn[y]
				}
			}
		}
	}
	for by := range f.bh {
		for bx := range f.bw {
			b := by*f.bw + bx
			if !f.mask[b] || (cfg.unclear > 0 && cl[b] >= cfg.unclear) {
				continue
			}
			for y := by * blk; y < min(h, (by+1)*blk); y++ {
				for x := bx * blk; x < min(w, (bx+1)*blk); x++ {
					s := out[y*w+x]
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

// spectralPeriod estimates the ridge period of every block from the
// short-time spectrum of the normalised image: in each window (stftN
// pixels, hop stftN/2, Hann) the power-weighted mean radius of the spectrum
// within the accepted period range, averaged over the 3x3 neighbouring
// windows (weights 1/(1+d^2)) and read at each block centre bilinearly
// between window centres. Blocks far from any foreground window keep
// their period.
func spectralPeriod(norm []float32, w, h int, f *fields) []float64 {
	cfg := stftCfg
	const r = gaborRadius
	pw := w + 2*r
	n, hop := stftN, stftN/2
	win := make([]float32, n)
	for i := range n {
		win[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n)))
	}
	// Windows with origins -hop, 0, hop, ...: window k is centred at k*hop.
	tw, th := (w+hop-1)/hop+1, (h+hop-1)/hop+1
	en := make([]float64, tw*th)
	fr := make([]float64, tw*th)
	buf := make([]complex64, n*n)
	rmin, rmax := float64(n)/maxPeriod, float64(n)/minPeriod
	for ty := range th {
		for tx := range tw {
			x0, y0 := tx*hop-hop, ty*hop-hop
			act := false
			for by := max(0, y0/blk); by <= min(f.bh-1, (y0+n-1)/blk) && !act; by++ {
				for bx := max(0, x0/blk); bx <= min(f.bw-1, (x0+n-1)/blk); bx++ {
					if f.mask[by*f.bw+bx] {
						act = true
						break
					}
				}
			}
			if !act {
				continue
			}
			for y := range n {
				yy := y0 + y
				for x := range n {
					xx := x0 + x
					v := float32(0)
					if xx >= 0 && yy >= 0 && xx < w && yy < h {
						v = norm[(yy+r)*pw+xx+r] * win[x] * win[y]
					}
					buf[y*n+x] = complex(v, 0)
				}
			}
			plan.fft2(buf, false)
			var e, s float64
			for i, rho := range plan.rho {
				if rho < rmin || rho > rmax {
					continue
				}
				c := buf[i]
				p := float64(real(c)*real(c) + imag(c)*imag(c))
				if cfg.pw == 2 {
					p *= p
				}
				e += p
				s += p * rho
			}
			en[ty*tw+tx], fr[ty*tw+tx] = e, s
		}
	}
	per := make([]float64, tw*th)
	for ty := range th {
		for tx := range tw {
			var e, s float64
			for dy := -cfg.smooth; dy <= cfg.smooth; dy++ {
				for dx := -cfg.smooth; dx <= cfg.smooth; dx++ {
					xx, yy := tx+dx, ty+dy
					if xx < 0 || yy < 0 || xx >= tw || yy >= th {
						continue
					}
					wgt := 1.0 / float64(1+dx*dx+dy*dy)
					e += wgt * en[yy*tw+xx]
					s += wgt * fr[yy*tw+xx]
				}
			}
			if e > 0 {
				per[ty*tw+tx] = float64(n) * e / s
			}
		}
	}
	out := slices.Clone(f.period)
	for by := range f.bh {
		for bx := range f.bw {
			// Window centres are at k*hop; the block centre lies between
			// windows k and k+1.
			cx, cy := float64(bx*blk+blk/2)/float64(hop), float64(by*blk+blk/2)/float64(hop)
			kx, ky := int(cx), int(cy)
			ax, ay := cx-float64(kx), cy-float64(ky)
			var s, ws float64
			for dy := range 2 {
				for dx := range 2 {
					xx, yy := kx+dx, ky+dy
					if xx >= tw || yy >= th || per[yy*tw+xx] == 0 {
						continue
					}
					wx, wy := 1-ax, 1-ay
					if dx == 1 {
						wx = ax
					}
					if dy == 1 {
						wy = ay
					}
					s += wx * wy * per[yy*tw+xx]
					ws += wx * wy
				}
			}
			if ws > 0.1 {
				out[by*f.bw+bx] = s / ws
			}
		}
	}
	return out
}

// fillSmall sets to v the 4-connected components of pixels not equal to v
// (holes in ridges for v = 1, islands for v = 0) of at most maxArea pixels
// that do not touch the image's border.
func fillSmall(m []uint8, w, h int, v uint8, maxArea int) {
	seen := make([]bool, len(m))
	var comp, stack []int
	for p := range m {
		if m[p] == v || seen[p] {
			continue
		}
		comp, stack = comp[:0], append(stack[:0], p)
		seen[p] = true
		border := false
		for len(stack) > 0 {
			q := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, q)
			x, y := q%w, q/w
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				border = true
			}
			for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				xx, yy := x+d[0], y+d[1]
				if xx < 0 || yy < 0 || xx >= w || yy >= h {
					continue
				}
				r := yy*w + xx
				if !seen[r] && m[r] != v {
					seen[r] = true
					stack = append(stack, r)
				}
			}
		}
		if !border && len(comp) <= maxArea {
			for _, q := range comp {
				m[q] = v
			}
		}
	}
}

// energyMask is the segmentation of the STFT analysis: per window (hop
// stftN/2) the log of the spectral energy of the grey image (window mean
// removed) within the accepted ridge band, split in two classes by Otsu's
// threshold; a block is foreground when the window nearest its centre is.
func energyMask(pix []float32, w, h int, f *fields) []bool {
	n, hop := stftN, stftN/2
	win := make([]float32, n)
	for i := range n {
		win[i] = float32(0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n)))
	}
	tw, th := (w+hop-1)/hop+1, (h+hop-1)/hop+1
	le := make([]float64, tw*th)
	buf := make([]complex64, n*n)
	rmin, rmax := float64(n)/maxPeriod, float64(n)/minPeriod
	for ty := range th {
		for tx := range tw {
			x0, y0 := tx*hop-hop, ty*hop-hop
			var sum float32
			cnt := 0
			for y := max(0, y0); y < min(h, y0+n); y++ {
				for x := max(0, x0); x < min(w, x0+n); x++ {
					sum += pix[y*w+x]
					cnt++
				}
			}
			mean := sum / float32(max(cnt, 1))
			for y := range n {
				yy := y0 + y
				for x := range n {
					xx := x0 + x
					v := float32(0)
					if xx >= 0 && yy >= 0 && xx < w && yy < h {
						v = (pix[yy*w+xx] - mean) * win[x] * win[y]
					}
					buf[y*n+x] = complex(v, 0)
				}
			}
			plan.fft2(buf, false)
			e := 1.0
			for i, rho := range plan.rho {
				if rho >= rmin && rho <= rmax {
					c := buf[i]
					e += float64(real(c)*real(c) + imag(c)*imag(c))
				}
			}
			le[ty*tw+tx] = math.Log(e)
		}
	}
	// Otsu over 64 bins of the log energy.
	lo, hi := slices.Min(le), slices.Max(le)
	var hist [64]float64
	for _, v := range le {
		hist[min(63, int((v-lo)/(hi-lo+1e-9)*64))]++
	}
	total := float64(len(le))
	var sumAll float64
	for i, c := range hist {
		sumAll += float64(i) * c
	}
	best, bestT := -1.0, 0
	var wB, sB float64
	for t := range 64 {
		wB += hist[t]
		sB += float64(t) * hist[t]
		wF := total - wB
		if wB == 0 || wF == 0 {
			continue
		}
		mB, mF := sB/wB, (sumAll-sB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, bestT = v, t
		}
	}
	thr := lo + (float64(bestT)+1)/64*(hi-lo)
	m := make([]bool, f.bw*f.bh)
	for by := range f.bh {
		for bx := range f.bw {
			tx := min(tw-1, (bx*blk+blk/2+hop/2)/hop)
			ty := min(th-1, (by*blk+blk/2+hop/2)/hop)
			m[by*f.bw+bx] = le[ty*tw+tx] > thr
		}
	}
	return m
}
