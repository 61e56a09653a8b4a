package fingerprint

import "math"

// Texture weights (twelfth pass of issue 17, exploratory; docs/fingerprint.md):
// a minutia in a region where the ridges break into pores and dots has many
// other minutiae close by. texStage selects where a cylinder pair's weight
// sqrt(ta tb) enters the 1:1 score: 0 nowhere (as shipped), 1 on the
// candidates' local similarity before the one-to-one choice, 2 on the pairs
// summed into the score. Set only by tests.
var texStage = 0

// texParams are the measure's parameters: radius (px), power, whether the
// weights are divided by their template mean, the kind of count (0 every
// minutia within the radius, 1 only those whose direction differs by more
// than 90 degrees: the facing pairs a pore leaves), and a floor.
var texParams = struct {
	r, p  float64
	rel   bool
	kind  int
	floor float64
	c     float64 // counts up to c are not penalised
}{r: 20, p: 1, rel: true}

// texWeights returns the texture weight of each of c's cylinders, counted
// among the template's minutiae ms.
func texWeights(c *cylinders, ms []Minutia) []float32 {
	n := c.n()
	if n == 0 {
		return nil
	}
	out := make([]float32, n)
	r2 := float32(texParams.r * texParams.r)
	sum := 0.0
	for i := range n {
		cnt := 0
		for _, m := range ms {
			if texParams.kind == 2 {
				if m.X == c.x[i] && m.Y == c.y[i] && m.Dir == c.dir[i] {
					cnt = int(m.tex)
					break
				}
				continue
			}
			dx, dy := m.X-c.x[i], m.Y-c.y[i]
			d2 := dx*dx + dy*dy
			if d2 == 0 || d2 > r2 {
				continue
			}
			if texParams.kind == 1 && math.Abs(angleDiff(float64(m.Dir), float64(c.dir[i]))) < math.Pi/2 {
				continue
			}
			cnt++
		}
		w := math.Pow(1+max(0, float64(cnt)-texParams.c), -texParams.p)
		w = max(w, texParams.floor)
		out[i] = float32(w)
		sum += w
	}
	if texParams.rel {
		mean := sum / float64(n)
		for i := range out {
			out[i] = float32(float64(out[i]) / mean)
		}
	}
	return out
}
