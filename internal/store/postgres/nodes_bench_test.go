package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
)

// countingStore counts how often Update runs its function (attempts:
// serialization failures make the PostgreSQL store run it again).
type countingStore struct {
	store.Store
	attempts *atomic.Int64
}

func (c countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return c.Store.Update(ctx, func(tx store.Tx) error { c.attempts.Add(1); return fn(tx) })
}

// BenchmarkAuditedWritesNodes measures audited writes (a registration
// through the registry: the gate, the sealed person, the consents and the
// audit event in one transaction) per second with one and with two API
// nodes over one PostgreSQL database. Each node has its own connection
// pool, keyring and audit log, and cuts checkpoints (Run: every 1000
// entries, under the lease) while writers work; writers/node goroutines
// write through each node; lock-on-retry=false turns the write lock of
// retried updates off (Options.NoWriteLock); writes that then fail
// because their retries ran out are counted (failed-writes), not fatal.
// docs/audit.md reports the numbers.
func BenchmarkAuditedWritesNodes(b *testing.B) {
	for _, tc := range []struct {
		nodes, writers int
		lockOnRetry    bool
	}{{1, 8, true}, {2, 8, true}, {1, 16, true}, {1, 8, false}, {2, 8, false}} {
		b.Run(fmt.Sprintf("nodes=%d/writers-per-node=%d/lock-on-retry=%v", tc.nodes, tc.writers, tc.lockOnRetry), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			url := testURL(b)
			schema := freshSchema(b, url)
			master, err := envelope.GenerateMasterKey()
			if err != nil {
				b.Fatal(err)
			}
			keys := &envelope.MemStore{}
			var attempts atomic.Int64
			var regs []*registry.Registry
			for range tc.nodes {
				db, err := Open(ctx, url, Options{Migrate: true, Schema: schema, MaxConns: tc.writers, NoWriteLock: !tc.lockOnRetry})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				kr, err := envelope.NewKeyring(ctx, keys, master, envelope.Options{})
				if err != nil {
					b.Fatal(err)
				}
				alog, err := registry.NewAuditLog(ctx, db, kr, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				go func() { _ = alog.Run(ctx, 0, 1000) }()
				regs = append(regs, registry.New(countingStore{Store: db, attempts: &attempts}, kr, registry.Options{Audit: alog}))
			}
			admin := registry.Actor{Role: consent.Admin}
			if _, err := regs[0].PutArea(ctx, admin, "A", registry.AreaInput{Name: "Area A"}); err != nil {
				b.Fatal(err)
			}
			if _, err := regs[0].CreateSite(ctx, admin, registry.NewSite{Code: "s1", Name: "Site one", AreaCode: "A"}); err != nil {
				b.Fatal(err)
			}
			attempts.Store(0)
			var next, goroutine, failed atomic.Int64
			b.SetParallelism(max(1, tc.nodes*tc.writers/runtime.GOMAXPROCS(0)))
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := regs[int(goroutine.Add(1))%len(regs)]
				for pb.Next() {
					_, err := enrolOn(ctx, r, int(next.Add(1)))
					switch {
					case err == nil:
					case !tc.lockOnRetry && isCode(err, codeSerialization):
						failed.Add(1) // retries ran out: the figure this case is for
					default:
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			b.ReportMetric(float64(attempts.Load())/float64(b.N), "attempts/write")
			b.ReportMetric(float64(failed.Load()), "failed-writes")
			cp, err := regs[len(regs)-1].Checkpoint(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cp.Size), "entries")
		})
	}
}
