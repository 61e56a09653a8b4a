package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// Printable receipts are HTML; check them as opaque text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
}

func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// checkOpenAPI validates every response a test received against the
// document: status documented, content type and body matching the schema.
func (e *env) checkOpenAPI() {
	t := e.t
	if t.Failed() {
		return
	}
	_, router := loadSpec(t)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.exchanges {
		r := httptest.NewRequest(x.method, x.path, bytes.NewReader(x.reqBody))
		r.Header = x.header
		route, params, err := router.FindRoute(r)
		if err != nil {
			t.Errorf("%s %s: not in openapi.json: %v", x.method, x.path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.status, Header: x.respHeader,
			Body: io.NopCloser(bytes.NewReader(x.respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("%s %s -> %d does not match openapi.json: %v\nbody: %.300s", x.method, x.path, x.status, err, x.respBody)
		}
	}
}

// TestEveryRouteIsDocumented: the routes the server registers and the paths
// of the document are the same set.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, _ := loadSpec(t)
	srv := New(nil, Options{Logger: discardLogger()})
	registered := map[string]bool{}
	for _, r := range srv.Routes() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		registered[method+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not in openapi.json", r.Pattern)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", method, path)
			}
		}
	}
	_ = http.MethodGet
}
