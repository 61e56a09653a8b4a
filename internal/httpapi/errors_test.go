package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// raw sends a request straight to the server (not recorded for the OpenAPI
// check: these routes are not in the document) and decodes the problem.
func (e *env) raw(method, path, body string, role consent.Role) (*http.Response, map[string]any) {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if role != "" {
		r.Header.Set("Authorization", "Bearer "+e.keys[role])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Errorf("%s %s: %d body is not JSON: %q", method, path, res.StatusCode, b)
	}
	return res, out
}

// TestEveryErrorIsProblemJSON: unknown routes, wrong methods and refused
// cross-origin writes answer problem+json with a code, like every other
// error (issue 12, item 12).
func TestEveryErrorIsProblemJSON(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", 404, "not_found", ""},
		{"GET", "/v1/persons/x/nothing", 404, "not_found", ""},
		{"DELETE", "/v1/persons/x", 405, "method_not_allowed", "GET, HEAD, PATCH"},
		{"PUT", "/healthz", 405, "method_not_allowed", "GET, HEAD"},
		{"GET", "/v1/portal/login", 405, "method_not_allowed", "POST"},
	} {
		res, p := e.raw(tc.method, tc.path, "", consent.Registrar)
		if res.StatusCode != tc.status || p["code"] != tc.code || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s %v, want %d %s problem+json", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), p, tc.status, tc.code)
		}
		if got := res.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	r := httptest.NewRequest("POST", "/v1/persons", strings.NewReader("{}"))
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	if w.Code != 403 || w.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(w.Body.String(), `"cross_origin"`) {
		t.Errorf("cross-site POST: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// TestMisleadingAnswersFixed: each answer the trial found misleading now
// says what happened (issue 12, item 12).
func TestMisleadingAnswersFixed(t *testing.T) {
	e := newEnv(t)
	id := e.register(adultBody("Ada")).str("id")

	// Invalid base64 is a base64 error, not "not valid JSON".
	r := e.do(req{method: "POST", path: "/v1/persons/" + id + "/biometrics", role: consent.Registrar, purpose: "verification",
		body: `{"modality":"fingerprint","position":"right_index","format":"image","data":"not base64!"}`})
	if r.status != 400 || r.code() != "invalid_base64" || r.str("field") != "data" {
		t.Errorf("invalid base64: %d %s", r.status, r.raw)
	}
	// A JSON array body names the problem.
	r = e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: `[1,2]`})
	if r.status != 400 || r.code() != "invalid_json" || !strings.Contains(r.str("detail"), "one JSON object") {
		t.Errorf("array body: %d %s", r.status, r.raw)
	}
	// A wrong type names the field and the type expected.
	r = e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: `{"given_name": 5}`})
	if r.status != 400 || r.str("field") != "given_name" || !strings.Contains(r.str("detail"), "a string expected") {
		t.Errorf("wrong type: %d %s", r.status, r.raw)
	}
	// A wrong portal code is not about API keys.
	for _, body := range []map[string]any{{"person_id": id, "code": "WRONG-CODE"}, {"person_id": "no-such-person", "code": "X"}} {
		r = e.do(req{method: "POST", path: "/v1/portal/login", body: body})
		if r.status != 401 || r.code() != "unauthenticated" || strings.Contains(r.str("detail"), "API key") {
			t.Errorf("bad portal login %v: %d %s", body, r.status, r.raw)
		}
	}
	// An adult registered with a guardian: 422 guardian_not_needed, not
	// consent_missing.
	g := e.register(adultBody("Guardian")).str("id")
	b := adultBody("Adult")
	b["guardian_id"] = g
	r = e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: b})
	if r.status != 422 || r.code() != "guardian_not_needed" || r.str("field") != "guardian_id" {
		t.Errorf("adult with a guardian: %d %s", r.status, r.raw)
	}
}

