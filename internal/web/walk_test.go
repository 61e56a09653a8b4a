package web

import (
	"context"
	"os"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/totp"
)

// TestEveryUIRouteIsAudited walks every UI route (public, operator, desk
// and portal) and checks its audit entries: a page that shows or changes
// personal data, or does an operation the policy decides (audit log,
// sites, operator keys, one's own second factor), leaves at least one
// (allowed or denied); a form or page that shows none leaves none. A new
// route missing from the table fails here, so no page can skip the
// registry's gate unnoticed.
func TestEveryUIRouteIsAudited(t *testing.T) {
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	hp := reg.post("/ui/households", url.Values{"address": {"1 Walk St"}, "area_code": {"A1"}})
	hid := strings.TrimPrefix(hp.header.Get("Location"), "/ui/households/")
	form := adultForm("Walker", "1970-01-01", "consent.identity.registration", "consent.face.verification", "consent.face.deduplication", "consent.fingerprint.verification", "consent.fingerprint.deduplication")
	rc := reg.register(form)
	pid, code := e.resolve(rc.attr("data-person-number")), rc.attr("data-portal-code")
	person := e.client()
	if p := person.post("/portal", url.Values{"person_number": {pid}, "code": {code}}); p.status != http.StatusSeeOther {
		t.Fatalf("portal sign-in: %d", p.status)
	}
	researcher := e.client()
	researcher.signIn(consent.Researcher, consent.Research)
	clin := e.client()
	clin.signIn(consent.Clinician, consent.Care)
	dedup := e.client()
	dedup.signIn(consent.Registrar, consent.Deduplication)
	verifier := e.client()
	verifier.signIn(consent.Verifier, consent.Verification)
	adj := e.client()
	adj.signIn(consent.Adjudicator, consent.Deduplication)
	other := e.resolve(reg.register(adultForm("Other", "1972-02-02", "consent.identity.registration", "consent.face.deduplication")).attr("data-person-number"))
	caseID := "case-walk"
	if err := e.db.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.OpenCase(context.Background(), store.Case{ID: caseID, PersonA: pid, PersonB: other, Score: 9, Modalities: "fingerprint", CreatedAt: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	finger, err := os.ReadFile("../biometric/fingerprint/testdata/tiny.png")
	if err != nil {
		t.Fatal(err)
	}

	// An operator with a password (and so a TOTP page), and an admin.
	op, _, err := e.reg.CreateOperator(context.Background(), registry.NewOperator{Role: consent.Clinician, Site: "s1", Name: "Walking clinician"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.SetOperatorPassword(context.Background(), registry.Actor{Role: consent.Admin}, op.ID, "walker", "a long walking phrase"); err != nil {
		t.Fatal(err)
	}
	pwc := e.client()
	if p := pwc.post("/ui/login", url.Values{"user": {"walker"}, "password": {"a long walking phrase"}}); p.status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", p.status)
	}
	secret := totp.NewSecret()
	admin := e.client()
	admin.signIn(consent.Admin, "")
	auditor := e.client()
	auditor.signIn(consent.Auditor, "")
	fresh := e.client()
	gone, _, err := e.reg.CreateOperator(context.Background(), registry.NewOperator{Role: consent.Verifier, Site: "s1", Name: "to revoke"})
	if err != nil {
		t.Fatal(err)
	}

	type step struct {
		c      *client
		method string
		path   string
		form   url.Values
		file   []byte // multipart upload when set
		status int
		audits bool // leaves at least one audit entry; else none
	}
	steps := map[string][]step{
		"GET /ui/find":                  {{reg, "GET", "/ui/find", nil, nil, 200, false}},
		"POST /ui/find":                 {{reg, "POST", "/ui/find", url.Values{"person_number": {pid}}, nil, 200, true}, {reg, "POST", "/ui/find", url.Values{"given_name": {"Walker"}, "family_name": {"Okafor"}, "birth_date": {"1970-01-01"}}, nil, 200, true}},
		"GET /ui/persons/{id}":          {{reg, "GET", "/ui/persons/" + pid, nil, nil, 200, true}, {researcher, "GET", "/ui/persons/" + pid, nil, nil, 403, true}},
		"GET /ui/register":              {{reg, "GET", "/ui/register", nil, nil, 200, false}},
		"POST /ui/register":             {{reg, "POST", "/ui/register", form, nil, 200, false}},
		"POST /ui/register/confirm":     {{reg, "POST", "/ui/register/confirm", adultForm("Second", "1971-01-01", "consent.identity.registration"), nil, 201, true}},
		"GET /ui/persons/{id}/exams":    {{clin, "GET", "/ui/persons/" + pid + "/exams", nil, nil, 200, true}},
		"POST /ui/persons/{id}/exams":   {{clin, "POST", "/ui/persons/" + pid + "/exams", url.Values{"height_cm": {"170"}, "blood_type": {"O+"}}, nil, 303, true}},
		"GET /ui/persons/{id}/capture":  {{dedup, "GET", "/ui/persons/" + pid + "/capture", nil, nil, 200, true}},
		"POST /ui/persons/{id}/capture": {{dedup, "POST", "/ui/persons/" + pid + "/capture", url.Values{"position": {"right_index"}}, finger, 422, true}},
		"GET /ui/verify":                {{verifier, "GET", "/ui/verify", nil, nil, 200, false}},
		"POST /ui/verify":               {{verifier, "POST", "/ui/verify", url.Values{"person_number": {pid}, "position": {"right_index"}}, finger, 200, true}},
		"GET /ui/cases":                 {{adj, "GET", "/ui/cases", nil, nil, 200, true}},
		"GET /ui/cases/{id}":            {{adj, "GET", "/ui/cases/" + caseID, nil, nil, 200, true}},
		"POST /ui/cases/{id}/decision":  {{adj, "POST", "/ui/cases/" + caseID + "/decision", url.Values{"decision": {"different"}}, nil, 303, true}},
		"GET /ui/households/new":        {{reg, "GET", "/ui/households/new", nil, nil, 200, false}},
		"POST /ui/households":           {{reg, "POST", "/ui/households", url.Values{"address": {"2 Walk St"}, "area_code": {"A1"}}, nil, 303, true}},
		"GET /ui/households/{id}":       {{reg, "GET", "/ui/households/" + hid, nil, nil, 200, true}},
		"POST /ui/households/{id}/members": {{researcher, "POST", "/ui/households/" + hid + "/members", url.Values{"person_id": {pid}, "relationship": {"other"}}, nil, 403, true},
			{reg, "POST", "/ui/households/" + hid + "/members", url.Values{"person_id": {pid}, "relationship": {"other"}}, nil, 303, true}},
		"POST /ui/households/{id}/head":  {{reg, "POST", "/ui/households/" + hid + "/head", url.Values{"person_id": {pid}}, nil, 303, true}},
		"POST /ui/households/{id}/split": {{reg, "POST", "/ui/households/" + hid + "/split", url.Values{"person_ids": {pid}, "head_id": {pid}, "address": {"3 Walk St"}, "area_code": {"A1"}}, nil, 303, true}},
		"GET /portal/me":                 {{person, "GET", "/portal/me", nil, nil, 200, true}},
		"GET /portal/access-log.json":    {{person, "GET", "/portal/access-log.json", nil, nil, 200, true}},
		"POST /portal/withdraw":          {{person, "POST", "/portal/withdraw", url.Values{"category": {"face"}, "purpose": {"verification"}}, nil, 200, true}},
		"POST /portal/withdraw/confirm":  {{person, "POST", "/portal/withdraw/confirm", url.Values{"category": {"face"}, "purpose": {"verification"}}, nil, 200, true}},

		// Public pages and sign-in: no personal data.
		"GET /{$}":            {{fresh, "GET", "/", nil, nil, 302, false}},
		"GET /static/":        {{fresh, "GET", "/static/app.css", nil, nil, 200, false}},
		"GET /ui/login":       {{fresh, "GET", "/ui/login", nil, nil, 200, false}},
		"POST /ui/login":      {{fresh, "POST", "/ui/login", url.Values{"key": {"not a key"}}, nil, 401, false}, {fresh, "POST", "/ui/login", url.Values{"key": {e.keys[consent.Verifier]}}, nil, 303, false}},
		"POST /ui/logout":     {{fresh, "POST", "/ui/logout", nil, nil, 303, false}},
		"GET /portal":         {{fresh, "GET", "/portal", nil, nil, 200, false}},
		"POST /portal":        {{fresh, "POST", "/portal", url.Values{"person_number": {pid}, "code": {"wrong"}}, nil, 401, true}}, // a refused sign-in is in the person's access log
		"POST /portal/logout": {{fresh, "POST", "/portal/logout", nil, nil, 303, false}},
		// Operator pages without a desk.
		"GET /ui/{$}":   {{reg, "GET", "/ui/", nil, nil, 200, false}},
		"GET /ui/desk":  {{reg, "GET", "/ui/desk", nil, nil, 200, false}},
		"POST /ui/desk": {{reg, "POST", "/ui/desk", url.Values{"purpose": {"registration"}}, nil, 303, false}},
		// One's own second factor: the form shows nothing personal; turning
		// it on or off is manage_own_credential, decided and audited.
		"GET /ui/totp":      {{pwc, "GET", "/ui/totp", nil, nil, 200, false}},
		"POST /ui/totp":     {{pwc, "POST", "/ui/totp", url.Values{"secret": {totp.EncodeSecret(secret)}, "code": {totp.Code(secret, time.Now())}}, nil, 200, true}},
		"POST /ui/totp/off": {{pwc, "POST", "/ui/totp/off", url.Values{"password": {"a long walking phrase"}, "code": {totp.Code(secret, time.Now().Add(totp.Step*time.Second))}}, nil, 200, true}},
		// Operations the policy decides on the role: every attempt audited.
		"GET /ui/audit":                  {{auditor, "GET", "/ui/audit", nil, nil, 200, true}, {reg, "GET", "/ui/audit", nil, nil, 403, true}},
		"GET /ui/admin":                  {{admin, "GET", "/ui/admin", nil, nil, 200, true}, {reg, "GET", "/ui/admin", nil, nil, 403, true}},
		"POST /ui/admin/sites":           {{admin, "POST", "/ui/admin/sites", url.Values{"code": {"s9"}, "name": {"Walk clinic"}, "area_code": {"A1"}}, nil, 303, true}},
		"POST /ui/admin/keys":            {{admin, "POST", "/ui/admin/keys", url.Values{"role": {"verifier"}, "site": {"s1"}, "name": {"walk desk"}}, nil, 201, true}},
		"POST /ui/admin/keys/revoke":     {{reg, "POST", "/ui/admin/keys/revoke", url.Values{"id": {gone.ID}}, nil, 403, true}, {admin, "POST", "/ui/admin/keys/revoke", url.Values{"id": {gone.ID}}, nil, 303, true}},
		"POST /ui/admin/keys/password":   {{admin, "POST", "/ui/admin/keys/password", url.Values{"id": {op.ID}, "user": {"walker2"}, "password": {"another walking phrase"}}, nil, 303, true}},
		"POST /ui/admin/keys/totp-reset": {{reg, "POST", "/ui/admin/keys/totp-reset", url.Values{"id": {op.ID}}, nil, 403, true}, {admin, "POST", "/ui/admin/keys/totp-reset", url.Values{"id": {op.ID}}, nil, 303, true}},
	}
	for _, r := range e.ui.Routes() {
		if r.Pattern == "GET /ui/reports" {
			continue // walked below, one view per report kind
		}
		ss, ok := steps[r.Pattern]
		if !ok {
			t.Errorf("route %s is not walked here", r.Pattern)
			continue
		}
		for _, s := range ss {
			before := e.auditSize()
			var p page
			switch {
			case s.method == "GET":
				p = s.c.get(s.path)
			case s.file != nil:
				p = s.c.upload(s.path, s.form, s.file)
			default:
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
	// Aggregate reports read nothing personal but pass the registry's
	// report gate: each view leaves exactly one audit event, allowed or
	// refused, as GET /v1/reports/{kind} does.
	mgr := e.client()
	mgr.signIn(consent.Manager, "")
	walked := false
	for _, r := range e.ui.Routes() {
		if r.Pattern != "GET /ui/reports" {
			continue
		}
		walked = true
		for _, kind := range reportKinds {
			for _, s := range []struct {
				c      *client
				status int
			}{{mgr, 200}, {reg, 403}} {
				before := e.auditSize()
				p := s.c.get("/ui/reports?kind=" + kind)
				if n := e.auditSize() - before; p.status != s.status || n != 1 {
					t.Errorf("GET /ui/reports?kind=%s: status %d (want %d), %d audit entries (want 1)", kind, p.status, s.status, n)
				}
			}
		}
	}
	if !walked {
		t.Errorf("GET /ui/reports is not walked")
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
