// Package registrytest builds a working registry for the tests of the
// interfaces that call it (the JSON API, the web interface, FHIR): SQLite
// in a temporary directory, an in-memory key store, the audit log, areas
// with a site s1, and one operator key per role. It is for tests only.
package registrytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Options shape New. Zero values give the defaults.
type Options struct {
	Dir   string           // the SQLite directory; default t.TempDir()
	Clock func() time.Time // default: a fixed 2026-06-01 09:00 UTC
	Areas []string         // areas to create; default A1 (site s1 is in the first)
	// Galleries is the 1:N gallery service (e.g. a ShardDown); default the
	// in-process one.
	Galleries registry.Galleries
}

// Env is a registry ready for requests.
type Env struct {
	Reg     *registry.Registry
	DB      store.Store
	Keyring *envelope.Keyring
	Audit   *audit.Log
	// Keys holds one API key per operator role; operators work at site s1,
	// but for the admin, auditor and manager, who have no site.
	Keys map[consent.Role]string
}

// Store returns an empty, migrated SQLite store in a temporary directory
// and a keyring over keys held in memory, both closed when the test ends:
// what a test needs to build its own registry (or bench population).
func Store(t testing.TB) (store.Store, *envelope.Keyring) {
	t.Helper()
	return storeAndKeys(t, t.TempDir())
}

func storeAndKeys(t testing.TB, dir string) (store.Store, *envelope.Keyring) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, MemKeys(t)
}

// MemKeys returns a keyring over a new master key and keys held in memory:
// for a test that brings its own store (PostgreSQL).
func MemKeys(t testing.TB) *envelope.Keyring {
	t.Helper()
	master, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(context.Background(), &envelope.MemStore{}, master, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// New builds the registry and closes it when the test ends.
func New(t testing.TB, opt Options) *Env {
	t.Helper()
	ctx := context.Background()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	if opt.Clock == nil {
		fixed := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		opt.Clock = func() time.Time { return fixed }
	}
	if len(opt.Areas) == 0 {
		opt.Areas = []string{"A1"}
	}
	db, kr := storeAndKeys(t, opt.Dir)
	alog, err := registry.NewAuditLog(ctx, db, kr, opt.Clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(db, kr, registry.Options{Clock: opt.Clock, Audit: alog, Galleries: opt.Galleries})
	admin := registry.Actor{Role: consent.Admin}
	for _, code := range opt.Areas {
		if _, err := reg.PutArea(ctx, admin, code, registry.AreaInput{Name: "Area " + code}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.CreateSite(ctx, admin, registry.NewSite{Code: "s1", Name: "Site one", AreaCode: opt.Areas[0]}); err != nil {
		t.Fatal(err)
	}
	e := &Env{Reg: reg, DB: db, Keyring: kr, Audit: alog, Keys: map[consent.Role]string{}}
	for _, role := range consent.OperatorRoles {
		site := "s1"
		if role == consent.Admin || role == consent.Auditor || role == consent.Manager {
			site = ""
		}
		_, key, err := reg.CreateOperator(ctx, registry.NewOperator{Role: role, Site: site, Name: string(role)})
		if err != nil {
			t.Fatal(err)
		}
		e.Keys[role] = key
	}
	return e
}