// TestStrictInput: text that is not clean UTF-8, invisible format
// characters in names, members given twice or in another case are refused
// (issue 12, item 11).
func TestStrictInput(t *testing.T) {
	e := newEnv(t)
	reg := func(body string) resp {
		return e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: body})
	}
	const rest = `"family_name":"T","birth_date":"1980-01-02","sex":"female","area_code":"A1","consent":{"method":"verbal","notice_version":"n1","language":"en"}`
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"invalid UTF-8", `{"given_name":"Am` + "\xff\xfe" + `a",` + rest + `}`, "invalid_text", ""},
		{"lone surrogate", `{"given_name":"Am\ud800a",` + rest + `}`, "invalid_text", "given_name"},
		{"right-to-left override", `{"given_name":"Ana\u202egnam",` + rest + `}`, "invalid_text", "given_name"},
		{"bidi isolate", `{"given_name":"\u2067Ana",` + rest + `}`, "invalid_text", "given_name"},
		{"zero-width space", `{"given_name":"A\u200bna",` + rest + `}`, "invalid_text", "given_name"},
		{"control character", `{"given_name":"A\u0007na",` + rest + `}`, "invalid_text", "given_name"},
		{"duplicate member", `{"given_name":"Ana","given_name":"Eve",` + rest + `}`, "duplicate_field", "given_name"},
		{"members differing in case", `{"given_name":"Ana","Given_Name":"Eve",` + rest + `}`, "duplicate_field", "Given_Name"},
		{"member in another case", `{"Given_Name":"Ana",` + rest + `}`, "unknown_field", "Given_Name"},
		{"nested duplicate", `{"given_name":"Ana",` + strings.Replace(rest, `"method":"verbal"`, `"method":"verbal","method":"paper"`, 1) + `}`, "duplicate_field", "consent.method"},
		{"nested case", `{"given_name":"Ana",` + strings.Replace(rest, `"method":"verbal"`, `"METHOD":"verbal"`, 1) + `}`, "unknown_field", "consent.METHOD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reg(tc.body)
			if r.status != 400 || r.code() != tc.code || r.str("field") != tc.field {
				t.Errorf("%d %s, want 400 %s field %q", r.status, r.raw, tc.code, tc.field)
			}
		})
	}
	// Joiners that scripts need are not refused.
	r := reg(`{"given_name":"\u0645\u06cc\u200c\u0646\u0627",` + rest + `}`)
	if r.status != 201 {
		t.Errorf("a Persian name with a zero-width non-joiner: %d %s", r.status, r.raw)
	}
}

// TestPortalLimitsBehindAProxy: behind a configured proxy, one citizen's
// failures lock only that citizen's address out of the person's portal, not
// everyone behind the proxy; a forged X-Forwarded-For from elsewhere is not
// believed (issue 12, item 14).
func TestPortalLimitsBehindAProxy(t *testing.T) {
	e := newEnv(t)
	e.srv = New(e.reg, Options{Logger: discardLogger(), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	login := func(remote, xff, code string) int {
		r := httptest.NewRequest("POST", "/v1/portal/login", strings.NewReader(`{"person_id":"`+id+`","code":"`+code+`"}`))
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		return w.Code
	}
	for range 5 {
		if st := login("10.0.0.2:443", "198.51.100.66", "AAAA-BBBB-CCCC-DDDD"); st != 401 {
			t.Fatalf("wrong code: %d", st)
		}
	}
	if st := login("10.0.0.2:443", "198.51.100.66", code); st != 429 {
		t.Errorf("the guessing client, right code: %d, want 429", st)
	}
	if st := login("10.0.0.2:443", "203.0.113.5", code); st != 200 {
		t.Errorf("the person from their own address through the same proxy: %d, want 200", st)
	}
	// From a peer that is not a proxy, the header is the client's claim.
	for range 5 {
		login("192.0.2.50:1000", "203.0.113.5", "AAAA-BBBB-CCCC-DDDD")
	}
	if st := login("10.0.0.2:443", "203.0.113.5", code); st != 200 {
		t.Errorf("a forged X-Forwarded-For locked out the address it named: %d", st)
	}
}
