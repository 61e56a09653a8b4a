package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/cluster"
	"github.com/assent-registry/assent/internal/cluster/clustertest"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// populate writes people with one deduplication fingerprint each straight
// into the store (as assent bench enrol does) and returns their fingers.
func populate(b *testing.B, env *registrytest.Env, n int, rng *rand.Rand) []synth.Finger {
	b.Helper()
	ctx := context.Background()
	fingers := make([]synth.Finger, n)
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	err := env.DB.Update(ctx, func(tx store.Tx) error {
		for i := range fingers {
			fingers[i] = synth.NewFinger(rng)
			id := uuid.NewString()
			p := store.Person{ID: id, Status: store.StatusActive, AreaCode: "A1", Site: "s1", Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := registry.SealIdentity(ctx, env.Keyring, &p, registry.Identity{GivenName: fmt.Sprint("P", i), FamilyName: "Bench", BirthDate: "1980-01-01", Sex: "unknown"}); err != nil {
				return err
			}
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
			for _, pair := range [][2]string{{"identity", "registration"}, {"fingerprint", "deduplication"}} {
				if _, err := tx.AppendConsent(ctx, store.ConsentRecord{PersonID: id, Category: pair[0], Purpose: pair[1], Decision: "granted",
					Method: "bench", NoticeVersion: "1", Language: "en", At: now}); err != nil {
					return err
				}
			}
			raw, _ := fingers[i].Template().MarshalBinary()
			sealed, err := registry.SealTemplate(ctx, env.Keyring, id, consent.Fingerprint, raw)
			if err != nil {
				return err
			}
			if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: uuid.NewString(), PersonID: id, Category: "fingerprint", Position: "right_index",
				Format: registry.FormatImage, Purpose: "deduplication", TemplateSealed: sealed, CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return fingers
}

// BenchmarkSearch compares one 1:N fingerprint search in this process
// (dedup.Local) with the same search scattered over gallery shards on an
// embedded 3-node JetStream cluster (all in this process: the figure is
// the overhead of the messaging, the outbox flush and the catch-up check,
// not of a network). ASSENT_BENCH_PEOPLE (default 1000) people, 10 shards.
//
//	go test -run '^$' -bench Search -benchtime 200x ./internal/cluster/
func BenchmarkSearch(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("ASSENT_BENCH_PEOPLE")); err == nil && v > 0 {
		n = v
	}
	const shards = 10
	rng := rand.New(rand.NewPCG(3, 4))
	env := registrytest.New(b, registrytest.Options{})
	fingers := populate(b, env, n, rng)
	probes := make([][]byte, 64)
	for i := range probes {
		probes[i], _ = fingers[rng.IntN(n)].Mate(rng).MarshalBinary()
	}
	ctx := context.Background()

	b.Run("local", func(b *testing.B) {
		l := dedup.NewLocal()
		r := registry.New(env.DB, env.Keyring, registry.Options{Galleries: l})
		if _, err := r.LoadGalleries(ctx, nil); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			if _, _, err := l.Search(ctx, dedup.Fingerprint, probes[i%len(probes)], ""); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run(fmt.Sprintf("%d-shards", shards), func(b *testing.B) {
		url, _ := clustertest.NATS(b, 3)
		for i := range shards {
			sctx, cancel := context.WithCancel(ctx)
			ready := make(chan struct{})
			rec := registry.New(env.DB, env.Keyring, registry.Options{})
			s, err := cluster.NewShard(clustertest.Connect(b, url), rec, cluster.ShardOptions{Index: i, Of: shards, StreamReplicas: 3, Ready: func(registry.GalleryStats) { close(ready) }})
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Run(sctx) }()
			b.Cleanup(func() { cancel(); <-done })
			select {
			case <-ready:
			case err := <-done:
				b.Fatal(err)
			}
		}
		c, err := cluster.NewClient(clustertest.Connect(b, url), cluster.ClientOptions{Shards: shards})
		if err != nil {
			b.Fatal(err)
		}
		c.UseOutbox(registry.New(env.DB, env.Keyring, registry.Options{Galleries: c}))
		i := 0
		for b.Loop() {
			_, complete, err := c.Search(ctx, dedup.Fingerprint, probes[i%len(probes)], "")
			if err != nil || !complete {
				b.Fatalf("search: complete %v, %v", complete, err)
			}
			i++
		}
	})
}
