package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// env is the JSON API with the FHIR interface mounted, over a fresh SQLite
// store, with one key per operator role (at site s1 but admin and auditor).
// Every FHIR answer is kept and, when the test ends, validated against the
// official FHIR R4 JSON schema (validateR4) and the R4 required elements.
type env struct {
	t    *testing.T
	srv  *httpapi.Server
	fh   *Handler
	reg  *registry.Registry
	db   store.Store
	keys map[consent.Role]string

	mu       sync.Mutex
	produced []produced
}

type produced struct {
	name     string
	resource json.RawMessage
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir())
}

// newEnvIn keeps the SQLite data in dir.
func newEnvIn(t *testing.T, dir string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, master, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }
	alog, err := registry.NewAuditLog(ctx, db, kr, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(db, kr, registry.Options{Clock: clock, Audit: alog})
	e := &env{t: t, reg: reg, db: db, keys: map[consent.Role]string{}}
	e.srv = httpapi.New(reg, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.fh = Mount(e.srv, reg, Options{Now: clock})
	if _, err := reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A1", registry.AreaInput{Name: "Area one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "Site one", AreaCode: "A1"}); err != nil {
		t.Fatal(err)
	}
	for _, role := range consent.OperatorRoles {
		site := "s1"
		if role == consent.Admin || role == consent.Auditor {
			site = ""
		}
		_, key, err := reg.CreateOperator(ctx, registry.NewOperator{Role: role, Site: site, Name: string(role)})
		if err != nil {
			t.Fatal(err)
		}
		e.keys[role] = key
	}
	t.Cleanup(e.validate)
	return e
}

