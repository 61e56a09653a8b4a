package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
)

// turnClock is a registry.Observer that adds up the deduplication turns'
// waits and holds (registry.TurnObserver).
type turnClock struct {
	n            atomic.Int64
	waited, held atomic.Int64 // ns
	mu           sync.Mutex
	longest      time.Duration
}

func (*turnClock) Registered()             {}
func (*turnClock) Captured(string, string) {}
func (*turnClock) Denied(string)           {}
func (c *turnClock) DedupTurn(_ string, waited, held time.Duration) {
	c.n.Add(1)
	c.waited.Add(int64(waited))
	c.held.Add(int64(held))
	c.mu.Lock()
	c.longest = max(c.longest, held)
	c.mu.Unlock()
}

// BenchmarkCaptureTurnOverPostgres measures how long a deduplicating
// fingerprint capture holds its modality's turn over PostgreSQL (the
// commit step: the storing transaction with its 1:1 comparisons of the
// additions made during the search, the advisory lock's round trips, the
// in-process gallery's Add), with 1 desk and with 8 desks capturing at
// once into one registry (so that windows are not empty). held-ms/capture
// bounds the deployment: at most 1000/held captures a second per modality.
func BenchmarkCaptureTurnOverPostgres(b *testing.B) {
	for _, desks := range []int{1, 8} {
		b.Run(fmt.Sprintf("desks=%d", desks), func(b *testing.B) {
			db := openTest(b, Options{MaxConns: 16})
			ctx := context.Background()
			m, _ := envelope.GenerateMasterKey()
			kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{})
			if err != nil {
				b.Fatal(err)
			}
			clock := &turnClock{}
			r := registry.New(db, kr, registry.Options{Observer: clock})
			if _, err := r.LoadGalleries(ctx, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := r.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
				b.Fatal(err)
			}
			registrar := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
			var next atomic.Int64
			capture := func(rng *rand.Rand) {
				i := next.Add(1)
				p, err := r.CreatePerson(ctx, registrar, consent.Registration, registry.NewPerson{
					GivenName: fmt.Sprintf("Given%d", i), FamilyName: "Family", BirthDate: "1985-06-07", Sex: "female", AreaCode: "A",
					Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
						Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
				if err != nil {
					b.Error(err)
					return
				}
				raw, _ := synth.NewFinger(rng).Template().MarshalBinary()
				if _, err := r.EnrolTemplate(ctx, registrar, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw); err != nil {
					b.Error(err)
				}
			}
			n := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for d := range desks {
					wg.Add(1)
					go func() {
						defer wg.Done()
						capture(rand.New(rand.NewPCG(uint64(n), uint64(d))))
					}()
				}
				wg.Wait()
				n++
			}
			k := float64(clock.n.Load())
			b.ReportMetric(float64(clock.held.Load())/k/1e6, "held-ms/capture")
			b.ReportMetric(float64(clock.waited.Load())/k/1e6, "waited-ms/capture")
			b.ReportMetric(float64(clock.longest)/1e6, "longest-held-ms")
		})
	}
}
