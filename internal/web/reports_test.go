package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// apiRegister registers a person through the JSON API with key (a
// registrar's), answering fingerprint for verification with decision.
func (e *env) apiRegister(key, given, area, birth, sex, decision string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"given_name": given, "family_name": "Report", "birth_date": birth, "sex": sex, "area_code": area,
		"consent": map[string]any{"method": "verbal", "notice_version": "n1", "language": "en",
			"decisions": []map[string]any{{"category": "fingerprint", "purpose": "verification", "decision": decision}}},
	})
	rq, _ := http.NewRequest("POST", e.srv.URL+"/v1/persons", bytes.NewReader(body))
	rq.Header.Set("Authorization", "Bearer "+key)
	rq.Header.Set("Assent-Purpose", "registration")
	rq.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(rq)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("register %s: status %d", given, res.StatusCode)
	}
}

// reportsEnv is a region REG with areas A1 (site s1, whose registrar never
// records a decline) and A2 (site s2, where every other person declines),
// 44 + 40 people; A1 has only 4 men aged 65+ (a suppressed cell).
func reportsEnv(t *testing.T) *env {
	e := newEnv(t)
	ctx := context.Background()
	admin := registry.Actor{Role: consent.Admin}
	tg := []registry.AreaTarget{{AgeBand: "18-64", Sex: "female", Target: 30}, {AgeBand: "18-64", Sex: "male", Target: 30}, {AgeBand: "65+", Sex: "male", Target: 10}}
	for _, a := range []struct {
		code, parent string
		targets      []registry.AreaTarget
	}{{"REG", "", nil}, {"A1", "REG", tg}, {"A2", "REG", tg}} {
		if _, err := e.reg.PutArea(ctx, admin, a.code, registry.AreaInput{Name: "Area " + a.code, ParentCode: a.parent, Targets: a.targets}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.reg.CreateSite(ctx, admin, registry.NewSite{Code: "s2", Name: "Site two", AreaCode: "A2"}); err != nil {
		t.Fatal(err)
	}
	_, key2, err := e.reg.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: "s2", Name: "r2"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e.apiRegister(e.keys[consent.Registrar], fmt.Sprint("F", i), "A1", "1980-02-03", "female", "granted")
		e.apiRegister(e.keys[consent.Registrar], fmt.Sprint("M", i), "A1", "1982-02-03", "male", "granted")
		d := "granted"
		if i%2 == 0 {
			d = "declined"
		}
		e.apiRegister(key2, fmt.Sprint("G", i), "A2", "1990-02-03", "female", d)
		e.apiRegister(key2, fmt.Sprint("N", i), "A2", "1991-02-03", "male", d)
	}
	for i := range 4 {
		e.apiRegister(e.keys[consent.Registrar], fmt.Sprint("Old", i), "A1", "1950-01-01", "male", "granted")
	}
	return e
}

// TestReportsPage: the programme manager lands on the reports, sees each
// report with its figures, charts, the flagged site and the hidden small
// cells, in every language; the auditor reaches them from the audit page;
// a registrar is refused; every view is one audit event.
func TestReportsPage(t *testing.T) {
	e := reportsEnv(t)
	mgr := e.client()
	mgr.signIn(consent.Manager, "")
	if p := mgr.get("/ui/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/reports" {
		t.Fatalf("manager's landing: %d %q, want a redirect to /ui/reports", p.status, p.header.Get("Location"))
	}
	view := func(c *client, path string, status int) page {
		t.Helper()
		before := e.auditSize()
		p := c.get(path)
		if p.status != status {
			t.Fatalf("%s: status %d, want %d\n%s", path, p.status, status, p.body)
		}
		if n := e.auditSize() - before; n != 1 {
			t.Errorf("%s left %d audit events, want 1", path, n)
		}
		if strings.Contains(p.body, " style=") || strings.Contains(p.body, "<style") {
			t.Errorf("%s: a style attribute or element, which the page's CSP blocks", path)
		}
		return p
	}

	p := view(mgr, "/ui/reports", 200) // default: coverage of the root
	if !p.has(`data-report="coverage"`) || !p.has(`<svg[^>]*role="img"`) || !p.has(`data-chart="coverage_area"`) {
		t.Fatalf("coverage page without its report or charts:\n%s", p.body)
	}
	// 84 people in the region against a target of 2 x 70; A1's 4 men aged
	// 65+ are hidden, and so is its 18-64 men's cell that would give them
	// away by subtraction.
	for _, want := range []string{
		`<tr data-area="REG" data-band="all" data-sex="all"><td dir="ltr">REG</td><td>all</td><td>all</td>\s*<td>140</td><td data-count="registered">84</td><td>60.0 %</td>`,
		`<tr data-area="A1" data-band="18-64" data-sex="female"><td dir="ltr">A1</td><td><span dir="ltr">18-64</span></td><td>[^<]+</td>\s*<td>30</td><td data-count="registered">20</td><td>66.7 %</td>`,
		`<tr data-area="A1" data-band="65&#43;" data-sex="male" data-suppressed="true">[^\n]*\n<td colspan="3" class="suppressed">hidden</td>`,
		`<tr data-area="A1" data-band="18-64" data-sex="male" data-suppressed="true">[^\n]*\n<td colspan="3" class="suppressed">hidden</td>`,
	} {
		if !p.has(want) {
			t.Errorf("coverage page lacks %s", want)
		}
	}
	if p.has(`data-count="registered">4<`) {
		t.Errorf("the suppressed cell shows its count")
	}

	p = view(mgr, "/ui/reports?kind=consent&area=REG", 200)
	if !p.has(`<tr data-site="s1" data-pair="fingerprint/verification" class="flagged">[^\n]*\n<td>44</td><td>0</td><td>0</td><td>0.0 %</td>\n<td><strong data-flagged="no_declines">`) {
		t.Errorf("consent report does not flag s1, where nobody declined:\n%s", p.body)
	}
	if p.has(`<tr data-site="s2" data-pair="fingerprint/verification" class="flagged"`) {
		t.Errorf("s2, where half declined, is flagged")
	}
	if !p.has(`<g data-flagged="true"><rect[^>]*fill="#c0392b"/>\s*<title>s1: 0%`) {
		t.Errorf("the consent chart does not mark s1's bar as flagged")
	}

	p = view(mgr, "/ui/reports?kind=exclusion", 200)
	if !p.has(`data-report="exclusion"`) {
		t.Errorf("exclusion page without its report")
	}
	p = view(mgr, "/ui/reports?kind=register", 200)
	if !p.has(`<tr data-measure="households_without_head"><td>Households without a head</td><td>0</td>`) {
		t.Errorf("register page: no count of households without a head:\n%s", p.body)
	}

	// Every language, right to left for Arabic.
	p = view(mgr, "/ui/reports?kind=consent&lang=fr", 200)
	if !p.has(`<h1>Rapports du programme</h1>`) || !p.has(`signalé : aucun refus`) {
		t.Errorf("French reports page not in French")
	}
	p = view(mgr, "/ui/reports?kind=coverage&lang=ar", 200)
	if !p.has(`dir="rtl"`) || !p.has(`<h1>تقارير البرنامج</h1>`) || !p.has(`<svg[^>]*dir="ltr"`) {
		t.Errorf("Arabic reports page not right to left, or its charts not left to right")
	}

	// The auditor reaches them from the audit page and home.
	aud := e.client()
	aud.signIn(consent.Auditor, "")
	if p := aud.get("/ui/audit"); !p.has(`<a href="/ui/reports" data-link="reports">`) {
		t.Errorf("the audit page does not link the reports")
	}
	if p := aud.get("/ui/"); !p.has(`href="/ui/reports"`) {
		t.Errorf("the auditor's home does not link the reports")
	}
	view(aud, "/ui/reports?kind=consent", 200)

	// A registrar is refused, and the refusal is audited.
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	if p := view(reg, "/ui/reports?kind=coverage", 403); p.has(`data-count="registered"`) || !p.has(`role_not_allowed`) {
		t.Errorf("a registrar's refusal shows figures or not its code")
	}

	// Input errors are the form's, before the gate: no audit event.
	before := e.auditSize()
	if p := mgr.get("/ui/reports?from=2026-13-01"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("bad date: status %d, want 422", p.status)
	}
	if p := mgr.get("/ui/reports?kind=everyone"); p.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown kind: status %d, want 422", p.status)
	}
	if n := e.auditSize() - before; n != 0 {
		t.Errorf("refused input left %d audit events", n)
	}
	if p := view(mgr, "/ui/reports?area=NOWHERE", http.StatusUnprocessableEntity); !p.has(`unknown_area`) {
		t.Errorf("unknown area: no unknown_area code")
	}
}
