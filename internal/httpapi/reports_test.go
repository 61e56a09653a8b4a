package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

type coverageCell struct {
	AreaCode   string   `json:"area_code"`
	AgeBand    string   `json:"age_band"`
	Sex        string   `json:"sex"`
	Target     *int     `json:"target"`
	Registered *int     `json:"registered"`
	Coverage   *float64 `json:"coverage"`
	Suppressed bool     `json:"suppressed"`
}

type consentRow struct {
	SiteCode   string `json:"site_code"`
	OperatorID string `json:"operator_id"`
	Category   string `json:"category"`
	Purpose    string `json:"purpose"`
	Granted    *int   `json:"granted"`
	Declined   *int   `json:"declined"`
	Flagged    bool   `json:"flagged"`
	Suppressed bool   `json:"suppressed"`
}

// TestReportsAcceptance is issue 14's acceptance through the API: an area
// tree with targets, a population across two sites where one site records
// no declines; coverage per area, band and sex checked against counts made
// here independently; the all-granting site flagged; small cells suppressed
// with no suppressed cell left alone in a row, column or hierarchy sum; an
// unknown area refused; only managers and auditors read reports, and each
// request is in the audit log.
func TestReportsAcceptance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := req{method: "PUT", role: consent.Admin}
	put := func(code string, body map[string]any) {
		q := admin
		q.path, q.body = "/v1/areas/"+code, body
		e.must(200, q)
	}
	targets := func(f, m int) []map[string]any {
		return []map[string]any{{"age_band": "18-64", "sex": "female", "target": f}, {"age_band": "18-64", "sex": "male", "target": m},
			{"age_band": "65+", "sex": "female", "target": 10}, {"age_band": "65+", "sex": "male", "target": 10}}
	}
	put("REG", map[string]any{"name": "Region"})
	put("A1", map[string]any{"name": "Area one", "parent_code": "REG", "targets": targets(30, 20)})
	put("A2", map[string]any{"name": "Area two", "parent_code": "REG", "targets": targets(40, 40)})
	e.must(400, req{method: "PUT", path: "/v1/areas/X", role: consent.Admin, body: map[string]any{"name": "X", "parent_code": "NOPE"}})
	e.must(403, req{method: "PUT", path: "/v1/areas/X", role: consent.Manager, body: map[string]any{"name": "X"}})
	e.must(201, req{method: "POST", path: "/v1/sites", role: consent.Admin, body: map[string]any{"code": "s2", "name": "Two", "area_code": "A2"}})
	if r := e.do(req{method: "POST", path: "/v1/sites", role: consent.Admin, body: map[string]any{"code": "s9", "name": "Nine", "area_code": "NOWHERE"}}); r.status != 400 || r.code() != "unknown_area" {
		t.Fatalf("site in an unknown area: %d %s", r.status, r.code())
	}
	_, key2, err := e.reg.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: "s2", Name: "r2"})
	if err != nil {
		t.Fatal(err)
	}

	// The population, and the counts expected of it.
	type group struct {
		key              string // "" = s1's registrar
		area, birth, sex string
		n                int
		declineEvery     int // 0: never declines
		band             string
	}
	groups := []group{
		{"", "A1", "1980-02-03", "female", 31, 0, "18-64"},
		{"", "A1", "1985-05-05", "male", 25, 0, "18-64"},
		{"", "A1", "1950-01-01", "female", 12, 0, "65+"},
		{"", "A1", "1951-01-01", "male", 4, 0, "65+"},
		{key2, "A2", "1990-03-03", "female", 20, 2, "18-64"},
		{key2, "A2", "1991-03-03", "male", 18, 2, "18-64"},
		{key2, "A2", "1950-01-01", "male", 3, 2, "65+"},
		{key2, "A2", "1952-01-01", "female", 11, 2, "65+"},
	}
	want := map[[3]string]int{}
	for _, g := range groups {
		for i := range g.n {
			d := "granted"
			if g.declineEvery > 0 && i%g.declineEvery == 0 {
				d = "declined"
			}
			b := adultBody(fmt.Sprintf("P%s%d", g.sex, i))
			b["area_code"], b["birth_date"], b["sex"] = g.area, g.birth, g.sex
			b["consent"] = map[string]any{"method": "verbal", "notice_version": "n1", "language": "en",
				"decisions": []map[string]any{{"category": "fingerprint", "purpose": "verification", "decision": d}}}
			q := req{method: "POST", path: "/v1/persons", role: consent.Registrar, key: g.key, purpose: "registration", body: b}
			e.must(201, q)
			for _, k := range [][3]string{{g.area, g.band, g.sex}, {g.area, g.band, "all"}, {g.area, "all", g.sex}, {g.area, "all", "all"},
				{"REG", g.band, g.sex}, {"REG", g.band, "all"}, {"REG", "all", g.sex}, {"REG", "all", "all"}} {
				want[k]++
			}
		}
	}
	bad := adultBody("Nowhere")
	bad["area_code"] = "NOWHERE"
	if r := e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: bad}); r.status != 400 || r.code() != "unknown_area" {
		t.Fatalf("person in an unknown area: %d %s", r.status, r.code())
	}

	// Coverage.
	before := e.auditSize()
	r := e.must(200, req{method: "GET", path: "/v1/reports/coverage?area=REG", role: consent.Manager})
	if got := e.auditSize() - before; got != 1 {
		t.Errorf("a report request left %d audit events, want 1", got)
	}
	var cov struct {
		Cells []coverageCell `json:"cells"`
	}
	if err := json.Unmarshal(r.raw, &cov); err != nil {
		t.Fatal(err)
	}
	byKey := map[[3]string]coverageCell{}
	for _, c := range cov.Cells {
		byKey[[3]string{c.AreaCode, c.AgeBand, c.Sex}] = c
		n := want[[3]string{c.AreaCode, c.AgeBand, c.Sex}]
		switch {
		case c.Suppressed:
			if c.Registered != nil || c.Target != nil || c.Coverage != nil {
				t.Errorf("suppressed cell %v carries counts", c)
			}
		case *c.Registered != n:
			t.Errorf("cell %s/%s/%s: registered %d, want %d", c.AreaCode, c.AgeBand, c.Sex, *c.Registered, n)
		case n > 0 && n < 10:
			t.Errorf("cell %s/%s/%s published with %d < 10", c.AreaCode, c.AgeBand, c.Sex, n)
		}
	}

	if c := byKey[[3]string{"REG", "all", "female"}]; c.Suppressed || *c.Target != 90 || *c.Coverage != 74.0/90 {
		t.Errorf("REG all female: %+v", c)
	}
	if c := byKey[[3]string{"A1", "all", "female"}]; c.Suppressed || *c.Target != 40 || *c.Coverage != 43.0/40 {
		t.Errorf("A1 all female: %+v (coverage above 100 %% is shown, not capped)", c)
	}
	if c := byKey[[3]string{"A1", "18-64", "male"}]; !c.Suppressed {
		t.Errorf("A1 18-64 male (4 people) is published")
	}
	if c := byKey[[3]string{"REG", "all", "all"}]; c.Suppressed || *c.Registered != 124 || *c.Target != 170 {
		t.Errorf("region total: %+v registered %d target %d", c, *c.Registered, *c.Target)
	}
	// No suppressed cell stands alone in a sum of this release.
	lone := func(name string, ks [][3]string) {
		n := 0
		for _, k := range ks {
			if byKey[k].Suppressed {
				n++
			}
		}
		if n == 1 {
			t.Errorf("%s: one suppressed cell, recoverable by subtraction", name)
		}
	}
	bands := []string{"0-11", "12-17", "18-64", "65+", "unknown", "all"}
	sexes := []string{"female", "male", "other", "unknown", "all"}
	for _, a := range []string{"REG", "A1", "A2"} {
		for _, b := range bands {
			var ks [][3]string
			for _, s := range sexes {
				ks = append(ks, [3]string{a, b, s})
			}
			lone(a+" row "+b, ks)
		}
		for _, s := range sexes {
			var ks [][3]string
			for _, b := range bands {
				ks = append(ks, [3]string{a, b, s})
			}
			lone(a+" column "+s, ks)
		}
	}
	for _, b := range bands {
		for _, s := range sexes {
			lone("hierarchy "+b+"/"+s, [][3]string{{"REG", b, s}, {"A1", b, s}, {"A2", b, s}})
		}
	}

	// Consent integrity: s1 never records a decline and is flagged.
	r = e.must(200, req{method: "GET", path: "/v1/reports/consent", role: consent.Auditor})
	var cr struct {
		Sites []consentRow `json:"sites"`
	}
	if err := json.Unmarshal(r.raw, &cr); err != nil {
		t.Fatal(err)
	}
	flagged := map[string]bool{}
	for _, s := range cr.Sites {
		if s.Category == "fingerprint" && s.Purpose == "verification" {
			flagged[s.SiteCode] = s.Flagged
		}
	}
	if !flagged["s1"] || flagged["s2"] {
		t.Errorf("flags %v: want s1 (no declines in 72 answers) flagged, s2 not", flagged)
	}

	// Refusals.
	if r := e.do(req{method: "GET", path: "/v1/reports/coverage?area=NOWHERE", role: consent.Manager}); r.status != 400 || r.code() != "unknown_area" {
		t.Errorf("unknown report area: %d %s", r.status, r.code())
	}
	for _, role := range []consent.Role{consent.Registrar, consent.Admin, consent.Clinician} {
		before := e.auditSize()
		if r := e.do(req{method: "GET", path: "/v1/reports/coverage", role: role}); r.status != 403 || r.code() != "role_not_allowed" {
			t.Errorf("%s reads a report: %d %s", role, r.status, r.code())
		}
		if got := e.auditSize() - before; got != 1 {
			t.Errorf("a refused report request left %d audit events, want 1", got)
		}
	}
}

