package fingerprint

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WritePlotSVG writes an SVG with two panels: histograms of the genuine and
// impostor scores, and the DET curve (FNMR against FMR, both on log axes).
func WritePlotSVG(w io.Writer, title string, genuine, impostor []float64) error {
	const W, H, pad = 900, 420, 50
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/><text x="%d" y="20" font-size="14">%s</text>`+"\n", W, H, pad, escape(title))
	// Histograms.
	hi := 0.0
	for _, v := range slices.Concat(genuine, impostor) {
		hi = max(hi, v)
	}
	if hi <= 0 {
		hi = 1
	}
	const bins = 50
	pw, ph := 380.0, 300.0
	x0, y0 := float64(pad), float64(H-pad)
	hist := func(s []float64) []float64 {
		h := make([]float64, bins)
		for _, v := range s {
			h[min(bins-1, max(0, int(v/hi*bins)))]++
		}
		for i := range h {
			h[i] /= float64(max(1, len(s)))
		}
		return h
	}
	hg, him := hist(genuine), hist(impostor)
	top := max(slices.Max(hg), slices.Max(him))
	for _, d := range []struct {
		h     []float64
		color string
	}{{him, "#d62728"}, {hg, "#1f77b4"}} {
		var pts []string
		for i, v := range d.h {
			x := x0 + pw*float64(i)/bins
			y := y0 - ph*v/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x, y, x+pw/bins, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" points="%s"/>`+"\n", d.color, strings.Join(pts, " "))
	}
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, y0, x0+pw, y0)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">score 0 .. %.3f</text><text x="%.0f" y="%.0f" fill="#1f77b4">genuine (%d)</text><text x="%.0f" y="%.0f" fill="#d62728">impostor (%d)</text>`+"\n",
		x0, y0+20, hi, x0+pw-120, y0-ph, len(genuine), x0+pw-120, y0-ph+15, len(impostor))
	// DET curve on log axes from 1e-4 to 1.
	dx0 := float64(W/2 + pad)
	lg := func(v float64) float64 { return (math.Log10(max(v, 1e-4)) + 4) / 4 }
	g, im := slices.Clone(genuine), slices.Clone(impostor)
	slices.Sort(g)
	slices.Sort(im)
	ts := slices.Compact(slices.Sorted(slices.Values(slices.Concat(g, im))))
	var pts []string
	for _, t := range ts {
		fnmr := float64(countBelow(g, t)) / float64(max(1, len(g)))
		fmr := float64(len(im)-countBelow(im, t)) / float64(max(1, len(im)))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", dx0+pw*lg(fmr), y0-ph*lg(fnmr)))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="black" points="%s"/>`+"\n", strings.Join(pts, " "))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", dx0, y0-ph, pw, ph)
	for k := 0; k <= 4; k++ {
		v := float64(k) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">1e-%d</text><text x="%.0f" y="%.0f">1e-%d</text>`+"\n",
			dx0+pw*v-10, y0+15, 4-k, dx0-40, y0-ph*v+4, 4-k)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">FMR</text><text x="%.0f" y="%.0f">FNMR</text>`+"\n", dx0+pw/2, y0+30, dx0-45, y0-ph-8)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
