package pgkeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/envelope/keystoretest"
	"github.com/jackc/pgx/v5"
)

// keysURLEnv names the test key database. CI points it (or, failing that,
// ASSENT_POSTGRES_URL) at the machine's PostgreSQL; without either these
// tests are skipped, saying so.
const keysURLEnv = "ASSENT_KEYS_POSTGRES_URL"

func testURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(keysURLEnv)
	if u == "" {
		u = os.Getenv("ASSENT_POSTGRES_URL")
	}
	if u == "" {
		t.Skipf("%s (or ASSENT_POSTGRES_URL) is not set: skipping the PostgreSQL key store (CI sets it)", keysURLEnv)
	}
	return u
}

// newStore opens a key store in a fresh schema, dropped at cleanup.
func newStore(t *testing.T) *Store {
	t.Helper()
	url := testURL(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "k_" + hex.EncodeToString(b)
	s, err := Open(context.Background(), url, Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) envelope.KeyStore { return newStore(t) })
}

// Two keyrings (two nodes) over one key store: a value sealed by one opens
// on the other; once one shreds the person, neither opens it. The second
// keyring runs without a cache: a node's cache is its own, so across nodes
// shredding reaches a cached key only when the node is told (docs/keys.md).
func TestShredAcrossNodes(t *testing.T) {
	ctx := context.Background()
	ks := newStore(t)
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	a, err := envelope.NewKeyring(ctx, ks, m, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := envelope.NewKeyring(ctx, ks, m, envelope.Options{CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Seal(ctx, "p1", "identity", "person", []byte("Ada Tester"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Seal(ctx, "p2", "identity", "person", []byte("Kofi Tester"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(ctx, "p1", "identity", "person", v); err != nil || string(got) != "Ada Tester" {
		t.Fatalf("second node opens %q, %v", got, err)
	}
	if n, err := a.ShredPerson(ctx, "p1"); err != nil || n != 1 {
		t.Fatalf("ShredPerson = %d, %v", n, err)
	}
	for name, k := range map[string]*envelope.Keyring{"first": a, "second": b} {
		if _, err := k.Open(ctx, "p1", "identity", "person", v); !errors.Is(err, envelope.ErrShredded) {
			t.Errorf("%s node after shred: err = %v, want ErrShredded", name, err)
		}
		if got, err := k.Open(ctx, "p2", "identity", "person", other); err != nil || string(got) != "Kofi Tester" {
			t.Errorf("%s node lost a neighbour: %q, %v", name, got, err)
		}
	}
	if !bytes.Equal(a.BlindIndex("l", "x"), b.BlindIndex("l", "x")) {
		t.Error("two nodes on one key store derive different blind indexes")
	}
}

func TestOpenRejectsBadSchema(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://127.0.0.1:1/x", Options{Schema: "Robert'); DROP"}); err == nil {
		t.Fatal("a schema name that is not an identifier was accepted")
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mk := func(owner string, v uint32, w string) envelope.WrappedKey {
		return envelope.WrappedKey{Ref: envelope.Ref{Owner: owner, Name: "data/iris"}, Version: v, MasterID: "m", Wrapped: []byte(w), Created: time.Unix(1, 0).UTC()}
	}
	first, other := mk("p1", 1, "first"), mk("p2", 2, "other")
	if err := s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Import(ctx, []envelope.WrappedKey{mk("p1", 3, "second"), other}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []envelope.WrappedKey{first, other} {
		got, err := s.Get(ctx, want.Ref)
		if err != nil || string(got.Wrapped) != string(want.Wrapped) || got.Version != want.Version {
			t.Errorf("Get(%v) = %+v, %v; want %+v", want.Ref, got, err, want)
		}
	}
}

// BenchmarkGetMany reads the keys of 4,096 persons (one name) a query
// from a store of 20,000 persons with three keys each: the query
// GetMany makes, and the one before it (two arrays unnested and joined);
// cpu-ns/key is this process's CPU (the server's is not counted).
func BenchmarkGetMany(b *testing.B) {
	url := os.Getenv(keysURLEnv)
	if url == "" {
		url = os.Getenv("ASSENT_POSTGRES_URL")
	}
	if url == "" {
		b.Skip("no PostgreSQL")
	}
	ctx := context.Background()
	schema := "kb_" + hex.EncodeToString(randBytes(8))
	s, err := Open(ctx, url, Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		s.pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	}()
	const persons, batch = 20000, 4096
	var wks []envelope.WrappedKey
	var owners []string
	for range persons {
		o := hex.EncodeToString(randBytes(16))
		owners = append(owners, o)
		for _, c := range []string{"identity", "fingerprint", "iris"} {
			wks = append(wks, envelope.WrappedKey{Ref: envelope.Ref{Owner: o, Name: "data/" + c}, Version: 1, MasterID: "m", Wrapped: randBytes(61), Created: time.Now()})
		}
	}
	if err := s.Import(ctx, wks); err != nil {
		b.Fatal(err)
	}
	s.pool.Exec(ctx, "ANALYZE wrapped_keys")
	run := func(b *testing.B, get func(refs []envelope.Ref) int) {
		n := 0
		for b.Loop() {
			lo := (n * batch) % (persons - batch)
			refs := make([]envelope.Ref, batch)
			for i := range refs {
				refs[i] = envelope.Ref{Owner: owners[lo+i], Name: "data/fingerprint"}
			}
			if got := get(refs); got != batch {
				b.Fatalf("%d keys", got)
			}
			n++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*batch), "ns/key")
	}
	b.Run("any", func(b *testing.B) {
		run(b, func(refs []envelope.Ref) int {
			got, err := s.GetMany(ctx, refs)
			if err != nil {
				b.Fatal(err)
			}
			return len(got)
		})
	})
	b.Run("unnest-join", func(b *testing.B) {
		run(b, func(refs []envelope.Ref) int {
			os, ns := make([]string, len(refs)), make([]string, len(refs))
			for i, r := range refs {
				os[i], ns[i] = r.Owner, r.Name
			}
			rows, err := s.pool.Query(ctx, `SELECT k.owner, k.name, k.version, k.master_id, k.wrapped, k.created
				FROM wrapped_keys k JOIN (SELECT DISTINCT o, n FROM unnest($1::text[], $2::text[]) AS r(o, n)) r
				ON k.owner = r.o COLLATE "C" AND k.name = r.n COLLATE "C"`, os, ns)
			if err != nil {
				b.Fatal(err)
			}
			defer rows.Close()
			c := 0
			for rows.Next() {
				var wk envelope.WrappedKey
				var version, created int64
				if err := rows.Scan(&wk.Ref.Owner, &wk.Ref.Name, &version, &wk.MasterID, &wk.Wrapped, &created); err != nil {
					b.Fatal(err)
				}
				c++
			}
			return c
		})
	})
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
