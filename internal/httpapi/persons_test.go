package httpapi

import (
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

func TestRegistrationErrors(t *testing.T) {
	e := newEnv(t)
	with := func(k string, v any) map[string]any {
		b := adultBody("Ada")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	withAll := func(b map[string]any, k string, v any) map[string]any { b[k] = v; return b }
	tests := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"no key", req{method: "POST", path: "/v1/persons", purpose: "registration", body: adultBody("A")}, 401, "unauthenticated"},
		{"bad key", req{method: "POST", path: "/v1/persons", key: "assent_nope", purpose: "registration", body: adultBody("A")}, 401, "unauthenticated"},
		{"no purpose", req{method: "POST", path: "/v1/persons", role: consent.Registrar, body: adultBody("A")}, 400, "purpose_required"},
		{"unknown purpose", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "marketing", body: adultBody("A")}, 400, "invalid_purpose"},
		{"ethnicity", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("ethnicity", "x")}, 400, "unknown_field"},
		{"religion", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("religion", "x")}, 400, "unknown_field"},
		{"risk flag", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("risk", true)}, 400, "unknown_field"},
		{"no consent", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("consent", nil)}, 422, "consent_required"},
		{"consent without method", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("consent", map[string]any{"notice_version": "n", "language": "en"})}, 422, "consent_required"},
		{"bad date", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("birth_date", "1980-13-01")}, 400, "invalid_date"},
		{"future date", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("birth_date", "2099-01-01")}, 400, "invalid_date"},
		{"bad sex", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("sex", "robot")}, 400, "invalid_value"},
		{"no name", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("given_name", nil)}, 400, "missing_field"},
		{"wrong type", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("given_name", 7)}, 400, "invalid_json"},
		{"not json", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: "{nope"}, 400, "invalid_json"},
		{"two objects", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: "{} {}"}, 400, "invalid_json"},
		{"too large", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: `{"given_name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`}, 413, "body_too_large"},
		{"unknown household", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: withAll(with("household_id", "no-such"), "relationship", "child")}, 422, "unknown_household"},
		{"minor without guardian", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: with("birth_date", "2014-05-05")}, 422, "guardian_required"},
		{"minor with unknown guardian", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: func() map[string]any {
			b := with("birth_date", "2014-05-05")
			b["guardian_id"] = "nobody"
			return b
		}()}, 422, "guardian_required"},
		{"clinician may not register", req{method: "POST", path: "/v1/persons", role: consent.Clinician, purpose: "registration", body: adultBody("A")}, 403, "role_not_allowed"},
		{"registrar for care", req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "care", body: adultBody("A")}, 403, "role_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.q)
			if r.status != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q: %s", r.status, r.code(), tc.status, tc.code, r.raw)
			}
			if r.status >= 400 && r.str("type") == "" {
				t.Errorf("problem without a type: %s", r.raw)
			}
		})
	}
	// Nothing was registered by any of those requests.
	found := e.must(200, req{method: "POST", path: "/v1/persons/search", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"given_name": "Ada", "family_name": "Tester", "birth_date": "1980-02-03"}})
	if n := len(found.body["persons"].([]any)); n != 0 {
		t.Errorf("a failed request left %d persons behind", n)
	}
}

func TestRegisterAndRead(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	rc, _ := reg.body["receipt"].(map[string]any)
	if id == "" || rc == nil || rc["code"] == "" || rc["person_id"] != id {
		t.Fatalf("registration response lacks id or receipt code: %s", reg.raw)
	}
	tests := []struct {
		name    string
		role    consent.Role
		purpose string
		status  int
		code    string
	}{
		{"registrar for registration", consent.Registrar, "registration", 200, ""},
		{"clinician for care", consent.Clinician, "care", 200, ""},
		{"verifier", consent.Verifier, "verification", 403, "role_not_allowed"},
		{"admin", consent.Admin, "registration", 403, "role_not_allowed"},
		{"auditor", consent.Auditor, "registration", 403, "role_not_allowed"},
		{"researcher", consent.Researcher, "research", 403, "role_not_allowed"},
		{"clinician claiming registration", consent.Clinician, "registration", 403, "role_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{method: "GET", path: "/v1/persons/" + id, role: tc.role, purpose: tc.purpose})
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %q, want %d %q: %s", r.status, r.code(), tc.status, tc.code, r.raw)
			}
			if r.status == 200 && (r.str("given_name") != "Ada" || r.str("birth_date") != "1980-02-03") {
				t.Errorf("read back %s", r.raw)
			}
		})
	}
	e.must(404, req{method: "GET", path: "/v1/persons/00000000-0000-0000-0000-000000000000", role: consent.Registrar, purpose: "registration"})
}

func TestMinorWithGuardian(t *testing.T) {
	e := newEnv(t)
	parent := e.register(adultBody("Parent")).str("id")
	kid := adultBody("Kid")
	kid["birth_date"] = "2014-05-05"
	kid["guardian_id"] = parent
	r := e.register(kid)
	got := e.must(200, req{method: "GET", path: "/v1/persons/" + r.str("id"), role: consent.Registrar, purpose: "registration"})
	if got.str("guardian_id") != parent {
		t.Errorf("guardian_id = %q, want %q", got.str("guardian_id"), parent)
	}
	// A minor cannot be a guardian.
	kid2 := adultBody("Kid2")
	kid2["birth_date"] = "2015-05-05"
	kid2["guardian_id"] = r.str("id")
	if x := e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: kid2}); x.status != 422 || x.code() != "guardian_required" {
		t.Errorf("minor as guardian: %d %s", x.status, x.raw)
	}
}

