package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/audit/audittest"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// backends opens each store the benchmarks compare: SQLite always,
// PostgreSQL when ASSENT_POSTGRES_URL is set.
func backends(b *testing.B, run func(b *testing.B, s store.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		db, err := sqlite.Open(context.Background(), b.TempDir(), sqlite.Options{Migrate: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		run(b, db)
	})
	b.Run("postgres", func(b *testing.B) { run(b, openTest(b, Options{MaxConns: 16})) })
}

// appendEvent is one audit append in its own durable transaction, built the
// way the registry builds it (size read, event encoded, row appended).
func appendEvent(ctx context.Context, s store.Store, i int, attempts *atomic.Int64) error {
	return s.Update(ctx, func(tx store.Tx) error {
		attempts.Add(1)
		size, err := tx.AuditSize(ctx)
		if err != nil {
			return err
		}
		row, err := audit.NewRow(size, audittest.Event(i))
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, "person-1", row.Data, row.LeafHash)
		return err
	})
}

// BenchmarkAuditAppend is one durable audit append after another.
func BenchmarkAuditAppend(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		var attempts atomic.Int64
		i := 0
		for b.Loop() {
			if err := appendEvent(ctx, s, i, &attempts); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

// BenchmarkAuditAppendConcurrent has 16 goroutines append at once: every
// append contends for the log's tail, so this shows what serialization
// failures and retries cost (attempts/append is 1 when none happen).
func BenchmarkAuditAppendConcurrent(b *testing.B) {
	backends(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		var attempts, next atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := appendEvent(ctx, s, int(next.Add(1)), &attempts); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		b.ReportMetric(float64(attempts.Load())/float64(b.N), "attempts/append")
	})
}

// BenchmarkCreatePerson is one durable person insert (a sealed identity of
// a realistic size) per transaction, without and with its audit event.
func BenchmarkCreatePerson(b *testing.B) {
	for _, audited := range []bool{false, true} {
		name := "unaudited"
		if audited {
			name = "audited"
		}
		b.Run(name, func(b *testing.B) {
			backends(b, func(b *testing.B, s store.Store) {
				ctx := context.Background()
				sealed := make([]byte, 240)
				var attempts atomic.Int64
				i := 0
				for b.Loop() {
					err := s.Update(ctx, func(tx store.Tx) error {
						attempts.Add(1)
						id := fmt.Sprintf("person-%08d", i)
						p := store.Person{ID: id, Status: store.StatusActive, AreaCode: "A1", Site: "s1", Version: 1,
							IdentitySealed: sealed, LookupIndex: []byte{byte(i), byte(i >> 8)}, PortalCodeMAC: sealed[:32],
							CreatedAt: time.Now(), UpdatedAt: time.Now()}
						if err := tx.CreatePerson(ctx, p); err != nil {
							return err
						}
						if !audited {
							return nil
						}
						size, err := tx.AuditSize(ctx)
						if err != nil {
							return err
						}
						row, err := audit.NewRow(size, audittest.Event(i))
						if err != nil {
							return err
						}
						_, err = tx.AppendAudit(ctx, id, row.Data, row.LeafHash)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "persons/s")
			})
		})
	}
}
