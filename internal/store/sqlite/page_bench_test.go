package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// BenchmarkBiometricsPage reads every fingerprint template of 10,000
// persons (two each, 2.6 KB sealed, as a gallery load does) in pages of
// 2,000; ns/op is per template read.
func BenchmarkBiometricsPage(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const persons = 10000
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := db.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutArea(ctx, store.Area{Code: "B", Name: "B", UpdatedAt: now}); err != nil {
			return err
		}
		for i := range persons {
			id := uuid.NewString()
			if err := tx.CreatePerson(ctx, store.Person{ID: id, Status: store.StatusActive, AreaCode: "B", Site: "s", Version: 1, CreatedAt: now, UpdatedAt: now, IdentitySealed: []byte("x")}); err != nil {
				return err
			}
			for _, c := range []string{"fingerprint", "fingerprint", "iris", "iris"} {
				t := make([]byte, map[string]int{"fingerprint": 2600, "iris": 1100}[c])
				rand.Read(t)
				if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: uuid.NewString(), PersonID: id, Category: c, Position: fmt.Sprint(i),
					Format: "image", Purpose: "deduplication", TemplateSealed: t, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuNanos()
	n := 0
	for b.Loop() {
		after := ""
		for {
			var page []store.Biometric
			if err := db.View(ctx, func(tx store.Tx) error {
				var err error
				page, err = tx.BiometricsPage(ctx, "fingerprint", after, 2000)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if len(page) < 2000 {
				break
			}
			after = page[len(page)-1].ReferenceID
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/template")
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(n), "cpu-ns/template")
}

// cpuNanos is the process's CPU time (user and system, every core).
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
