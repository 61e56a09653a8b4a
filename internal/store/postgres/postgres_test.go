package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/audit/audittest"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// URLEnv names the environment variable with the test server's URL. CI sets
// it (postgres://postgres@127.0.0.1:5432/test?sslmode=disable); without it
// the tests that need a server are skipped.
const URLEnv = "ASSENT_POSTGRES_URL"

func testURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (CI sets it, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", URLEnv)
	}
	return u
}

// freshSchema returns the name of a schema no other test uses, and drops
// it (with everything in it) when the test ends.
func freshSchema(tb testing.TB, url string) string {
	tb.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// openTest opens a migrated store in a fresh schema, closed at cleanup.
func openTest(tb testing.TB, opt Options) *DB {
	tb.Helper()
	url := testURL(tb)
	opt.Migrate = true
	opt.Schema = freshSchema(tb, url)
	db, err := Open(context.Background(), url, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	testURL(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{}) })
}

// auditAdapter shows a DB to package audit the way the registry does
// (registry.AuditStore), plus appends in transactions of their own.
type auditAdapter struct {
	registry.AuditStore
	db *DB
}

func newAuditAdapter(db *DB) auditAdapter {
	return auditAdapter{AuditStore: registry.NewAuditStore(db, nil), db: db}
}

// append stores e at the next index in its own transaction.
func (a auditAdapter) append(ctx context.Context, e audit.Event) (uint64, error) {
	var idx uint64
	err := a.db.Update(ctx, func(tx store.Tx) error {
		size, err := tx.AuditSize(ctx)
		if err != nil {
			return err
		}
		row, err := audit.NewRow(size, e)
		if err != nil {
			return err
		}
		idx, err = tx.AppendAudit(ctx, e.PersonID, row.Data, row.LeafHash)
		return err
	})
	return idx, err
}

func (a auditAdapter) rows(ctx context.Context) iter.Seq2[audit.Row, error] {
	return registry.AuditRows(ctx, a.db)
}

func (a auditAdapter) notes(ctx context.Context) ([][]byte, error) {
	return registry.AuditCheckpointNotes(ctx, a.db)
}

func TestAuditConformance(t *testing.T) {
	testURL(t)
	t.Parallel()
	audittest.Run(t, func(t *testing.T) audittest.Harness {
		a := newAuditAdapter(openTest(t, Options{}))
		return audittest.Harness{Leaves: a, Checkpoints: a, Append: a.append, Rows: a.rows, Notes: a.notes}
	})
}

// TestConcurrentAuditAppends has many writers append at once while a
// reader checks that what it sees is always a prefix 0..k-1 (no row visible
// before a smaller one), and that the end result is 0..n-1 exactly once.
func TestConcurrentAuditAppends(t *testing.T) {
	db := openTest(t, Options{MaxConns: 12})
	a := newAuditAdapter(db)
	ctx := context.Background()
	const workers, each = 12, 25
	stop := make(chan struct{})
	var reads atomic.Int64
	var readerErr error
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var rows []store.AuditRow
			err := db.View(ctx, func(tx store.Tx) error {
				var err error
				rows, err = tx.AuditRows(ctx, 0, workers*each+1)
				return err
			})
			if err != nil {
				readerErr = err
				return
			}
			for i, r := range rows {
				if r.Index != uint64(i) {
					readerErr = fmt.Errorf("a snapshot shows idx %d at position %d: a row visible before a smaller one", r.Index, i)
					return
				}
			}
			reads.Add(1)
		}
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []uint64
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				idx, err := a.append(ctx, audittest.Event(w*each+i))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, idx)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	readerWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	slices.Sort(got)
	want := make([]uint64, workers*each)
	for i := range want {
		want[i] = uint64(i)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("indexes returned to writers (-want +got):\n%s", d)
	}
	var stored []uint64
	for r, err := range a.rows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, r.Index)
	}
	if d := cmp.Diff(want, stored); d != "" {
		t.Fatalf("stored indexes (-want +got):\n%s", d)
	}
	if _, err := audit.Verify(ctx, a.rows(ctx), nil, audittest.Signer(t).VerifierKey()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	t.Logf("%d appends by %d writers; the reader took %d snapshots", workers*each, workers, reads.Load())
}

