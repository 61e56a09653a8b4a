package iris

import (
	"image"
	"math"
	"slices"
)

// gray is a float image, row-major.
type gray struct {
	w, h int
	p    []float32
}

// toGray converts img to luminance, box-averaging by an integer factor so
// the longer side is at most maxSide.
func toGray(img image.Image, maxSide int) gray {
	b := img.Bounds()
	f := 1
	for max(b.Dx(), b.Dy())/f > maxSide {
		f++
	}
	g := gray{w: b.Dx() / f, h: b.Dy() / f}
	g.p = make([]float32, g.w*g.h)
	inv := 1 / float32(f*f)
	fast, _ := img.(*image.Gray)
	for y := range g.h {
		for x := range g.w {
			var s float32
			for dy := range f {
				for dx := range f {
					px, py := b.Min.X+x*f+dx, b.Min.Y+y*f+dy
					if fast != nil {
						s += float32(fast.Pix[fast.PixOffset(px, py)])
						continue
					}
					r, gg, bb, _ := img.At(px, py).RGBA()
					s += float32(299*r+587*gg+114*bb) / 1000 / 257
				}
			}
			g.p[y*g.w+x] = s * inv
		}
	}
	return g
}

// at samples g bilinearly; ok is false outside the image.
func (g *gray) at(x, y float64) (float32, bool) {
	if x < 0 || y < 0 || x > float64(g.w-1) || y > float64(g.h-1) {
		return 0, false
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	a := g.p[y0*g.w+x0]*(1-fx) + g.p[y0*g.w+x1]*fx
	c := g.p[y1*g.w+x0]*(1-fx) + g.p[y1*g.w+x1]*fx
	return a*(1-fy) + c*fy, true
}

// boxBlur returns g blurred by a (2r+1)^2 box, edges clamped.
func boxBlur(g gray, r int) gray {
	tmp := make([]float32, len(g.p))
	out := gray{w: g.w, h: g.h, p: make([]float32, len(g.p))}
	n := float32(2*r + 1)
	for y := range g.h {
		row := g.p[y*g.w : (y+1)*g.w]
		for x := range g.w {
			var s float32
			for k := -r; k <= r; k++ {
				s += row[min(max(x+k, 0), g.w-1)]
			}
			tmp[y*g.w+x] = s / n
		}
	}
	for y := range g.h {
		for x := range g.w {
			var s float32
			for k := -r; k <= r; k++ {
				s += tmp[min(max(y+k, 0), g.h-1)*g.w+x]
			}
			out.p[y*g.w+x] = s / n
		}
	}
	return out
}

// percentile of the pixel values, q in [0,1].
func percentile(p []float32, q float64) float32 {
	s := slices.Clone(p)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// fillHighlights marks specular highlights (small, very bright spots) and
// replaces them by the mean of their surroundings so they bias neither
// boundary search nor filter. It returns the highlight mask.
func fillHighlights(g gray) []bool {
	hi := max(percentile(g.p, 0.995), 235)
	mask := make([]bool, len(g.p))
	any := false
	for i, v := range g.p {
		if v >= hi {
			mask[i] = true
			any = true
		}
	}
	if !any {
		return mask
	}
	// Grow by 2 pixels to cover the halo.
	for range 2 {
		grown := slices.Clone(mask)
		for y := range g.h {
			for x := range g.w {
				if !mask[y*g.w+x] {
					continue
				}
				for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					xx, yy := x+d[0], y+d[1]
					if xx >= 0 && yy >= 0 && xx < g.w && yy < g.h {
						grown[yy*g.w+xx] = true
					}
				}
			}
		}
		mask = grown
	}
	// Fill inward from the border of each spot, a few passes.
	todo := slices.Clone(mask)
	for range 32 {
		changed := false
		next := slices.Clone(todo)
		for y := range g.h {
			for x := range g.w {
				i := y*g.w + x
				if !todo[i] {
					continue
				}
				var s float32
				n := 0
				for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					xx, yy := x+d[0], y+d[1]
					if xx >= 0 && yy >= 0 && xx < g.w && yy < g.h && !todo[yy*g.w+xx] {
						s += g.p[yy*g.w+xx]
						n++
					}
				}
				if n > 0 {
					g.p[i] = s / float32(n)
					next[i] = false
					changed = true
				}
			}
		}
		todo = next
		if !changed {
			break
		}
	}
	return mask
}

