package registry

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// BenchmarkLateWindow measures the 1:1 comparisons a commit makes under
// the deduplication turn: a fingerprint probe against a window of 100
// additions (each read from the store, consent decided, opened under its
// person's key, decoded and compared), SQLite, sealed. The cost per
// addition (ms/addition) sets how the turn's length grows with the
// additions made during a search (docs/scale.md).
func BenchmarkLateWindow(b *testing.B) {
	const window = 100
	r := benchRegistry(b, true, true)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range window {
		p, err := r.CreatePerson(ctx, registrar, consent.Registration, enrolBody(i))
		if err != nil {
			b.Fatal(err)
		}
		raw, err := synth.NewFinger(rng).Template().MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.EnrolTemplate(ctx, registrar, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw); err != nil {
			b.Fatal(err)
		}
	}
	probe := synth.NewFinger(rng).Template()
	for b.Loop() {
		err := r.store.View(ctx, func(tx store.Tx) error {
			cands, complete, err := r.lateCandidates(ctx, tx, consent.Fingerprint, probe, "probe", 0, 1<<62, nil)
			if err == nil && (!complete || len(cands) != 0) {
				b.Fatalf("window: %v complete %v", cands, complete)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)/window, "ms/addition")
}