func TestRectificationKeepsHistory(t *testing.T) {
	e := newEnv(t)
	id := e.register(adultBody("Ada")).str("id")
	p := e.must(200, req{method: "PATCH", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration", body: map[string]any{"family_name": "Married"}})
	if p.str("family_name") != "Married" || p.body["version"].(float64) != 2 {
		t.Fatalf("after patch: %s", p.raw)
	}
	h := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/history", role: consent.Registrar, purpose: "registration"})
	vs := h.body["versions"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["identity"].(map[string]any)["family_name"] != "Tester" {
		t.Errorf("history: %s", h.raw)
	}
	e.must(400, req{method: "PATCH", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration", body: map[string]any{"ethnicity": "x"}})
	e.must(400, req{method: "PATCH", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration", body: map[string]any{}})
	// Find by the new name, case and spacing aside.
	f := e.must(200, req{method: "POST", path: "/v1/persons/search", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"given_name": "  ADA ", "family_name": "married", "birth_date": "1980-02-03"}})
	if ps := f.body["persons"].([]any); len(ps) != 1 || ps[0].(map[string]any)["id"] != id {
		t.Errorf("search by new name: %s", f.raw)
	}
	f = e.must(200, req{method: "POST", path: "/v1/persons/search", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"given_name": "Ada", "family_name": "Tester", "birth_date": "1980-02-03"}})
	if ps := f.body["persons"].([]any); len(ps) != 0 {
		t.Errorf("search by the old name still finds: %s", f.raw)
	}
}

func TestHouseholds(t *testing.T) {
	e := newEnv(t)
	h := e.must(201, req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: map[string]any{"address": "1 Well Street", "area_code": "A1"}})
	hid := h.str("id")
	mk := func(name, rel string) string {
		b := adultBody(name)
		b["household_id"], b["relationship"] = hid, rel
		return e.register(b).str("id")
	}
	head, spouse, child := mk("Head", "head"), mk("Spouse", "spouse"), mk("Child", "child")
	b := adultBody("Second")
	b["household_id"], b["relationship"] = hid, "head"
	if r := e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: b}); r.status != 422 || r.code() != "invalid_household" {
		t.Errorf("second head: %d %s", r.status, r.raw)
	}
	got := e.must(200, req{method: "GET", path: "/v1/households/" + hid, role: consent.Registrar, purpose: "registration"})
	if got.str("head_id") != head || len(got.body["members"].([]any)) != 3 || got.str("address") != "1 Well Street" {
		t.Fatalf("household: %s", got.raw)
	}
	// Change of head.
	got = e.must(200, req{method: "PUT", path: "/v1/households/" + hid + "/head", role: consent.Registrar, purpose: "registration", body: map[string]any{"person_id": spouse, "previous_head_relationship": "spouse"}})
	if got.str("head_id") != spouse {
		t.Fatalf("after head change: %s", got.raw)
	}
	// Split: the child moves out and heads a new household.
	split := e.must(201, req{method: "POST", path: "/v1/households/" + hid + "/split", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"person_ids": []string{child}, "head_id": child, "address": "9 Hill Path", "area_code": "A1"}})
	if split.str("head_id") != child || len(split.body["members"].([]any)) != 1 {
		t.Fatalf("split: %s", split.raw)
	}
	got = e.must(200, req{method: "GET", path: "/v1/households/" + hid, role: consent.Registrar, purpose: "registration"})
	if len(got.body["members"].([]any)) != 2 {
		t.Fatalf("after split: %s", got.raw)
	}
	// Moving the old head back into the new household.
	moved := e.must(200, req{method: "POST", path: "/v1/households/" + split.str("id") + "/members", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"person_id": head, "relationship": "parent"}})
	if len(moved.body["members"].([]any)) != 2 {
		t.Fatalf("after move: %s", moved.raw)
	}
	e.must(404, req{method: "GET", path: "/v1/households/nope", role: consent.Registrar, purpose: "registration"})
	e.must(400, req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: map[string]any{"address": "x", "area_code": "A1", "religion": "y"}})
	e.must(403, req{method: "POST", path: "/v1/households", role: consent.Clinician, purpose: "care", body: map[string]any{"address": "x", "area_code": "A1"}})
}

func TestSites(t *testing.T) {
	e := newEnv(t)
	e.must(201, req{method: "POST", path: "/v1/sites", role: consent.Admin, body: map[string]any{"code": "s2", "name": "Two", "area_code": "A2"}})
	if r := e.do(req{method: "POST", path: "/v1/sites", role: consent.Admin, body: map[string]any{"code": "s2", "name": "Two", "area_code": "A2"}}); r.status != 409 || r.code() != "site_exists" {
		t.Errorf("duplicate site: %d %s", r.status, r.raw)
	}
	if r := e.do(req{method: "POST", path: "/v1/sites", role: consent.Registrar, body: map[string]any{"code": "s3", "name": "Three", "area_code": "A3"}}); r.status != 403 || r.code() != "role_not_allowed" {
		t.Errorf("registrar creating a site: %d %s", r.status, r.raw)
	}
	l := e.must(200, req{method: "GET", path: "/v1/sites"})
	if n := len(l.body["sites"].([]any)); n != 2 {
		t.Errorf("sites = %d, want 2", n)
	}
	e.must(200, req{method: "GET", path: "/healthz"})
}