// TestEveryReportRouteIsGatedAndAudited: every report route, asked by every
// role, leaves exactly one audit event; only managers and auditors get 200,
// the others role_not_allowed; none needs a purpose header.
func TestEveryReportRouteIsGatedAndAudited(t *testing.T) {
	e := newEnv(t)
	e.must(200, req{method: "PUT", path: "/v1/areas/A1", role: consent.Admin, body: map[string]any{"name": "Area one", "targets": []map[string]any{{"age_band": "18-64", "sex": "female", "target": 5}}}})
	e.register(adultBody("Reported"))
	walked := 0
	for _, rt := range e.srv.Routes() {
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		if !strings.HasPrefix(pattern, "/v1/reports/") {
			continue
		}
		for _, role := range consent.OperatorRoles {
			before := e.auditSize()
			r := e.do(req{method: method, path: pattern, role: role})
			allowed := role == consent.Manager || role == consent.Auditor
			switch {
			case allowed && r.status != 200:
				t.Errorf("%s as %s: %d %s", pattern, role, r.status, r.raw)
			case !allowed && (r.status != 403 || r.code() != "role_not_allowed"):
				t.Errorf("%s as %s: %d %s, want 403 role_not_allowed", pattern, role, r.status, r.code())
			}
			if got := e.auditSize() - before; got != 1 {
				t.Errorf("%s as %s: %d audit events, want 1", pattern, role, got)
			}
			walked++
		}
	}
	if walked < 4*len(consent.OperatorRoles) {
		t.Errorf("walked %d (route, role) pairs: are the report routes registered?", walked)
	}
}
