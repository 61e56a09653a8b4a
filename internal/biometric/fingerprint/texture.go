package fingerprint

// Texture weights (twelfth to fourteenth passes of issue 17,
// docs/fingerprint.md): a minutia where the ridges break into pores and
// dots has many of the skeleton's raw minutia candidates (every ending and
// bifurcation in the mask before the false-minutia tests) close by, and such
// minutiae repeat badly between impressions. Extraction counts, for each
// minutia it keeps, the candidates within texRadius pixels (Minutia.tex, one
// byte, stored in the "AFP4" form); a cylinder's weight is 1 / (1 + count),
// divided by the mean weight of its template's cylinders (so that a sensor's
// texture level cancels), and each pair summed into a 1:1 score counts
// sqrt(wa wb) times its relaxed similarity (match). A template whose counts
// are unknown (made from minutiae alone, decoded from "AFP1" to "AFP3", or
// from an ISO/IEC 19794-2 record) has weight 1 on every cylinder. A gallery
// keeps no weights: 1:N scores go without them.

// texRadius is the radius of the texture count, pixels at 500 dpi.
const texRadius = 24

// setTex gives t's cylinders their texture weights from its minutiae's
// counts (t made by Extract, or decoded from "AFP4").
func (t *Template) setTex() {
	t.hasTex = true
	t.cyl.tex = texWeights(&t.cyl, t.Minutiae)
}

// texWeights returns the texture weight of each of c's cylinders, whose
// minutiae are among ms, relative to their mean.
func texWeights(c *cylinders, ms []Minutia) []float32 {
	n := c.n()
	if n == 0 {
		return nil
	}
	out := make([]float32, n)
	sum := 0.0
	for i := range n {
		cnt := 0
		for _, m := range ms {
			if m.X == c.x[i] && m.Y == c.y[i] && m.Dir == c.dir[i] {
				cnt = int(m.tex)
				break
			}
		}
		w := 1 / (1 + float64(cnt))
		out[i] = float32(w)
		sum += w
	}
	mean := sum / float64(n)
	for i := range out {
		out[i] = float32(float64(out[i]) / mean)
	}
	return out
}
