package registry

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// plainKeys is a Keyring that does not encrypt: the baseline for the cost
// of sealing. Never used outside benchmarks.
type plainKeys struct{ Keyring }

func (plainKeys) Seal(_ context.Context, _, _, _ string, p []byte) ([]byte, error) { return p, nil }
func (plainKeys) Open(_ context.Context, _, _, _ string, s []byte) ([]byte, error) { return s, nil }

// noAuditStore drops audit appends: the baseline for the cost of auditing.
type noAuditStore struct{ store.Store }
type noAuditTx struct{ store.Tx }

func (s noAuditStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(noAuditTx{tx}) })
}
func (noAuditTx) AppendAudit(context.Context, string, []byte, []byte) (uint64, error) { return 0, nil }
func (noAuditTx) AuditSize(context.Context) (uint64, error)                           { return 0, nil }

func benchRegistry(b *testing.B, seal, audit bool) *Registry {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Migrate: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.PutArea(ctx, store.Area{Code: "A", Name: "Area A"}) }); err != nil {
		b.Fatal(err)
	}
	ks, err := envelope.OpenSQLiteStore(ctx, dir+"/keys.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ks.Close() })
	m, _ := envelope.GenerateMasterKey()
	kr, err := envelope.NewKeyring(ctx, ks, m, envelope.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var k Keyring = kr
	if !seal {
		k = plainKeys{kr}
	}
	var s store.Store = db
	if !audit {
		s = noAuditStore{db}
	}
	return New(s, k, Options{})
}

func enrolBody(i int) NewPerson {
	return NewPerson{GivenName: fmt.Sprintf("Given%d", i), FamilyName: "Family", BirthDate: "1985-06-07", Sex: "female", AreaCode: "A",
		Consent: &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
			Decisions: []DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "iris", Purpose: "verification", Decision: "declined"}}}}
}

// BenchmarkEnrol measures registrations per second on SQLite with durable
// commits, with and without sealing and auditing, to show what each costs.
func BenchmarkEnrol(b *testing.B) {
	for _, c := range []struct {
		name        string
		seal, audit bool
	}{{"sealed+audited", true, true}, {"plain+audited", false, true}, {"sealed+unaudited", true, false}, {"plain+unaudited", false, false}} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRegistry(b, c.seal, c.audit)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, err := r.CreatePerson(ctx, registrar, consent.Registration, enrolBody(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "enrolments/s")
		})
	}
}

// BenchmarkRead measures an audited, sealed person read.
func BenchmarkRead(b *testing.B) {
	for _, c := range []struct {
		name  string
		audit bool
	}{{"audited", true}, {"unaudited", false}} {
		b.Run(c.name, func(b *testing.B) {
			r := benchRegistry(b, true, c.audit)
			ctx := context.Background()
			p, err := r.CreatePerson(ctx, registrar, consent.Registration, enrolBody(0))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := r.GetPerson(ctx, registrar, consent.Registration, p.ID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
}

// BenchmarkAuditAppend is one durable audit append in its own transaction.
func BenchmarkAuditAppend(b *testing.B) {
	r := benchRegistry(b, true, true)
	ctx := context.Background()
	a := access{actor: registrar, purpose: consent.Registration, categories: []consent.Category{consent.Identity}, action: consent.Read}
	for b.Loop() {
		if err := r.store.Update(ctx, func(tx store.Tx) error { return r.appendAudit(ctx, tx, a, "p", true, "") }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

var _ = ed25519.PublicKeySize
var _ = time.Second
