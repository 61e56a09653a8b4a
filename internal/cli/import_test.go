package cli

import (
	"context"
	"fmt"
	"github.com/assent-registry/assent/internal/registry"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
)

func TestImportIsResumableAndReportsBadLines(t *testing.T) {
	fvc := datasets.FingerprintSet(t, "fvc2002/db1_b")
	dir := newRegistryDir(t)
	// Capture files sit beside the JSONL file (import reads nothing outside its folder).
	folder := t.TempDir()
	for _, name := range []string{"101_1.tif", "102_1.tif", "103_1.tif", "104_1.tif", "105_1.tif", "102_3.tif"} {
		b, err := os.ReadFile(filepath.Join(fvc, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	consentJSON := `{"method":"paper","notice_version":"1","language":"en","decisions":[{"category":"fingerprint","purpose":"deduplication","decision":"granted"}]}`
	for f := 101; f <= 104; f++ {
		lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"Imp%d","family_name":"Orted","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":%s},"biometrics":[{"modality":"fingerprint","position":"left_index","format":"image","purpose":"deduplication","file":%q}]}`,
			f, consentJSON, fmt.Sprintf("%d_1.tif", f)))
	}
	lines = append(lines, `{"person": {"given_name": "Broken"`)                                                                                                                                                                                                                                                                           // line 5: malformed
	lines = append(lines, `{"person":{"given_name":"X","family_name":"Y","birth_date":"1975-05-05","sex":"male","area_code":"A","ethnicity":"z","consent":{"method":"p","notice_version":"1","language":"en"}}}`)                                                                                                                         // line 6: forbidden field
	lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"NoConsent","family_name":"Y","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":{"method":"p","notice_version":"1","language":"en"}},"biometrics":[{"modality":"fingerprint","position":"left_index","purpose":"deduplication","file":%q}]}`, "105_1.tif")) // line 7: capture without consent
	lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"Twin","family_name":"Orted","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":%s},"biometrics":[{"modality":"fingerprint","position":"left_index","purpose":"deduplication","file":%q}]}`,
		consentJSON, "102_3.tif")) // line 8: a duplicate of line 2
	file := filepath.Join(folder, "people.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	areas := filepath.Join(t.TempDir(), "areas.csv")
	if err := os.WriteFile(areas, []byte("code,name,parent_code,age_band,sex,target\nA,Area A,,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := run("areas", "import", "--data", dir, areas); code != 0 {
		t.Fatalf("areas import: exit %d\n%s", code, out)
	}
	code, out := run("import", "--data", dir, file)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	for _, want := range []string{"line 5:", "line 6:", "line 7:", `"imported":5`, `"failed":3`, `"possible_duplicates":1`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Running it again imports nothing twice.
	code, out = run("import", "--data", dir, file)
	if code != 0 || !strings.Contains(out, `"imported":0`) || !strings.Contains(out, `"already_imported":5`) {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	// --strict stops at the first bad line.
	code, out = run("import", "--data", newRegistryDir(t), "--strict", file)
	if code == 0 || !strings.Contains(out, "stopped at line 5") {
		t.Errorf("--strict: exit %d\n%s", code, out)
	}
}

// newRegistryDir makes a data directory as `serve` would on first start,
// with one area, "A", as an admin would load first.
func newRegistryDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	a, err := openApp(context.Background(), dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.PutArea(context.Background(), registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestImportReadsOnlyUnderItsFolder: a capture file named by an absolute
// path, by "..", or through a link leading out of the JSONL file's folder is
// refused, and so is one over the size cap; the line fails, nothing is read.
func TestImportReadsOnlyUnderItsFolder(t *testing.T) {
	dir := newRegistryDir(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.png")
	if err := os.WriteFile(secret, []byte("not yours"), 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(t.TempDir(), "batch")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(folder, "link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "huge.png"), make([]byte, registry.MaxCaptureBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(folder, secret)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range []string{secret, rel, "link.png", "huge.png"} {
		lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"P","family_name":"Q","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":{"method":"paper","notice_version":"1","language":"en","decisions":[{"category":"fingerprint","purpose":"deduplication","decision":"granted"}]}},"biometrics":[{"modality":"fingerprint","position":"left_index","format":"image","purpose":"deduplication","file":%q}]}`, name))
	}
	file := filepath.Join(folder, "people.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := run("import", "--data", dir, file)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	for _, want := range []string{"line 1: biometrics[0]: file", "absolute path", "line 2: biometrics[0]: file", "line 3: biometrics[0]: file", "line 4: biometrics[0]: file", "larger than", `"imported":0`, `"failed":4`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