// TestRetryAfterSerializationFailure makes two transactions read the same
// audit size and then both append: one must be run again, and both end up
// with distinct indexes.
func TestRetryAfterSerializationFailure(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
		wantErr    bool
	}{
		{"RetriedToSuccess", 0, false},
		{"NoRetriesFails", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTest(t, Options{MaxRetries: tc.maxRetries})
			ctx := context.Background()
			var calls atomic.Int64
			var first sync.WaitGroup
			first.Add(2)
			results := make(chan error, 2)
			for w := range 2 {
				go func() {
					attempt := 0
					results <- db.Update(ctx, func(tx store.Tx) error {
						calls.Add(1)
						attempt++
						if _, err := tx.AuditSize(ctx); err != nil {
							return err
						}
						if attempt == 1 {
							first.Done()
							first.Wait() // both have read the size
						}
						_, err := tx.AppendAudit(ctx, "", []byte{byte(w)}, []byte{byte(w)})
						return err
					})
				}()
			}
			var failed int
			for range 2 {
				if err := <-results; err != nil {
					failed++
					t.Logf("update error: %v", err)
				}
			}
			if tc.wantErr {
				if failed != 1 {
					t.Errorf("%d of 2 updates failed, want 1 (no retries)", failed)
				}
				return
			}
			if failed != 0 {
				t.Fatalf("%d updates failed", failed)
			}
			if n := calls.Load(); n < 3 {
				t.Errorf("fn ran %d times, want at least 3 (one retry)", n)
			}
			var size uint64
			if err := db.View(ctx, func(tx store.Tx) error {
				var err error
				size, err = tx.AuditSize(ctx)
				return err
			}); err != nil || size != 2 {
				t.Errorf("audit size %d, %v; want 2", size, err)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.CreateSite(ctx, store.Site{Code: "s1", Name: "n", AreaCode: "a", CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"DuplicateSite", func(tx store.Tx) error {
			return tx.CreateSite(ctx, store.Site{Code: "s1", CreatedAt: t0})
		}, store.ErrConflict},
		{"DuplicateOperatorKey", func(tx store.Tx) error {
			o := store.Operator{ID: "o1", Role: "admin", KeyMAC: []byte{1}, CreatedAt: t0}
			if err := tx.CreateOperator(ctx, o); err != nil {
				return err
			}
			o.ID = "o2"
			return tx.CreateOperator(ctx, o)
		}, store.ErrConflict},
		{"MissingSite", func(tx store.Tx) error { _, err := tx.GetSite(ctx, "nope"); return err }, store.ErrNotFound},
		{"MissingPerson", func(tx store.Tx) error { _, err := tx.GetPerson(ctx, "nope"); return err }, store.ErrNotFound},
		{"UpdateMissingPerson", func(tx store.Tx) error {
			return tx.UpdatePerson(ctx, store.Person{ID: "nope", Version: 2})
		}, store.ErrNotFound},
		{"NoCheckpoint", func(tx store.Tx) error { _, _, err := tx.LatestCheckpoint(ctx); return err }, store.ErrNotFound},
		{"DecideMissingCase", func(tx store.Tx) error { return tx.DecideCase(ctx, store.Case{ID: "nope"}) }, store.ErrConflict},
		{"UpdateMissingSpecimen", func(tx store.Tx) error { return tx.UpdateSpecimen(ctx, store.Specimen{ID: "nope"}) }, store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(ctx, tc.fn)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "postgres: ") {
				t.Errorf("error %q lacks the postgres: prefix", err)
			}
		})
	}
}

func TestViewIsReadOnly(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	err := db.View(ctx, func(tx store.Tx) error {
		return tx.CreateSite(ctx, store.Site{Code: "s1"})
	})
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}

