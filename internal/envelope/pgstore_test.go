package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// keysURLEnv names the test key database. CI points it (or, failing that,
// ASSENT_POSTGRES_URL) at the machine's PostgreSQL; without either the
// PostgreSQL key store tests are skipped, saying so.
const keysURLEnv = "ASSENT_KEYS_POSTGRES_URL"

func postgresTestURL(t *testing.T) string {
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

// newPostgresStore opens a key store in a fresh schema, dropped at cleanup.
func newPostgresStore(t *testing.T) *PostgresStore {
	t.Helper()
	url := postgresTestURL(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "k_" + hex.EncodeToString(b)
	ctx := context.Background()
	s, err := OpenPostgresStore(ctx, url, PostgresOptions{Schema: schema})
	if err != nil {
		t.Fatalf("OpenPostgresStore: %v", err)
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

// The keyring works end to end over the PostgreSQL key store: what it seals
// opens, and after shredding the person's keys nothing opens any more, from
// this keyring or from a second one (another node) on the same key database.
func TestKeyringOverPostgres(t *testing.T) {
	ks := newPostgresStore(t)
	testShredAcrossNodes(t, ks)
}

func TestOpenPostgresStoreRejectsBadSchema(t *testing.T) {
	if _, err := OpenPostgresStore(context.Background(), "postgres://127.0.0.1:1/x", PostgresOptions{Schema: "Robert'); DROP"}); err == nil {
		t.Fatal("a schema name that is not an identifier was accepted")
	}
}

// testShredAcrossNodes: two keyrings (two nodes) over one key store. A value
// sealed by one opens on the other; once one shreds the person, neither
// opens it. The second keyring runs without a cache: a node's cache is its
// own, so across nodes shredding reaches a cached key only when the node is
// told (docs/keys.md).
func testShredAcrossNodes(t *testing.T, ks KeyStore) {
	ctx := context.Background()
	m := newMaster(t)
	a := newKeyring(t, ks, m, Options{})
	b := newKeyring(t, ks, m, Options{CacheSize: -1})
	v := seal(t, a, "p1", "identity", "person", "Ada Tester")
	other := seal(t, a, "p2", "identity", "person", "Kofi Tester")
	if got, err := b.Open(ctx, "p1", "identity", "person", v); err != nil || string(got) != "Ada Tester" {
		t.Fatalf("second node opens %q, %v", got, err)
	}
	if n, err := a.ShredPerson(ctx, "p1"); err != nil || n != 1 {
		t.Fatalf("ShredPerson = %d, %v", n, err)
	}
	for name, k := range map[string]*Keyring{"first": a, "second": b} {
		if _, err := k.Open(ctx, "p1", "identity", "person", v); !errors.Is(err, ErrShredded) {
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
