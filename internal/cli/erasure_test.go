package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// grepDir reports the files under dir whose bytes contain s (as is, or
// lower-cased), SQLite WAL and journal files included.
func grepDir(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) || bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(s))) {
			hits = append(hits, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestErasureLeavesNoName: names are sealed at rest, and after withdrawal of
// registration a copy of the data taken before can no longer be read.
func TestErasureLeavesNoName(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := openApp(ctx, dir, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	r := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	const given, family = "Zebediah", "Quillfeather"
	p, err := a.reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: given, FamilyName: family, BirthDate: "1971-03-09", Sex: "male", AreaCode: "A",
		Phone: "+44 20 7946 0958", Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.RecordExam(ctx, registry.Actor{OperatorID: "c", Role: consent.Clinician, Site: "s1"}, consent.Care, p.ID, registry.NewExam{Notes: ptr("Quillfeather family history of asthma")}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{given, family, "1971-03-09", "7946 0958", "asthma"} {
		if hits := grepDir(t, dir, s); len(hits) > 0 {
			t.Errorf("%q is readable at rest in %v", s, hits)
		}
	}
	// A backup taken before the withdrawal (data only: backups never copy keys).
	backup := t.TempDir()
	a.db.Close() // checkpoint the WAL so the copy is whole
	if a.db, err = sqlite.Open(ctx, dir, sqlite.Options{}); err != nil {
		t.Fatal(err)
	}
	copyDir(t, dir, backup)
	os.Remove(filepath.Join(backup, keyStoreFile))
	os.Remove(filepath.Join(backup, masterKeyFile))

	a.Close()
	a, err = openApp(ctx, dir, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.reg.RecordConsent(ctx, r, consent.Registration, p.ID, registry.NewConsent{Category: "identity", Purpose: "registration", Decision: "withdrawn", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.GetPerson(ctx, r, consent.Registration, p.ID); !errors.Is(err, registry.ErrErased) {
		t.Fatalf("read after withdrawal: %v, want ErrErased", err)
	}
	// Restore the backup's data file beside the live keys: the person stays gone.
	restored := t.TempDir()
	copyDir(t, backup, restored)
	for _, f := range []string{keyStoreFile, masterKeyFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := openApp(ctx, restored, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.reg.GetPerson(ctx, r, consent.Registration, p.ID)
	if err == nil {
		t.Fatal("a backup restored after erasure brought the person back")
	}
	for _, d := range []string{dir, backup, restored} {
		for _, s := range []string{given, family} {
			if hits := grepDir(t, d, s); len(hits) > 0 {
				t.Errorf("%q found in %v", s, hits)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestReceiptVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := openApp(ctx, dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	p, err := a.reg.CreatePerson(ctx, registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}, consent.Registration, registry.NewPerson{GivenName: "A", FamilyName: "B", BirthDate: "1970-01-01", Sex: "other", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []registry.DecisionInput{{Category: "iris", Purpose: "verification", Decision: "declined"}}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := a.reg.ReceiptPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{"id": p.ID, "receipt": p.Receipt})
	file := filepath.Join(t.TempDir(), "r.json")
	os.WriteFile(file, resp, 0o600)
	key := b64(pub)
	if code, out := run("receipt", "verify", "--key", key, file); code != 0 || !strings.Contains(out, "signature OK") || !strings.Contains(out, "iris") {
		t.Fatalf("valid receipt: exit %d\n%s", code, out)
	}
	forged := bytes.Replace(resp, []byte(`"declined":["iris/verification"]`), []byte(`"declined":[]`), 1)
	forged = bytes.Replace(forged, []byte(`"iris"`), []byte(`"face"`), 1)
	os.WriteFile(file, forged, 0o600)
	if code, out := run("receipt", "verify", "--key", key, file); code != 2 {
		t.Fatalf("forged receipt: exit %d\n%s", code, out)
	}
}
