package scanbench

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
)

func templates(n int) []*fingerprint.Template {
	r := rand.New(rand.NewPCG(1, 1))
	var out []*fingerprint.Template
	for range n {
		ms := make([]fingerprint.Minutia, 30)
		for i := range ms {
			ms[i] = fingerprint.Minutia{X: float32(20 + r.IntN(260)), Y: float32(20 + r.IntN(300)),
				Dir: float32(r.Float64() * 6.28), Type: 1, Quality: 50}
		}
		out = append(out, fingerprint.NewTemplate(300, 340, ms))
	}
	return out
}

func TestRun(t *testing.T) {
	res, err := Run(context.Background(), Config{Templates: templates(5), Gallery: 200, Probes: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Gallery != 200 || res.PerSecondPerCore <= 0 || res.BytesPerTemplate <= 0 {
		t.Errorf("result %+v", res)
	}
	// Every probe is in the gallery, so each search finds at least itself.
	if res.Candidates < 3 {
		t.Errorf("%d candidates for 3 probes that are enrolled", res.Candidates)
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no templates", Config{Gallery: 10, Probes: 1}},
		{"empty gallery", Config{Templates: templates(1), Probes: 1}},
		{"no probes", Config{Templates: templates(1), Gallery: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("got %v, want ErrConfig", err)
			}
		})
	}
}
