package registry

import (
	"context"
	"fmt"
	"math"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Minutia is one ridge ending or bifurcation of a template as an
// adjudicator sees it: X and Y in 500-dpi pixels from the top-left corner,
// Dir in radians in [0, 2π) (clockwise on screen, y points down).
type Minutia struct {
	X   float64 `json:"x"`
	Y   float64 `json:"y"`
	Dir float64 `json:"dir"`
}

// FingerprintMinutiae is the drawing of one template: its image size and
// its minutiae. Never the template bytes, never an image.
type FingerprintMinutiae struct {
	Position string    `json:"position"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Minutiae []Minutia `json:"minutiae"`
}

// FingerprintPair is one piece of fingerprint evidence of a case: a
// template of the earlier person (A) and the later person's template that
// scores best against it (B), with that score.
type FingerprintPair struct {
	Score float64             `json:"score"`
	A     FingerprintMinutiae `json:"a"`
	B     FingerprintMinutiae `json:"b"`
}

type positioned struct {
	position string
	t        *fingerprint.Template
}

// fingerTemplates opens a person's fingerprint templates for deduplication.
func (r *Registry) fingerTemplates(ctx context.Context, tx store.Tx, id string) ([]positioned, error) {
	bs, err := tx.ListBiometrics(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []positioned
	for _, b := range bs {
		if b.Category != string(consent.Fingerprint) || b.Purpose != string(consent.Deduplication) {
			continue
		}
		raw, err := r.keys.Open(ctx, id, b.Category, kindTemplate, b.TemplateSealed)
		if err != nil {
			return nil, fmt.Errorf("registry: open fingerprint template: %w", err)
		}
		t := new(fingerprint.Template)
		if err := t.UnmarshalBinary(raw); err != nil {
			return nil, err
		}
		out = append(out, positioned{position: b.Position, t: t})
	}
	return out, nil
}

// fingerprintPairs pairs each deduplication fingerprint template of a with
// the best-scoring one of b, keeping the pairs that count as evidence in the
// case's score (evidence of at least 1, as fuse does), best first.
func (r *Registry) fingerprintPairs(ctx context.Context, tx store.Tx, a, b string) ([]FingerprintPair, error) {
	ta, err := r.fingerTemplates(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	tb, err := r.fingerTemplates(ctx, tx, b)
	if err != nil {
		return nil, err
	}
	out := []FingerprintPair{}
	for _, x := range ta {
		best, score := -1, 0.0
		for j, y := range tb {
			if s := (fingerEngine{}).compare(x.t, y.t); s > score {
				best, score = j, s
			}
		}
		if best < 0 || score < 1 {
			continue
		}
		out = append(out, FingerprintPair{Score: math.Round(score*100) / 100, A: drawing(x), B: drawing(tb[best])})
	}
	for i := 1; i < len(out); i++ { // few pairs: insertion sort, best first, stable
		for j := i; j > 0 && out[j].Score > out[j-1].Score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func drawing(p positioned) FingerprintMinutiae {
	ms := make([]Minutia, len(p.t.Minutiae))
	for i, m := range p.t.Minutiae {
		ms[i] = Minutia{X: float64(m.X), Y: float64(m.Y), Dir: math.Round(float64(m.Dir)*1000) / 1000}
	}
	return FingerprintMinutiae{Position: p.position, Width: p.t.Width, Height: p.t.Height, Minutiae: ms}
}
