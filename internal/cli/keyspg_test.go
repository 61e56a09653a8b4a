package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/jackc/pgx/v5"
)

// keysSchemaURL returns the test PostgreSQL URL with a fresh schema as its
// search_path (created now, dropped at cleanup), or skips without one.
func keysSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ASSENT_POSTGRES_URL")
	if base == "" {
		t.Skip("ASSENT_POSTGRES_URL is not set: skipping the PostgreSQL key store through the CLI (CI sets it)")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "k_" + hex.EncodeToString(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// With --keys-postgres the wrapped data keys live in a PostgreSQL database
// of their own: DIR holds no keys.db, the registry works and reopens, an
// erased person stays erased, and naming the data database as the key
// database is refused.
func TestKeysInPostgres(t *testing.T) {
	keysURL := keysSchemaURL(t)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	a, err := openDir(ctx, dir, quiet, openOptions{Migrate: true, Create: true, KeysPostgres: keysURL})
	if err != nil {
		t.Fatal(err)
	}
	admin := registry.Actor{Role: consent.Admin}
	if _, err := a.reg.PutArea(ctx, admin, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.CreateSite(ctx, admin, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	desk := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	in := registry.NewPerson{GivenName: "Keys", FamilyName: "Elsewhere", BirthDate: "1970-01-01", Sex: "other", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}}
	kept, err := a.reg.CreatePerson(ctx, desk, consent.Registration, in)
	if err != nil {
		t.Fatal(err)
	}
	in.GivenName = "Gone"
	gone, err := a.reg.CreatePerson(ctx, desk, consent.Registration, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.RecordConsent(ctx, desk, consent.Registration, gone.ID, registry.NewConsent{Category: "identity", Purpose: "registration",
		Decision: "withdrawn", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, keyStoreFile)); !os.IsNotExist(err) {
		t.Errorf("keys.db in DIR with --keys-postgres: %v", err)
	}
	// Reopened without Create: DIR is a registry (its master key marks it).
	b, err := openDir(ctx, dir, quiet, openOptions{Migrate: true, KeysPostgres: keysURL})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.reg.GetPerson(ctx, desk, consent.Registration, kept.ID); err != nil || v.GivenName != "Keys" {
		t.Errorf("read back through the PostgreSQL key store: %+v, %v", v, err)
	}
	if _, err := b.reg.GetPerson(ctx, desk, consent.Registration, gone.ID); err == nil {
		t.Error("a person erased with keys in PostgreSQL reads back")
	}
	// The key database must not be the data database.
	data := os.Getenv("ASSENT_POSTGRES_URL")
	if _, err := openDir(ctx, t.TempDir(), quiet, openOptions{Create: true, Postgres: data, KeysPostgres: keysURL}); err == nil || !strings.Contains(err.Error(), "database of its own") {
		t.Errorf("keys in the data database: err %v, want a refusal", err)
	}
}