func TestSchemaChecks(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	schema := freshSchema(t, url)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, Options{Schema: schema}); !errors.Is(err, store.ErrStaleSchema) {
		t.Fatalf("empty schema without Migrate: got %v, want ErrStaleSchema", err)
	}
	db, err := Open(ctx, url, Options{Schema: schema, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != LatestSchema() {
		t.Fatalf("schema version = %d, %v; want %d", v, err, LatestSchema())
	}
	db.Close()
	// Opening again, with or without Migrate, changes nothing.
	for _, migrate := range []bool{false, true} {
		db, err := Open(ctx, url, Options{Schema: schema, Migrate: migrate})
		if err != nil {
			t.Fatalf("reopen (migrate %v): %v", migrate, err)
		}
		db.Close()
	}
	// Pretend a newer binary migrated this schema.
	if _, err := c.Exec(ctx, `INSERT INTO `+schema+`.schema_migrations(version, name, applied_at) VALUES ($1, 'future', 0)`, LatestSchema()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, Options{Schema: schema, Migrate: true}); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("newer schema: got %v, want ErrSchemaTooNew", err)
	}
}

// TestConcurrentMigrations opens several stores on one empty schema at
// once: each migration is applied exactly once and every Open succeeds.
func TestConcurrentMigrations(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			db, err := Open(ctx, url, Options{Schema: schema, Migrate: true})
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var count, maxV int
	if err := c.QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM `+schema+`.schema_migrations`).Scan(&count, &maxV); err != nil {
		t.Fatal(err)
	}
	if count != LatestSchema() || maxV != LatestSchema() {
		t.Errorf("%d migration rows up to %d, want %d", count, maxV, LatestSchema())
	}
}

func TestOptionsAndURL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		url  string
		opt  Options
	}{
		{"SchemaWithQuote", "postgres://u@127.0.0.1/db", Options{Schema: `x"; DROP`}},
		{"SchemaUpperCase", "postgres://u@127.0.0.1/db", Options{Schema: "Abc"}},
		{"SchemaStartsWithDigit", "postgres://u@127.0.0.1/db", Options{Schema: "1abc"}},
		{"SchemaTooLong", "postgres://u@127.0.0.1/db", Options{Schema: strings.Repeat("a", 64)}},
		{"NegativeConns", "postgres://u@127.0.0.1/db", Options{MaxConns: -1}},
		{"BadURL", "postgres://u:secret@127.0.0.1:notaport/db", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url, tc.opt)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestClosedStore(t *testing.T) {
	db := openTest(t, Options{})
	db.Close()
	err := db.View(context.Background(), func(store.Tx) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("View after Close: got %v, want a closed-pool error", err)
	}
}

// TestDroppedConnections ends every server connection of a store between
// two updates, as a server restart would: the next update must still work.
func TestDroppedConnections(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	app := "assent_" + freshSchema(t, url)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	db, err := Open(ctx, url+sep+"application_name="+app, Options{Migrate: true, Schema: strings.TrimPrefix(app, "assent_"), MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Fill the pool with idle connections.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := db.View(ctx, func(tx store.Tx) error { _, err := tx.AuditSize(ctx); time.Sleep(50 * time.Millisecond); return err }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection to end")
	}
	time.Sleep(100 * time.Millisecond) // let the backends exit
	for i := range 3 {
		err := db.Update(ctx, func(tx store.Tx) error {
			_, err := tx.AppendAudit(ctx, "", []byte{byte(i)}, []byte{byte(i)})
			return err
		})
		if err != nil {
			t.Fatalf("update %d after %d connections were ended: %v", i, killed, err)
		}
	}
}

func TestRefusesUnsafeDurability(t *testing.T) {
	url := testURL(t)
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	unsafe := url + sep + "synchronous_commit=off"
	schema := freshSchema(t, url)
	for _, tc := range []struct {
		name    string
		allow   bool
		wantErr bool
	}{{"Refused", false, true}, {"AllowedWhenAsked", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(ctx, unsafe, Options{Migrate: true, Schema: schema, AllowUnsafeDurability: tc.allow})
			if err == nil {
				db.Close()
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("Open with synchronous_commit=off: err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
