package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
)

// slowGallery is an in-process gallery service whose every search takes
// at least delay: the latency of a search at 20 million people (about
// 0.45 s on 8-core shards), without its CPU.
// Only the Galleries methods are forwarded (not dedup.Local's decoded
// ones, which the registry would call instead of Search).
type slowGallery struct {
	local *dedup.Local
	delay time.Duration
}

func (g slowGallery) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	time.Sleep(g.delay)
	return g.local.Search(ctx, modality, probe, exclude)
}

func (g slowGallery) Add(ctx context.Context, modality, personID, ref string, template []byte) error {
	return g.local.Add(ctx, modality, personID, ref, template)
}

func (g slowGallery) Remove(ctx context.Context, personID, ref string) error {
	return g.local.Remove(ctx, personID, ref)
}

func (g slowGallery) Sizes() map[string]int { return g.local.Sizes() }

// BenchmarkDesksSlowSearchOverPostgres: 8 desks capture new fingers at
// once through two registries (two API nodes) over one PostgreSQL, with
// searches that take 0.45 s. It uses only the registry's exported API, so
// the same file measures the code before issue 15's fifth round (a turn
// around the search) and after (a turn around the commit only):
// captures/s is what the turn lets through when searches are slow.
func BenchmarkDesksSlowSearchOverPostgres(b *testing.B) {
	const desks, perDesk = 8, 2
	db := openTest(b, Options{MaxConns: 16})
	ctx := context.Background()
	m, _ := envelope.GenerateMasterKey()
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{})
	if err != nil {
		b.Fatal(err)
	}
	g := slowGallery{local: dedup.NewLocal(), delay: 450 * time.Millisecond}
	nodes := []*registry.Registry{registry.New(db, kr, registry.Options{Galleries: g}), registry.New(db, kr, registry.Options{Galleries: g})}
	if _, err := nodes[0].PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		b.Fatal(err)
	}
	registrar := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	round := 0
	for b.Loop() {
		b.StopTimer()
		ids := make([][]string, desks)
		raws := make([][][]byte, desks)
		for d := range desks {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(d)))
			for k := range perDesk {
				p, err := nodes[d%2].CreatePerson(ctx, registrar, consent.Registration, registry.NewPerson{
					GivenName: fmt.Sprintf("G%d.%d.%d", round, d, k), FamilyName: "Family", BirthDate: "1985-06-07", Sex: "female", AreaCode: "A",
					Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
						Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
				if err != nil {
					b.Fatal(err)
				}
				raw, _ := synth.NewFinger(rng).Template().MarshalBinary()
				ids[d], raws[d] = append(ids[d], p.ID), append(raws[d], raw)
			}
		}
		b.StartTimer()
		var wg sync.WaitGroup
		for d := range desks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range perDesk {
					if _, err := nodes[d%2].EnrolTemplate(ctx, registrar, consent.Deduplication, ids[d][k], consent.Fingerprint, "right_index", raws[d][k]); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		round++
	}
	b.ReportMetric(float64(b.N*desks*perDesk)/b.Elapsed().Seconds(), "captures/s")
}
