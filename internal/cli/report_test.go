package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

const areasCSV = `code,name,parent_code,age_band,sex,target
REG,Region,,,,
D1,District one,REG,18-64,female,40
D1,District one,REG,18-64,male,40
D2,District two,REG,18-64,female,30
D2,District two,REG,18-64,male,30
`

// TestAreasImportAndReports: the area file loads whole or not at all and
// loading it twice changes nothing; reports come out as JSON, CSV, HTML
// with SVG charts and a DHIS2 dataValueSets document without suppressed
// cells.
func TestAreasImportAndReports(t *testing.T) {
	dir := t.TempDir() // a registry as serve first makes it, with no area yet
	if a, err := openApp(context.Background(), dir, true, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	} else if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A bad file (unknown parent on its last line) loads nothing.
	if code, out := run("areas", "import", "--data", dir, write("bad.csv", areasCSV+"X,Bad,NOPE,,,\n")); code == 0 || !strings.Contains(out, "unknown_area") {
		t.Fatalf("bad file: exit %d\n%s", code, out)
	}
	if code, out := run("areas", "list", "--data", dir); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("after a refused file the registry is not empty:\n%s", out)
	}
	good := write("areas.csv", areasCSV)
	for range 2 {
		if code, out := run("areas", "import", "--data", dir, good); code != 0 || !strings.Contains(out, `"areas":3`) {
			t.Fatalf("import: exit %d\n%s", code, out)
		}
	}
	if code, out := run("areas", "list", "--data", dir); code != 0 || strings.Count(out, "\n") != 6 || !strings.Contains(out, "D2,District two,REG,18-64,male,30\n") {
		t.Fatalf("list after two imports:\n%s", out)
	}

	ctx := context.Background()
	a, err := openApp(ctx, dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	admin := registry.Actor{Role: consent.Admin}
	for _, s := range []registry.NewSite{{Code: "s1", Name: "One", AreaCode: "D1"}, {Code: "s2", Name: "Two", AreaCode: "D2"}} {
		if _, err := a.reg.CreateSite(ctx, admin, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.reg.CreateSite(ctx, admin, registry.NewSite{Code: "s3", Name: "Three", AreaCode: "NOWHERE"}); err == nil {
		t.Fatal("a site in an unknown area was accepted")
	}
	for i := range 70 {
		site, area, d := "s1", "D1", "granted"
		if i >= 35 {
			site, area = "s2", "D2"
			if i%3 == 0 {
				d = "declined"
			}
		}
		sex := []string{"female", "male"}[i%2]
		if i == 69 {
			sex = "other" // one person: a small cell
		}
		_, err := a.reg.CreatePerson(ctx, registry.Actor{OperatorID: "op-" + site, Role: consent.Registrar, Site: site}, consent.Registration, registry.NewPerson{
			GivenName: fmt.Sprint("G", i), FamilyName: "F", BirthDate: "1990-01-01", Sex: sex, AreaCode: area,
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
				Decisions: []registry.DecisionInput{{Category: "iris", Purpose: "verification", Decision: d}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	code, out := run("report", "coverage", "--data", dir, "--area", "REG", "--format", "json")
	if code != 0 {
		t.Fatalf("coverage json: exit %d\n%s", code, out)
	}
	var cov struct {
		Cells []struct {
			Area       string `json:"area_code"`
			Band       string `json:"age_band"`
			S          string `json:"sex"`
			Registered *int   `json:"registered"`
			Suppressed bool   `json:"suppressed"`
		} `json:"cells"`
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil {
		t.Fatalf("coverage json: %v\n%s", err, out)
	}
	found := false
	for _, c := range cov.Cells {
		if c.Area == "REG" && c.Band == "all" && c.S == "all" {
			found = c.Registered != nil && *c.Registered == 70
		}
		if c.Area == "D2" && c.Band == "18-64" && c.S == "other" && !c.Suppressed {
			t.Errorf("a cell of one person is published")
		}
	}
	if !found {
		t.Errorf("region total is not 70:\n%s", out)
	}
	if code, out := run("report", "coverage", "--data", dir, "--area", "NOWHERE"); code == 0 || !strings.Contains(out, "unknown_area") {
		t.Errorf("unknown area: exit %d\n%s", code, out)
	}
	if code, out := run("report", "coverage", "--data", dir, "--format", "csv"); code != 0 || !strings.HasPrefix(out, "area_code,age_band,sex,target,registered,coverage,suppressed\n") {
		t.Errorf("coverage csv: exit %d\n%s", code, out)
	}
	html := filepath.Join(tmp, "coverage.html")
	if code, out := run("report", "coverage", "--data", dir, "--format", "html", "--out", html); code != 0 {
		t.Fatalf("html: exit %d\n%s", code, out)
	}
	page, _ := os.ReadFile(html)
	for _, want := range []string{"<!DOCTYPE html>", "<svg", "@page { size: A4", "Registered per area against target"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("HTML page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "<script") || strings.Contains(string(page), "http://") && !strings.Contains(string(page), "http://www.w3.org/2000/svg") {
		t.Errorf("HTML page is not self-contained")
	}

	// DHIS2: every mapped, published cell; suppressed ones omitted.
	mapping := write("dhis2.json", `{"period":"202612","org_units":{"REG":"ouREG","D1":"ouD1","D2":"ouD2","s1":"ouS1","s2":"ouS2"},
		"data_elements":{"registered":"deREG","declined":"deDEC","granted":"deGRA"},
		"category_option_combos":{"all/all":"cocALL","18-64/other":"cocOTHER","18-64/female":"cocF","iris/verification":"cocIRIS"}}`)
	code, out = run("report", "coverage", "--data", dir, "--format", "dhis2", "--mapping", mapping)
	if code != 0 {
		t.Fatalf("dhis2: exit %d\n%s", code, out)
	}
	var set struct {
		DataValues []map[string]string `json:"dataValues"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("dhis2 document: %v\n%s", err, out)
	}
	seen := map[string]string{}
	for _, v := range set.DataValues {
		for _, f := range []string{"dataElement", "period", "orgUnit", "categoryOptionCombo", "value"} {
			if v[f] == "" {
				t.Errorf("data value without %s: %v", f, v)
			}
		}
		seen[v["orgUnit"]+"/"+v["categoryOptionCombo"]] = v["value"]
	}
	if seen["ouREG/cocALL"] != "70" {
		t.Errorf("region total in DHIS2: %q", seen["ouREG/cocALL"])
	}
	if _, ok := seen["ouD2/cocOTHER"]; ok {
		t.Errorf("a suppressed cell was exported")
	}
	code, out = run("report", "consent", "--data", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"flag_reason": "no_declines"`) {
		t.Errorf("consent report: exit %d, s1 (35 grants, no decline) not flagged\n%s", code, out)
	}
	for _, kind := range []string{"exclusion", "register"} {
		for _, f := range []string{"json", "csv", "html"} {
			if code, out := run("report", kind, "--data", dir, "--format", f); code != 0 {
				t.Errorf("%s %s: exit %d\n%s", kind, f, code, out)
			}
		}
	}
	// The counts the database kept with every write equal their
	// recomputation.
	if code, out := run("report", "rebuild-counts", "--data", dir); code != 0 || !strings.Contains(out, `"changed_count_rows":0`) {
		t.Errorf("rebuild-counts: exit %d, want 0 count rows changed\n%s", code, out)
	}
	// Every report request is in the audit log, and the log still verifies.
	if code, out := run("audit", "verify", "--data", dir); code != 0 {
		t.Errorf("audit verify after reports: exit %d\n%s", code, out)
	}
}
