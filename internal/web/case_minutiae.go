package web

import (
	"math"
	"strconv"

	"github.com/assent-registry/assent/internal/registry"
)

// The adjudicator sees each fingerprint evidence pair of a case as two
// inline SVG drawings of minutiae side by side (the images are not kept,
// only the templates). Presentation attributes only: the CSP forbids
// inline style.

// tickLen is the length of a minutia's direction tick, in template pixels.
const tickLen = 14

type minutiaMark struct {
	X, Y, X2, Y2 string // the point and the end of its direction tick
}

type minutiaeDrawing struct {
	Position string
	ViewBox  string
	Count    int
	Marks    []minutiaMark
}

type fingerprintPair struct {
	Score float64
	A, B  minutiaeDrawing
}

func coord(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func drawMinutiae(m registry.FingerprintMinutiae) minutiaeDrawing {
	d := minutiaeDrawing{Position: m.Position, Count: len(m.Minutiae),
		ViewBox: "0 0 " + strconv.Itoa(max(m.Width, 1)) + " " + strconv.Itoa(max(m.Height, 1))}
	for _, p := range m.Minutiae {
		d.Marks = append(d.Marks, minutiaMark{X: coord(p.X), Y: coord(p.Y),
			X2: coord(p.X + tickLen*math.Cos(p.Dir)), Y2: coord(p.Y + tickLen*math.Sin(p.Dir))})
	}
	return d
}

func fingerprintPairs(c registry.CaseDetail) []fingerprintPair {
	var out []fingerprintPair
	for _, p := range c.Fingerprints {
		out = append(out, fingerprintPair{Score: p.Score, A: drawMinutiae(p.A), B: drawMinutiae(p.B)})
	}
	return out
}
