package web

import (
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// TestEveryUIRouteIsAudited walks every UI route that needs a desk or a
// portal session and checks its audit entries: a page that shows or
// changes personal data leaves at least one (allowed or denied), a form
// that shows none leaves none. A new route missing from the table fails
// here, so no page can skip the registry's gate unnoticed.
func TestEveryUIRouteIsAudited(t *testing.T) {
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	hp := reg.post("/ui/households", url.Values{"address": {"1 Walk St"}, "area_code": {"A1"}})
	hid := strings.TrimPrefix(hp.header.Get("Location"), "/ui/households/")
	form := adultForm("Walker", "1970-01-01", "consent.identity.registration", "consent.face.verification", "consent.face.deduplication")
	rc := reg.register(form)
	pid, code := e.resolve(rc.attr("data-person-number")), rc.attr("data-portal-code")
	person := e.client()
	if p := person.post("/portal", url.Values{"person_number": {pid}, "code": {code}}); p.status != http.StatusSeeOther {
		t.Fatalf("portal sign-in: %d", p.status)
	}
	researcher := e.client()
	researcher.signIn(consent.Researcher, consent.Research)

	type step struct {
		c      *client
		method string
		path   string
		form   url.Values
		status int
		audits bool // leaves at least one audit entry; else none
	}
	steps := map[string][]step{
		"GET /ui/find":                  {{reg, "GET", "/ui/find", nil, 200, false}},
		"POST /ui/find":                 {{reg, "POST", "/ui/find", url.Values{"person_number": {pid}}, 200, true}, {reg, "POST", "/ui/find", url.Values{"given_name": {"Walker"}, "family_name": {"Okafor"}, "birth_date": {"1970-01-01"}}, 200, true}},
		"GET /ui/persons/{id}":          {{reg, "GET", "/ui/persons/" + pid, nil, 200, true}, {researcher, "GET", "/ui/persons/" + pid, nil, 403, true}},
		"GET /ui/register":              {{reg, "GET", "/ui/register", nil, 200, false}},
		"POST /ui/register":             {{reg, "POST", "/ui/register", form, 200, false}},
		"POST /ui/register/confirm":     {{reg, "POST", "/ui/register/confirm", adultForm("Second", "1971-01-01", "consent.identity.registration"), 201, true}},
		"GET /ui/households/new":        {{reg, "GET", "/ui/households/new", nil, 200, false}},
		"POST /ui/households":           {{reg, "POST", "/ui/households", url.Values{"address": {"2 Walk St"}, "area_code": {"A1"}}, 303, true}},
		"GET /ui/households/{id}":       {{reg, "GET", "/ui/households/" + hid, nil, 200, true}},
		"GET /portal/me":                {{person, "GET", "/portal/me", nil, 200, true}},
		"GET /portal/access-log.json":   {{person, "GET", "/portal/access-log.json", nil, 200, true}},
		"POST /portal/withdraw":         {{person, "POST", "/portal/withdraw", url.Values{"category": {"face"}, "purpose": {"verification"}}, 200, true}},
		"POST /portal/withdraw/confirm": {{person, "POST", "/portal/withdraw/confirm", url.Values{"category": {"face"}, "purpose": {"verification"}}, 200, true}},
	}
	for _, r := range e.ui.Routes() {
		if r.Access != Personal && r.Access != Subject {
			continue
		}
		ss, ok := steps[r.Pattern]
		if !ok {
			t.Errorf("route %s reads or writes personal data and is not walked here", r.Pattern)
			continue
		}
		for _, s := range ss {
			before := e.auditSize()
			var p page
			if s.method == "GET" {
				p = s.c.get(s.path)
			} else {
				p = s.c.post(s.path, s.form)
			}
			n := e.auditSize() - before
			if p.status != s.status {
				t.Errorf("%s %s: status %d, want %d", s.method, s.path, p.status, s.status)
			}
			if s.audits && n == 0 {
				t.Errorf("%s %s left no audit entry", s.method, s.path)
			}
			if !s.audits && n != 0 {
				t.Errorf("%s %s shows no personal data but left %d audit entries", s.method, s.path, n)
			}
		}
	}
}

// TestNoStore: the web layer talks to use cases, never to a storage
// backend (its tests may; the package may not).
func TestNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/assent-registry/assent/internal/web").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "/internal/store/") || dep == "github.com/jackc/pgx/v5" || strings.Contains(dep, "chromedp") {
			t.Errorf("web depends on %s", dep)
		}
	}
}