// circle is a boundary in image pixels.
type circle struct{ x, y, r float64 }

// component is a connected dark region.
type component struct {
	area                   int
	sx, sy                 float64
	minX, maxX, minY, maxY int
}

// findPupil thresholds the blurred image at rising levels above its darkest
// values and keeps the most disc-like dark component of plausible size. Each
// level is tried as it is and after a morphological opening of the dark mask
// (erosion by a square of radius open, the component then grown back by
// open): eyelashes as dark as the pupil and touching it (IITD, real pupils)
// are cut off, so the pupil stays a disc. The best-scoring disc of both
// passes wins, so a small disc-like clump of lashes cannot beat a real pupil
// that only the opening separates from them.
//
// With cut > 0 a component wider than tall whose lower edge is a circular
// arc is also a candidate (the upper eyelid covers the top of the pupil:
// a disc cut by a nearly horizontal line), its score times cut so that a
// whole disc of about the same quality still wins; lidY is then the
// height of the cut (the eyelid's edge across the pupil), 0 otherwise.
// Such a pupil must have a radius of at least a twelfth of the shorter
// side: the lower edge of a smaller dark blob fits an arc by chance (in
// random noise).
func findPupil(s gray, cutWeight float64) (best circle, lidY float64, ok bool) {
	minSide := min(s.w, s.h)
	// A pupil under a sixteenth of the shorter side is no eye capture
	// (the smallest real pupils of both data sets are over a twelfth):
	// small dark blobs of a noise image would otherwise be taken for one.
	rMin, rMax := max(6, float64(minSide)/16), float64(minSide)/3.5
	base := percentile(s.p, 0.002)
	bestScore := 0.0
	lab := make([]int32, len(s.p))
	in := make([]bool, len(s.p))
	stack := make([]int, 0, 1024)
	erode := max(2, minSide/60)
	var integral []int32
	for _, open := range []int{0, erode} {
		for _, dt := range []float32{4, 8, 12, 18, 26, 36, 48} {
			t := base + dt
			for i, v := range s.p {
				in[i] = v < t
			}
			if open > 0 {
				integral = erodeMask(in, s.w, s.h, open, integral)
			}
			var comps []component
			comps, stack = labelComponents(in, s.w, s.h, lab, stack)
			for ci, c := range comps {
				// Grown back by the opening: radius and box.
				r := math.Sqrt(float64(c.area)/math.Pi) + float64(open)
				if r < rMin || r > rMax {
					continue
				}
				bw, bh := float64(c.maxX-c.minX+1+2*open), float64(c.maxY-c.minY+1+2*open)
				aspect := bw / bh
				if cutWeight > 0 && aspect > 1/0.7 {
					if cc, score := cutDisc(s, lab, int32(ci+1), c, open, max(rMin, float64(minSide)/12), rMax); score*cutWeight > bestScore {
						bestScore, best, lidY = score*cutWeight, cc, float64(c.minY-open)
					}
					continue
				}
				if aspect < 0.7 || aspect > 1/0.7 {
					continue
				}
				fill := math.Pi * r * r / (math.Pi * bw * bh / 4)
				if fill < 0.7 {
					continue
				}
				score := (1 - math.Abs(1-fill)) * (1 - math.Abs(1-aspect)) * math.Sqrt(r)
				if score > bestScore {
					bestScore = score
					best = circle{c.sx / float64(c.area), c.sy / float64(c.area), r}
					lidY = 0
				}
			}
		}
	}
	return best, lidY, bestScore > 0
}

