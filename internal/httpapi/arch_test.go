package httpapi

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// TestNoConcreteStore: the HTTP layer talks to use cases, never to a
// storage backend.
func TestNoConcreteStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/assent-registry/assent/internal/httpapi").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "/internal/store/") || dep == "github.com/jackc/pgx/v5" {
			// registry may not pull a backend in either.
			t.Errorf("httpapi depends on the concrete store %s", dep)
		}
	}
}

// TestLogsCarryNoPersonalData: request logs hold routes, statuses and ids,
// never a name, a birth date, a phone number or a key.
func TestLogsCarryNoPersonalData(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	e.srv = New(e.reg, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	b := adultBody("Philippa")
	b["family_name"], b["phone"] = "Xanthopoulou", "+30 210 555 0199"
	id := e.register(b).str("id")
	e.must(200, req{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"})
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"notes": "Philippa reports headaches"}})
	e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: map[string]any{"given_name": "Philippa", "ethnicity": "x"}})
	if buf.Len() == 0 {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
	for _, s := range []string{"Philippa", "Xanthopoulou", "1980-02-03", "555 0199", "headaches", e.keys[consent.Registrar]} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log carries %q:\n%s", s, buf.String())
		}
	}
	_ = httptest.NewRecorder
}
