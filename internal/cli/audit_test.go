package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// seed makes a data dir with a person read a few times and once denied,
// and a checkpoint covering it all.
func seed(t *testing.T) string {
	t.Helper()
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
	r := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	p, err := a.reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: "Ada", FamilyName: "Lovelace", BirthDate: "1985-12-10", Sex: "female", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := a.reg.GetPerson(ctx, r, consent.Registration, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.reg.GetPerson(ctx, registry.Actor{Role: consent.Researcher}, consent.Research, p.ID); err == nil {
		t.Fatal("researcher read identity")
	}
	if _, err := a.reg.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(args ...string) (int, string) {
	var out bytes.Buffer
	code := Execute(context.Background(), args, &out, &out)
	return code, out.String()
}

func tamper(t *testing.T, dir, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyFindsTampering(t *testing.T) {
	tests := []struct {
		name  string
		stmt  string
		entry string
	}{
		{"changed event", `UPDATE audit_events SET data = replace(data, 'registrar', 'clinician') WHERE idx = 2`, "entry 2"},
		{"changed event and its leaf hash", `UPDATE audit_events SET data = replace(data, 'registrar', 'clinician'), leaf_hash = zeroblob(32) WHERE idx = 3`, "entry 3"},
		{"deleted event", `DELETE FROM audit_events WHERE idx = 1`, "entry 1"},
		{"reordered events", `UPDATE audit_events SET idx = -1 WHERE idx = 1; UPDATE audit_events SET idx = 1 WHERE idx = 2; UPDATE audit_events SET idx = 2 WHERE idx = -1`, "entry 1"},
		{"person column edited to hide a row", `UPDATE audit_events SET person_id = '' WHERE idx = 2`, "entry 2"},
		{"deleted last event", `DELETE FROM audit_events WHERE idx = (SELECT MAX(idx) FROM audit_events)`, "entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := seed(t)
			if code, out := run("audit", "verify", "--data", dir); code != 0 {
				t.Fatalf("intact log: exit %d\n%s", code, out)
			}
			tamper(t, dir, tc.stmt)
			code, out := run("audit", "verify", "--data", dir)
			if code == 0 {
				t.Fatalf("tampered log verified:\n%s", out)
			}
			if !strings.Contains(out, tc.entry) {
				t.Errorf("output does not name %q:\n%s", tc.entry, out)
			}
		})
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