// cutDisc fits a component wider than tall (label id in lab, eroded by
// open) as a pupil whose top is cut off by the upper eyelid: a circle is
// fitted (least squares, Kasa) to the lowest pixel of each column of the
// component's inner 80 % (its ends may carry lashes of the lid). It
// returns the circle (grown back by open) and a score like findPupil's:
// zero unless between half the radius and the whole disc (2.1 r) shows
// below the cut, the
// component fills the predicted segment within 0.7-1.3, and the lowest
// pixel of at least 85 % of its columns lies within max(2, r/12) px of
// the circle.
func cutDisc(s gray, lab []int32, id int32, c component, open int, rMin, rMax float64) (circle, float64) {
	n := c.maxX - c.minX + 1
	bottom := make([]int, n)
	for k := range bottom {
		bottom[k] = -1
		x := c.minX + k
		for y := c.maxY; y >= c.minY; y-- {
			if lab[y*s.w+x] == id {
				bottom[k] = y
				break
			}
		}
	}
	// Kasa fit: x^2 + y^2 + D x + E y + F = 0, least squares.
	var a [3][4]float64
	m := 0
	for k := n / 10; k < n-n/10; k++ {
		if bottom[k] < 0 {
			continue
		}
		x, y := float64(c.minX+k), float64(bottom[k])
		row := [4]float64{x, y, 1, -(x*x + y*y)}
		for i := range 3 {
			for j := range 4 {
				a[i][j] += row[i] * row[j]
			}
		}
		m++
	}
	if m < 8 {
		return circle{}, 0
	}
	for i := range 3 {
		p := i
		for k := i + 1; k < 3; k++ {
			if math.Abs(a[k][i]) > math.Abs(a[p][i]) {
				p = k
			}
		}
		a[i], a[p] = a[p], a[i]
		if math.Abs(a[i][i]) < 1e-9 {
			return circle{}, 0
		}
		for k := range 3 {
			if k != i {
				f := a[k][i] / a[i][i]
				for j := i; j < 4; j++ {
					a[k][j] -= f * a[i][j]
				}
			}
		}
	}
	D, E, F := a[0][3]/a[0][0], a[1][3]/a[1][1], a[2][3]/a[2][2]
	cx, cy := -D/2, -E/2
	re := math.Sqrt(max(0, cx*cx+cy*cy-F))
	r := re + float64(open)
	top := float64(c.minY - open)
	h := cy + r - top // height of the disc below the cut
	if r < rMin || r > rMax || h < 0.5*r || h > 2.1*r {
		return circle{}, 0
	}
	// The eroded component against the eroded segment.
	he := h - 2*float64(open)
	seg := re*re*math.Acos(max(-1, min(1, (re-he)/re))) - (re-he)*math.Sqrt(max(0, 2*re*he-he*he))
	if he <= 0 || seg <= 0 {
		return circle{}, 0
	}
	fill := float64(c.area) / seg
	if fill < 0.7 || fill > 1.3 {
		return circle{}, 0
	}
	tol := max(2, r/12)
	var cols, good int
	for k, y := range bottom {
		dx := float64(c.minX+k) - cx
		if y < 0 || dx*dx >= re*re {
			continue
		}
		cols++
		if math.Abs(float64(y)-(cy+math.Sqrt(re*re-dx*dx))) <= tol {
			good++
		}
	}
	frac := float64(good) / float64(max(cols, 1))
	if cols == 0 || frac < 0.85 {
		return circle{}, 0
	}
	return circle{cx, cy, r}, (1 - math.Abs(1-fill)) * frac * math.Sqrt(r)
}

