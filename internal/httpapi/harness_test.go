package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
)

// env is a running API over a fresh SQLite store and an in-memory key store,
// with one key per operator role (all at site "s1" but admin and auditor).
type env struct {
	t     testing.TB
	srv   *Server
	reg   *registry.Registry
	audit *audit.Log
	db    store.Store
	keys  map[consent.Role]string
	clock *fakeClock
	kr    *envelope.Keyring
	// exchanges records every request and response, checked against the
	// OpenAPI document when the test ends.
	mu        sync.Mutex
	exchanges []exchange
}

type exchange struct {
	method, path string
	reqBody      []byte
	header       http.Header
	status       int
	respHeader   http.Header
	respBody     []byte
}

// fakeClock is the tests' settable clock.
type fakeClock = registrytest.Clock

func newEnv(t testing.TB) *env {
	t.Helper()
	clock := registrytest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	r := registrytest.New(t, registrytest.Options{Clock: clock.Now, Areas: []string{"A1", "A2"}})
	e := &env{t: t, reg: r.Reg, audit: r.Audit, db: r.DB, keys: r.Keys, clock: clock, kr: r.Keyring}
	e.srv = New(r.Reg, Options{Logger: discardLogger()})
	t.Cleanup(e.checkOpenAPI)
	return e
}

// req is one request of a test.
type req struct {
	method, path string
	role         consent.Role // "" sends no key
	key          string       // overrides role
	purpose      string
	body         any // string is sent as is; anything else as JSON
}

type resp struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r resp) code() string { s, _ := r.body["code"].(string); return s }
func (r resp) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

func (e *env) do(q req) resp {
	e.t.Helper()
	var body []byte
	switch b := q.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		body, err = json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
	}
	r := httptest.NewRequest(q.method, q.path, bytes.NewReader(body))
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	key := q.key
	if key == "" && q.role != "" {
		key = e.keys[q.role]
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	if q.purpose != "" {
		r.Header.Set("Assent-Purpose", q.purpose)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	raw, _ := io.ReadAll(w.Result().Body)
	out := resp{status: w.Code, raw: raw}
	if strings.Contains(w.Header().Get("Content-Type"), "json") && len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: response is not JSON: %v\n%s", q.method, q.path, err, raw)
		}
	}
	e.mu.Lock()
	e.exchanges = append(e.exchanges, exchange{method: q.method, path: q.path, reqBody: body, header: r.Header.Clone(), status: w.Code, respHeader: w.Header().Clone(), respBody: raw})
	e.mu.Unlock()
	return out
}

// must asserts the status and returns the response.
func (e *env) must(status int, q req) resp {
	e.t.Helper()
	r := e.do(q)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", q.method, q.path, r.status, status, r.raw)
	}
	return r
}

func adultBody(given string) map[string]any {
	return map[string]any{
		"given_name": given, "family_name": "Tester", "birth_date": "1980-02-03", "sex": "female", "area_code": "A1",
		"consent": map[string]any{"method": "verbal", "notice_version": "n1", "language": "en"},
	}
}

// register creates a person and returns the registration response.
func (e *env) register(body map[string]any) resp {
	e.t.Helper()
	return e.must(http.StatusCreated, req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: body})
}
