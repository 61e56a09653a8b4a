package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// TestBackupRestoreKeepsErasure: a backup taken while the registry is live
// (its shared lock held, its connections open, as under serve), a person
// erased after it, the backup restored next to the live key store: the person
// is gone (410 through the API), and their name is in no file of the backup,
// the data directory or the restored directory.
func TestBackupRestoreKeepsErasure(t *testing.T) {
	ctx := context.Background()
	dir := newRegistryDir(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := openDir(ctx, dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "test server"})
	if err != nil {
		t.Fatal(err)
	}
	admin := registry.Actor{Role: consent.Admin}
	if _, err := a.reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.CreateSite(ctx, admin, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	_, key, err := a.reg.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: "s1", Name: "desk"})
	if err != nil {
		t.Fatal(err)
	}
	r := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	const given, family = "Philomena", "Thistlewood"
	gone, err := a.reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: given, FamilyName: family, BirthDate: "1969-07-20", Sex: "female", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := a.reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: "Ada", FamilyName: "Kept", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "assent-backup.db")
	if code, out := run("backup", "--data", dir, "--out", backup); code != 0 {
		t.Fatalf("backup beside a live registry: exit %d\n%s", code, out)
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v, want mode 0600", st, err)
	}
	if code, out := run("backup", "--data", dir, "--out", backup); code == 0 || !strings.Contains(out, "already exists") {
		t.Errorf("backup over an existing file: exit %d\n%s", code, out)
	}
	if _, err := a.reg.RecordConsent(ctx, r, consent.Registration, gone.ID, registry.NewConsent{Category: "identity", Purpose: "registration", Decision: "withdrawn", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	if code, out := run("restore", "--data", dir, backup); code == 0 || !strings.Contains(out, "in use by a running `assent serve`") {
		t.Errorf("restore beside a live registry: exit %d\n%s", code, out)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A file that is not a backup is refused and the data file left alone.
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database at all, just some bytes of text"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := run("restore", "--data", dir, junk); code == 0 {
		t.Errorf("restore of a junk file: exit 0\n%s", out)
	}
	if code, out := run("restore", "--data", dir, backup); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	a, err = openDir(ctx, dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "test server"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(httpapi.New(a.reg, httpapi.Options{Logger: quiet}))
	defer srv.Close()
	get := func(id string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/persons/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Assent-Purpose", "registration")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(gone.ID); st != http.StatusGone || strings.Contains(body, given) {
		t.Errorf("erased person after restore: %d %s, want 410", st, body)
	}
	if st, body := get(kept.ID); st != http.StatusOK || !strings.Contains(body, "Kept") {
		t.Errorf("kept person after restore: %d %s, want 200", st, body)
	}
	for _, d := range []string{dir, filepath.Dir(backup)} {
		for _, s := range []string{given, family, "1969-07-20"} {
			if hits := grepDir(t, d, s); len(hits) > 0 {
				t.Errorf("%q found in %v", s, hits)
			}
		}
	}
}

// TestRestoreRefusesAnotherRegistrysBackup: a backup whose audit
// checkpoints another key store signed is refused and DIR is left as it
// was; a registry whose data file is lost is restored from its own backup.
func TestRestoreRefusesAnotherRegistrysBackup(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	populate := func(dir, given string) {
		t.Helper()
		a, err := openApp(ctx, dir, true, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := a.reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
			t.Fatal(err)
		}
		r := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
		if _, err := a.reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: given, FamilyName: "B", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A",
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.audit.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mine, other := newRegistryDir(t), newRegistryDir(t)
	populate(mine, "Mine")
	populate(other, "Other")
	otherBackup := filepath.Join(t.TempDir(), "other.db")
	if code, out := run("backup", "--data", other, "--out", otherBackup); code != 0 {
		t.Fatal(out)
	}
	myBackup := filepath.Join(t.TempDir(), "mine.db")
	if code, out := run("backup", "--data", mine, "--out", myBackup); code != 0 {
		t.Fatal(out)
	}
	before, err := os.ReadFile(filepath.Join(mine, "assent.db"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := run("restore", "--data", mine, otherBackup); code == 0 || !strings.Contains(out, "not a backup of this registry") {
		t.Fatalf("restore of another registry's backup: exit %d\n%s", code, out)
	}
	after, err := os.ReadFile(filepath.Join(mine, "assent.db"))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("a refused restore changed the data file (%v)", err)
	}
	if ents, _ := filepath.Glob(filepath.Join(mine, ".restore-*")); len(ents) != 0 {
		t.Errorf("staging left behind: %v", ents)
	}
	// The data file is lost; the registry's own backup brings it back.
	for _, f := range []string{"assent.db", "assent.db-wal", "assent.db-shm"} {
		os.Remove(filepath.Join(mine, f))
	}
	if code, out := run("restore", "--data", mine, myBackup); code != 0 {
		t.Fatalf("restore after losing the data file: exit %d\n%s", code, out)
	}
	if code, out := run("audit", "verify", "--data", mine); code != 0 {
		t.Errorf("audit verify after restore: exit %d\n%s", code, out)
	}
}
