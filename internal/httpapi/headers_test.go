package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSecurityHeadersOnEveryResponse: success, error, unknown route,
// metrics and a page that sets its own policy all carry the headers; HSTS
// only over TLS.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t)
	plain := httptest.NewServer(e.srv)
	defer plain.Close()
	tls := httptest.NewTLSServer(e.srv)
	defer tls.Close()
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"ok", "GET", "/healthz", ""},
		{"metrics", "GET", "/metrics", ""},
		{"unauthenticated", "GET", "/v1/persons/p1", ""},
		{"unknown route", "GET", "/nope", ""},
		{"wrong method", "DELETE", "/healthz", ""},
		{"own policy", "POST", "/v1/receipts/render", `{}`},
	} {
		for _, srv := range []*httptest.Server{plain, tls} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
				!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s (%d): headers %v", tc.name, resp.StatusCode, h)
			}
			if hsts := h.Get("Strict-Transport-Security"); (resp.TLS != nil) != (hsts != "") {
				t.Errorf("%s: TLS %v but HSTS %q", tc.name, resp.TLS != nil, hsts)
			}
		}
	}
}

func TestSeparateMetrics(t *testing.T) {
	e := newEnv(t)
	srv := New(e.reg, Options{Logger: discardLogger(), SeparateMetrics: true})
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/metrics on the API with SeparateMetrics: %d, want 404", w.Code)
	}
	w = httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "go_goroutines") {
		t.Errorf("MetricsHandler: %d", w.Code)
	}
}
