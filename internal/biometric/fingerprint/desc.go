package fingerprint

import "math"

// Ring descriptors (issue 17, second round): the ridge orientation field
// sampled at descRing points on a circle of radius descRadius around each
// minutia, relative to the minutia's direction, in the spirit of Tico and
// Kuosmanen (2003). It describes the ridge flow around a minutia without
// any alignment of the two prints (a rotation moves both the minutia and
// the ridges around it), so it adds evidence the cylinders lack: they see
// only the neighbouring minutiae, and a print with few of them (a small or
// dry impression) has weak cylinders but a full orientation field.
//
// Each sample is coded in 4 bits: the relative orientation (in [0, π)) in
// descLevels steps, or descNone where the point lies outside the print's
// foreground (or the image). A descriptor is a uint32, sample k in bits
// 4k..4k+3, sample 0 straight ahead of the minutia and the others
// counter-clockwise on screen in steps of 2π/descRing.
const (
	descRing   = 8
	descRadius = 40.0 // pixels at 500 dpi: about four ridge periods
	descLevels = 15
	descNone   = 15
	// A pair's local similarity is multiplied by 1 + descWeightK * (m -
	// descCentre), at least 0, where m is the mean of cos(2 d) over the
	// samples present in both descriptors (d the difference of the two
	// relative orientations): 1 when the flow agrees everywhere, about 0.4
	// between unrelated minutiae. At least descMinCommon samples must be
	// present in both, or the pair keeps its similarity.
	descWeightK   = 1.0
	descCentre    = 0.7
	descMinCommon = descRing / 4
)

// descCos[d] is cos(2 d π / descLevels): cos(2 Δ) for two codes d apart.
// Read-only after init.
var descCos = func() (t [descLevels]float32) {
	for d := range t {
		t[d] = float32(math.Cos(2 * math.Pi * float64(d) / descLevels))
	}
	return t
}()

// ringDescriptors computes the descriptor of each minutia from the block
// orientation field and foreground mask of f.
func ringDescriptors(ms []Minutia, f *fields) []uint32 {
	out := make([]uint32, len(ms))
	for i, m := range ms {
		var d uint32
		for k := range descRing {
			a := float64(m.Dir) + float64(k)*2*math.Pi/descRing
			x, y := float64(m.X)+descRadius*math.Cos(a), float64(m.Y)+descRadius*math.Sin(a)
			code := uint32(descNone)
			if x >= 0 && y >= 0 {
				if bx, by := int(x)/blk, int(y)/blk; bx < f.bw && by < f.bh && f.mask[by*f.bw+bx] {
					rel := math.Mod(f.orient[by*f.bw+bx]-float64(m.Dir)+4*math.Pi, math.Pi)
					code = uint32(min(descLevels-1, int(rel/math.Pi*descLevels)))
				}
			}
			d |= code << (4 * k)
		}
		out[i] = d
	}
	return out
}

// descWeight is the factor a pair's local similarity is multiplied by for
// descriptors a and b; ok is false when they share too few samples.
func descWeight(a, b uint32) (w float32, ok bool) {
	var sum float32
	n := 0
	for k := 0; k < 4*descRing; k += 4 {
		ca, cb := a>>k&0xf, b>>k&0xf
		if ca == descNone || cb == descNone {
			continue
		}
		d := int(ca) - int(cb)
		if d < 0 {
			d += descLevels
		}
		sum += descCos[d]
		n++
	}
	if n < descMinCommon {
		return 1, false
	}
	return max(0, 1+descWeightK*(sum/float32(n)-descCentre)), true
}

// cylinderDesc returns the descriptors of c's cylinders, taken from the
// minutiae ms (desc[i] is that of ms[i]) they were built from: a cylinder
// holds its minutia's exact position and direction. Nil when desc is nil
// or a cylinder has no minutia among ms.
func cylinderDesc(c *cylinders, ms []Minutia, desc []uint32) []uint32 {
	if desc == nil || len(desc) != len(ms) {
		return nil
	}
	out := make([]uint32, c.n())
	for i := range out {
		j := 0
		for j < len(ms) && (ms[j].X != c.x[i] || ms[j].Y != c.y[i] || ms[j].Dir != c.dir[i]) {
			j++
		}
		if j == len(ms) {
			return nil
		}
		out[i] = desc[j]
	}
	return out
}
