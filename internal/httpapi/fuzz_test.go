package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// FuzzRequestBodies sends arbitrary bodies to the routes that decode JSON:
// the answer is a documented 2xx or a 4xx problem, never a 500 or a panic.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"given_name":"A","family_name":"B","birth_date":"1990-01-01","sex":"female","area_code":"A1","consent":{"method":"v","notice_version":"1","language":"en"}}`,
		`{"address":"1 Road","area_code":"A1"}`,
		`{"category":"iris","purpose":"verification","decision":"granted","method":"v","notice_version":"1","language":"en"}`,
		`{"modality":"fingerprint","position":"right_index","data":"AAAA"}`,
		`{"height_cm":170,"blood_type":"O+"}`,
		`{"given_name":"A","ethnicity":"x"}`, `[]`, `null`, `{"a":`, "\x00\xff", `{"birth_date":"9999-99-99"}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	id := e.register(adultBody("Fuzz")).str("id")
	routes := []struct {
		method, path string
		role         consent.Role
		purpose      string
	}{
		{"POST", "/v1/persons", consent.Registrar, "registration"},
		{"POST", "/v1/households", consent.Registrar, "registration"},
		{"POST", "/v1/persons/" + id + "/consents", consent.Registrar, "registration"},
		{"POST", "/v1/persons/" + id + "/biometrics", consent.Registrar, "deduplication"},
		{"POST", "/v1/persons/" + id + "/exams", consent.Clinician, "care"},
		{"PATCH", "/v1/persons/" + id, consent.Registrar, "registration"},
		{"POST", "/v1/persons/search", consent.Registrar, "registration"},
		{"POST", "/v1/portal/login", "", ""},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rt := range routes {
			r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
			if rt.role != "" {
				r.Header.Set("Authorization", "Bearer "+e.keys[rt.role])
				r.Header.Set("Assent-Purpose", rt.purpose)
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, w.Code, w.Body.String())
			}
			if w.Code >= 400 && !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
				t.Fatalf("%s %s: error without problem+json", rt.method, rt.path)
			}
		}
	})
}