// req is one request.
type req struct {
	method, path string
	role         consent.Role // "" sends no key
	key          string       // overrides role
	purpose      string
	body         any
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// code is an OperationOutcome's stable code (or a problem's).
func (r resp) code() string {
	if c, ok := r.body["code"].(string); ok {
		return c
	}
	iss, _ := r.body["issue"].([]any)
	if len(iss) == 0 {
		return ""
	}
	d, _ := iss[0].(map[string]any)["details"].(map[string]any)
	cs, _ := d["coding"].([]any)
	if len(cs) == 0 {
		return ""
	}
	c, _ := cs[0].(map[string]any)["code"].(string)
	return c
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

// entries are a Bundle's resources.
func (r resp) entries() []map[string]any {
	var out []map[string]any
	es, _ := r.body["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

func (e *env) do(q req) resp {
	e.t.Helper()
	var body io.Reader
	if q.body != nil {
		if s, ok := q.body.(string); ok {
			body = strings.NewReader(s)
		} else {
			b, err := json.Marshal(q.body)
			if err != nil {
				e.t.Fatal(err)
			}
			body = bytes.NewReader(b)
		}
	}
	hr := httptest.NewRequest(q.method, q.path, body)
	key := q.key
	if key == "" && q.role != "" {
		key = e.keys[q.role]
	}
	if key != "" {
		hr.Header.Set("Authorization", "Bearer "+key)
	}
	if q.purpose != "" {
		hr.Header.Set("Assent-Purpose", q.purpose)
	}
	if q.body != nil {
		hr.Header.Set("Content-Type", "application/fhir+json")
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, hr)
	out := resp{status: w.Code, header: w.Header(), raw: w.Body.Bytes()}
	_ = json.Unmarshal(out.raw, &out.body)
	if strings.HasPrefix(q.path, "/fhir") {
		if ct := w.Header().Get("Content-Type"); ct != ContentType {
			e.t.Errorf("%s %s: Content-Type %q, want %q", q.method, q.path, ct, ContentType)
		}
		e.mu.Lock()
		e.produced = append(e.produced, produced{name: fmt.Sprintf("%s %s -> %d", q.method, q.path, w.Code), resource: out.raw})
		e.mu.Unlock()
	}
	return out
}

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

// register creates a person through the JSON API.
func (e *env) register(body map[string]any) (id, code string) {
	e.t.Helper()
	r := e.must(http.StatusCreated, req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: body})
	return r.str("id"), r.body["receipt"].(map[string]any)["code"].(string)
}

// numberOf is a person's number, digits only, read through the JSON API.
func (e *env) numberOf(id string) string {
	e.t.Helper()
	r := e.must(http.StatusOK, req{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"})
	return digits(r.str("person_number"))
}

func (e *env) portalToken(id, code string) string {
	e.t.Helper()
	return e.must(http.StatusOK, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}}).str("token")
}

func (e *env) auditRows() []store.AuditRow {
	e.t.Helper()
	var rows []store.AuditRow
	if err := e.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		rows, err = tx.AuditRows(context.Background(), 0, 100000)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func (e *env) lastAudit() audit.Event {
	e.t.Helper()
	rows := e.auditRows()
	ev, err := audit.DecodeEvent(rows[len(rows)-1].Data)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// validatorDir holds the npm validator (npm ci --prefix
// internal/fhir/testdata/validator).
const validatorDir = "testdata/validator"

// validated collects every FHIR answer of every test of the package, for
// one run of the schema validator in TestMain.
var (
	validatedMu sync.Mutex
	validated   []validItem
)

type validItem struct {
	Name     string          `json:"name"`
	Resource json.RawMessage `json:"resource"`
}

// validate checks every FHIR answer of the test for the required elements
// of R4 (requiredR4) and queues it for the official FHIR R4 JSON schema.
func (e *env) validate() {
	t := e.t
	e.mu.Lock()
	items := e.produced
	e.mu.Unlock()
	for _, p := range items {
		var m map[string]any
		if err := json.Unmarshal(p.resource, &m); err != nil {
			t.Errorf("%s: answer is not a JSON object: %v", p.name, err)
			continue
		}
		for _, msg := range requiredR4(m) {
			t.Errorf("%s: %s", p.name, msg)
		}
		validatedMu.Lock()
		validated = append(validated, validItem{Name: t.Name() + ": " + p.name, Resource: p.resource})
		validatedMu.Unlock()
	}
}

// TestMain validates, after every test ran, every FHIR answer they produced
// against the official FHIR R4 JSON schema through Node.js (one run: the
// schema takes seconds to compile). Without node or the npm package the
// check is skipped with a message, unless CI=true, where it fails.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && len(validated) > 0 {
		if err := validateR4(validated); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func validateR4(all []validItem) error {
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(validatorDir, "node_modules", "@asymmetrik", "fhir-json-schema-validator")); err != nil || serr != nil {
		msg := "FHIR R4 schema validation skipped: it needs node and `npm ci --prefix internal/fhir/testdata/validator`"
		if os.Getenv("CI") == "true" {
			return errors.New(msg)
		}
		fmt.Fprintln(os.Stderr, msg)
		return nil
	}
	in, err := json.Marshal(all)
	if err != nil {
		return err
	}
	cmd := exec.Command(node, "validate.js")
	cmd.Dir = validatorDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("FHIR R4 validator: %v: %s", err, stderr.String())
	}
	var res struct {
		Checked int `json:"checked"`
		Invalid []struct {
			Name   string            `json:"name"`
			Errors []json.RawMessage `json:"errors"`
		} `json:"invalid"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("FHIR R4 validator output: %v: %s", err, out)
	}
	var msgs []string
	if res.Checked != len(all) {
		msgs = append(msgs, fmt.Sprintf("the validator checked %d of %d", res.Checked, len(all)))
	}
	for _, bad := range res.Invalid {
		msgs = append(msgs, "not valid FHIR R4: "+bad.Name)
		for _, m := range bad.Errors {
			msgs = append(msgs, "    "+string(m))
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	fmt.Fprintf(os.Stderr, "FHIR R4 schema: %d answers valid\n", res.Checked)
	return nil
}

// required lists the R4 elements of minimum cardinality 1 (and the
// invariants) of the resources Assent produces, which the JSON schema does
// not enforce.
var required = map[string][]string{
	"Observation":         {"status", "code"},
	"Consent":             {"status", "scope", "category"},
	"AuditEvent":          {"type", "recorded", "agent", "source"},
	"Group":               {"type", "actual"},
	"Bundle":              {"type"},
	"OperationOutcome":    {"issue"},
	"CapabilityStatement": {"status", "date", "kind", "fhirVersion", "format"},
}

func requiredR4(m map[string]any) []string {
	var out []string
	rt, _ := m["resourceType"].(string)
	if rt == "" {
		return []string{"no resourceType"}
	}
	for _, k := range required[rt] {
		if v, ok := m[k]; !ok || v == nil || v == "" {
			out = append(out, rt+"."+k+" is required")
		}
	}
	switch rt {
	case "Bundle":
		es, _ := m["entry"].([]any)
		for _, e := range es {
			if r, ok := e.(map[string]any)["resource"].(map[string]any); ok {
				out = append(out, requiredR4(r)...)
			}
		}
	case "Consent":
		if m["policy"] == nil && m["policyRule"] == nil {
			out = append(out, "Consent: ppc-1: policy or policyRule is required")
		}
	case "AuditEvent":
		for _, a := range m["agent"].([]any) {
			if _, ok := a.(map[string]any)["requestor"]; !ok {
				out = append(out, "AuditEvent.agent.requestor is required")
			}
		}
		if src, _ := m["source"].(map[string]any); src["observer"] == nil {
			out = append(out, "AuditEvent.source.observer is required")
		}
	case "OperationOutcome":
		for _, i := range m["issue"].([]any) {
			is := i.(map[string]any)
			if is["severity"] == nil || is["code"] == nil {
				out = append(out, "OperationOutcome.issue severity and code are required")
			}
		}
	case "CapabilityStatement":
		if m["kind"] == "instance" && m["implementation"] == nil {
			out = append(out, "CapabilityStatement: kind instance needs implementation")
		}
	}
	return out
}

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