// erodeMask keeps in[i] only where the whole square of radius r around i is
// in the mask (outside the image counts as not in), with an integral image
// (buf is reused).
func erodeMask(in []bool, w, h, r int, buf []int32) []int32 {
	W := w + 1
	if cap(buf) < W*(h+1) {
		buf = make([]int32, W*(h+1))
	}
	buf = buf[:W*(h+1)]
	clear(buf[:W])
	for y := range h {
		var run int32
		buf[(y+1)*W] = 0
		for x := range w {
			if in[y*w+x] {
				run++
			}
			buf[(y+1)*W+x+1] = buf[y*W+x+1] + run
		}
	}
	full := int32((2*r + 1) * (2*r + 1))
	for y := range h {
		for x := range w {
			i := y*w + x
			if !in[i] {
				continue
			}
			x0, y0, x1, y1 := x-r, y-r, x+r+1, y+r+1
			if x0 < 0 || y0 < 0 || x1 > w || y1 > h {
				in[i] = false
				continue
			}
			in[i] = buf[y1*W+x1]-buf[y0*W+x1]-buf[y1*W+x0]+buf[y0*W+x0] == full
		}
	}
	return buf
}

// arcProfile returns the mean intensity on circles of radius r0..r1 (step 1)
// around (cx, cy) over the given angle ranges (radians, image y down).
func arcProfile(g gray, cx, cy float64, r0, r1 int, arcs [][2]float64, samples int) []float64 {
	prof := make([]float64, r1-r0+1)
	// Angles once.
	var cs, sn []float64
	for _, a := range arcs {
		for k := range samples {
			t := a[0] + (a[1]-a[0])*(float64(k)+0.5)/float64(samples)
			cs = append(cs, math.Cos(t))
			sn = append(sn, math.Sin(t))
		}
	}
	for i := range prof {
		r := float64(r0 + i)
		var s float64
		n := 0
		for k := range cs {
			if v, ok := g.at(cx+r*cs[k], cy+r*sn[k]); ok {
				s += float64(v)
				n++
			}
		}
		if n < len(cs)/3 {
			prof[i] = math.NaN()
			continue
		}
		prof[i] = s / float64(n)
	}
	return prof
}

// bestEdge searches centres within ±span (step) of (cx, cy) and radii
// [r0, r1] for the largest smoothed outward increase of the arc mean:
// Daugman's integro-differential operator restricted to arcs. With several
// arcs the edge strength is the weakest arc's, so a circle must find the
// boundary on every arc (one eyelid corner or shadow cannot win alone).
//
// oneArc > 0 lets a single arc decide where the other lies outside the
// image (its profile is NaN there: the iris runs out of the frame on one
// side), its strength weighted by oneArc; 0 ignores such radii.
func bestEdge(g gray, cx, cy float64, span, spanY, step float64, r0, r1, scale int, arcs [][2]float64, samples int, oneArc float64) (circle, float64) {
	var best circle
	bestD := math.Inf(-1)
	profs := make([][]float64, len(arcs))
	ny := int(spanY/step + 1e-9)
	for ky := -ny; ky <= ny; ky++ {
		dy := float64(ky) * step
		for dx := -span; dx <= span+1e-9; dx += step {
			for a := range arcs {
				profs[a] = arcProfile(g, cx+dx, cy+dy, r0-scale, r1+scale, arcs[a:a+1], samples)
			}
			for i := scale; i < len(profs[0])-scale; i++ {
				// Smoothed derivative: mean of the scale outer minus the
				// scale inner radii, weakest arc.
				d := math.Inf(1)
				valid := 0
				for _, prof := range profs {
					var da float64
					for k := 1; k <= scale; k++ {
						da += prof[i+k] - prof[i-k]
					}
					if math.IsNaN(da) {
						continue
					}
					valid++
					d = min(d, da/float64(scale))
				}
				switch {
				case valid == len(profs):
				case valid > 0 && oneArc > 0:
					d *= oneArc
				default:
					continue
				}
				if d > bestD { // NaN compares false
					bestD = d
					best = circle{cx + dx, cy + dy, float64(r0 - scale + i)}
				}
			}
		}
	}
	return best, bestD
}

