package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/datasets"
)

func TestImportIsResumableAndReportsBadLines(t *testing.T) {
	fvc := datasets.FingerprintSet(t, "fvc2002/db1_b")
	dir := t.TempDir()
	var lines []string
	consentJSON := `{"method":"paper","notice_version":"1","language":"en","decisions":[{"category":"fingerprint","purpose":"deduplication","decision":"granted"}]}`
	for f := 101; f <= 104; f++ {
		lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"Imp%d","family_name":"Orted","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":%s},"biometrics":[{"modality":"fingerprint","position":"left_index","format":"image","purpose":"deduplication","file":%q}]}`,
			f, consentJSON, filepath.Join(fvc, fmt.Sprintf("%d_1.tif", f))))
	}
	lines = append(lines, `{"person": {"given_name": "Broken"`)                                                                                                                                                                                                                                                                                               // line 5: malformed
	lines = append(lines, `{"person":{"given_name":"X","family_name":"Y","birth_date":"1975-05-05","sex":"male","area_code":"A","ethnicity":"z","consent":{"method":"p","notice_version":"1","language":"en"}}}`)                                                                                                                                             // line 6: forbidden field
	lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"NoConsent","family_name":"Y","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":{"method":"p","notice_version":"1","language":"en"}},"biometrics":[{"modality":"fingerprint","position":"left_index","purpose":"deduplication","file":%q}]}`, filepath.Join(fvc, "105_1.tif"))) // line 7: capture without consent
	lines = append(lines, fmt.Sprintf(`{"person":{"given_name":"Twin","family_name":"Orted","birth_date":"1975-05-05","sex":"male","area_code":"A","consent":%s},"biometrics":[{"modality":"fingerprint","position":"left_index","purpose":"deduplication","file":%q}]}`,
		consentJSON, filepath.Join(fvc, "102_3.tif"))) // line 8: a duplicate of line 2
	file := filepath.Join(t.TempDir(), "people.jsonl")
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
	code, out = run("import", "--data", t.TempDir(), "--strict", file)
	if code == 0 || !strings.Contains(out, "stopped at line 5") {
		t.Errorf("--strict: exit %d\n%s", code, out)
	}
}