// limbusSplit returns how far sideways (px, either way) the lateral
// arcs' own strongest edges, each searched alone from the pupil centre
// over the radii the limbus ic could have on that arc within the
// search's reach (ic.r ± 2 (span + 1)), put the limbus centre. Both arcs
// on the limbus give about the centre found; an arc on an inner edge
// (a lash shadow, a ring of the iris) gives more than the search could
// reach, and the weakest-arc rule then settles between two edges.
func limbusSplit(s gray, pr, ic circle, span float64, arcs [][2]float64, inner bool) float64 {
	w := 2 * (span + 1)
	lo, hi := int(ic.r-w), int(ic.r+w)
	if len(arcs) != 2 || lo < 6 {
		return 0
	}
	var rr [2]float64
	for a := range arcs {
		b, d := bestEdge(s, pr.x, pr.y, 0, 0, 1, lo, hi, 5, arcs[a:a+1], 48, 0)
		if math.IsInf(d, -1) || inner && (int(b.r) <= lo || int(b.r) >= hi) {
			return 0
		}
		rr[a] = b.r
	}
	return math.Abs(rr[0]-rr[1]) / 2
}

// segmentation is the result of locating an eye.
type segmentation struct {
	pupil, iris circle
	contrast    float64 // limbus edge strength, grey levels
	pupilEdge   float64 // pupil edge strength, grey levels
	// The outer limbus candidate (beyond 1.25 times the first) and its
	// edge strength: what the collarette check weighed.
	alt  circle
	altD float64
	// lidY: when the upper eyelid cuts the pupil (findPupil), the
	// height of its edge there; everything above it is occluded. 0 =
	// no such cut.
	lidY float64
}

// segment finds the pupil and limbus circles in g (highlights already
// filled) with the default parameters.
func segment(g gray) (segmentation, bool) { return segmentWith(g, defaultConfig()) }

func segmentWith(g gray, c config) (segmentation, bool) {
	s := boxBlur(g, 2)
	p, lidY, ok := findPupil(s, c.pupilCut)
	if !ok {
		return segmentation{}, false
	}
	// Refine the pupil on everything but the top quarter (upper eyelid);
	// a pupil cut by the eyelid on its lower half only.
	pupilArcs := [][2]float64{{-math.Pi / 4, 5 * math.Pi / 4}}
	if lidY > 0 {
		pupilArcs = [][2]float64{{math.Pi / 8, 7 * math.Pi / 8}}
	}
	pr, pd := bestEdge(s, p.x, p.y, 3, 3, 1, int(p.r*0.8), int(p.r*1.25)+1, 2, pupilArcs, 96, 0)
	// Limbus on lateral arcs, slightly below the horizontal (y points down).
	irisArcs := [][2]float64{{-math.Pi / 8, math.Pi / 5}, {4 * math.Pi / 5, 9 * math.Pi / 8}}
	minSide := float64(min(g.w, g.h))
	r0 := int(math.Max(pr.r*1.5, pr.r+10))
	r1 := int(math.Min(pr.r*4, minSide*0.5))
	if r1 <= r0 {
		return segmentation{}, false
	}
	span := math.Max(3, pr.r*0.1)
	// The lateral arcs barely fix the centre's height: it is searched
	// over limbusDy of the horizontal span.
	spanY := span * c.limbusDy
	ic, _ := bestEdge(s, pr.x, pr.y, span, spanY, 1, r0, r1, 5, irisArcs, 48, c.oneArc)
	ic, d := bestEdge(s, ic.x, ic.y, 1, min(1, spanY), 0.5, int(ic.r)-3, int(ic.r)+3, 5, irisArcs, 96, c.oneArc)
	// Arcs on two different edges (limbusSplit): search again centred.
	if c.limbusSplit > 0 && (!c.limbusSplitEdge || math.Abs(ic.x-pr.x) > span) && limbusSplit(s, pr, ic, span, irisArcs, c.limbusSplitInner) > c.limbusSplit*(span+1) {
		cc, _ := bestEdge(s, pr.x, pr.y, 0, 0, 1, r0, r1, 5, irisArcs, 48, c.oneArc)
		cc, cd := bestEdge(s, cc.x, cc.y, 1, min(1, spanY), 0.5, int(cc.r)-3, int(cc.r)+3, 5, irisArcs, 96, c.oneArc)
		if cd >= c.limbusSplitKeep*d {
			ic, d = cc, cd
		}
	}
	seg := segmentation{pupil: pr, iris: ic, contrast: d, pupilEdge: pd, lidY: lidY}
	// The collarette (the ring between the pupillary and ciliary zones of
	// a high-contrast iris) can be a stronger edge than the limbus. It lies
	// about a third of the way from the pupil to the limbus, while the
	// limbus is never that close to the pupil relative to the next edge
	// out: when a second edge further out, strong enough to be a limbus,
	// has the first in the inner half of the pupil-to-edge distance, the
	// first edge was inside the iris.
	// With collaretteNear, an outer edge nearly as strong as the first
	// (the IITD inner rings at 0.53-0.77 of the way) replaces it too.
	// The search is skipped when not even an edge at the largest radius
	// (r1, plus 3 of refinement) could qualify: same result, less time.
	r1c := r1
	if c.collaretteBound > 0 {
		r1c = int(math.Min(pr.r*c.collaretteBound, minSide*0.5))
	}
	if o0 := int(ic.r * 1.25); o0 < r1c-6 && c.collaretteFrac > 0 && (c.collaretteNear > 0 || ic.r-pr.r <= c.collaretteFrac*(float64(r1c+3)-pr.r)) {
		oc, _ := bestEdge(s, ic.x, ic.y, span, spanY, 1, o0, r1c, 5, irisArcs, 48, c.oneArc)
		oc, od := bestEdge(s, oc.x, oc.y, 1, min(1, spanY), 0.5, int(oc.r)-3, int(oc.r)+3, 5, irisArcs, 96, c.oneArc)
		seg.alt, seg.altD = oc, od
		near := c.collaretteNear > 0 && od >= c.collaretteNear*d
		if od >= c.collaretteEdge && (near || (ic.r-pr.r) <= c.collaretteFrac*(oc.r-pr.r)) {
			seg.iris, seg.contrast = oc, od
			ic, d = oc, od
		}
	}
	off := math.Hypot(pr.x-ic.x, pr.y-ic.y)
	// An iris under an eighth of the shorter image side is no eye capture
	// (the valid ones of both data sets are over a third): a dark corner
	// or nostril taken for a pupil at the frame's edge.
	if off+pr.r > ic.r-4 || ic.r < pr.r*1.4 || d < 3 || ic.r < minSide*c.minIrisFrac {
		return seg, false
	}
	return seg, true
}

// labelComponents labels the 4-connected components of the pixels set in
// in (a w x h image) into lab (1-based; cleared first) and returns their
// areas, sums and boxes; stack is scratch, returned for reuse.
func labelComponents(in []bool, w, h int, lab []int32, stack []int) ([]component, []int) {
	clear(lab)
	var comps []component
	for i := range in {
		if !in[i] || lab[i] != 0 {
			continue
		}
		comps = append(comps, component{minX: w, minY: h})
		id := int32(len(comps))
		c := &comps[id-1]
		lab[i] = id
		stack = append(stack[:0], i)
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := j%w, j/w
			c.area++
			c.sx += float64(x)
			c.sy += float64(y)
			c.minX, c.maxX = min(c.minX, x), max(c.maxX, x)
			c.minY, c.maxY = min(c.minY, y), max(c.maxY, y)
			for _, n := range [4]int{j - 1, j + 1, j - w, j + w} {
				if n < 0 || n >= len(in) || (n == j-1 && x == 0) || (n == j+1 && x == w-1) {
					continue
				}
				if lab[n] == 0 && in[n] {
					lab[n] = id
					stack = append(stack, n)
				}
			}
		}
	}
	return comps, stack
}
