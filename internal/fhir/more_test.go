package fhir

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/store"
)

// TestPIXm: a registrar attaches an EMR's identifier; a clinician finds the
// person by it and gets the cross-references; a researcher is refused; an
// identifier is attached to one person only; erasing the person removes it.
func TestPIXm(t *testing.T) {
	e := newEnv(t)
	pid, code := e.register(adultBody("Pix"))
	other, _ := e.register(adultBody("Other"))
	const emr = "urn:oid:1.3.6.1.4.1.21367.13.20.1000"
	add := func(id, value string, role consent.Role, purpose string) resp {
		return e.do(req{method: "POST", path: "/fhir/Patient/" + id + "/$add-identifier", role: role, purpose: purpose,
			body: map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "identifier",
				"valueIdentifier": map[string]any{"system": emr, "value": value}}}}})
	}
	if r := add(pid, "MRN-77", consent.Registrar, "registration"); r.status != 201 {
		t.Fatalf("attach: %d %s", r.status, r.raw)
	}
	if r := add(other, "MRN-77", consent.Registrar, "registration"); r.status != 409 || r.code() != "identifier_in_use" {
		t.Errorf("the same identifier on a second person: %d %s", r.status, r.raw)
	}
	if r := add(pid, "MRN-78", consent.Clinician, "care"); r.status != 403 {
		t.Errorf("a clinician attached an identifier: %d %s", r.status, r.raw)
	}

	r := e.must(200, req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape(emr+"|MRN-77"), role: consent.Clinician, purpose: "care"})
	if got := r.entries(); len(got) != 1 || got[0]["id"] != pid {
		t.Fatalf("search by the EMR's identifier: %s", r.raw)
	}
	pix := "/fhir/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape(emr+"|MRN-77")
	r = e.must(200, req{method: "GET", path: pix, role: consent.Clinician, purpose: "care"})
	var ids, refs []string
	for _, p := range r.body["parameter"].([]any) {
		pm := p.(map[string]any)
		switch pm["name"] {
		case "targetIdentifier":
			vi := pm["valueIdentifier"].(map[string]any)
			ids = append(ids, vi["system"].(string)+"|"+vi["value"].(string))
		case "targetId":
			refs = append(refs, pm["valueReference"].(map[string]any)["reference"].(string))
		}
	}
	number := e.numberOf(pid)
	if !slices.Equal(ids, []string{"https://assent.example/fhir/sid/person-id|" + pid, "https://assent.example/fhir/sid/person-number|" + number}) ||
		!slices.Equal(refs, []string{"Patient/" + pid}) {
		t.Errorf("$ihe-pix from the EMR id: identifiers %v, targetId %v", ids, refs)
	}
	// From Assent's id, the EMR's identifier comes back.
	r = e.must(200, req{method: "GET", path: "/fhir/Patient/$ihe-pix?targetSystem=" + url.QueryEscape(emr) + "&sourceIdentifier=" +
		url.QueryEscape("https://assent.example/fhir/sid/person-id|"+pid), role: consent.Registrar, purpose: "registration"})
	if ps := r.body["parameter"].([]any); len(ps) != 1 || ps[0].(map[string]any)["valueIdentifier"].(map[string]any)["value"] != "MRN-77" {
		t.Errorf("$ihe-pix to the EMR: %s", r.raw)
	}
	if r := e.do(req{method: "GET", path: pix, role: consent.Researcher, purpose: "research"}); r.status != 403 || r.code() != "role_not_allowed" {
		t.Errorf("researcher $ihe-pix: %d %s", r.status, r.raw)
	}
	if r := e.do(req{method: "GET", path: "/fhir/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape(emr+"|nope"), role: consent.Clinician, purpose: "care"}); r.status != 404 {
		t.Errorf("unknown identifier: %d %s", r.status, r.raw)
	}
	// Withdrawing registration erases the person: the identifier goes too.
	tok := e.portalToken(pid, code)
	e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/consents", key: tok, body: map[string]any{
		"category": "identity", "purpose": "registration", "decision": "withdrawn", "notice_version": "n1", "language": "en"}})
	r = e.must(200, req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape(emr+"|MRN-77"), role: consent.Clinician, purpose: "care"})
	if len(r.entries()) != 0 {
		t.Errorf("an erased person is still found by the EMR's identifier")
	}
	if r := add(other, "MRN-77", consent.Registrar, "registration"); r.status != 201 {
		t.Errorf("the identifier of an erased person is free again: %d %s", r.status, r.raw)
	}
}

// TestConsentVersions: each (category, purpose) is one Consent whose
// versions are the answers; a withdrawal is inactive with a deny provision.
func TestConsentVersions(t *testing.T) {
	e := newEnv(t)
	pid, code := e.register(adultBody("Cons"))
	tok := e.portalToken(pid, code)
	for _, d := range []string{"granted", "withdrawn"} {
		e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/consents", role: consent.Registrar, purpose: "registration", body: map[string]any{
			"category": "blood_type", "purpose": "research", "decision": d, "method": "verbal", "notice_version": "n2", "language": "sw"}})
	}
	r := e.must(200, req{method: "GET", path: "/fhir/Consent?patient=" + pid, key: tok})
	byID := map[string]map[string]any{}
	for _, c := range r.entries() {
		byID[c["id"].(string)] = c
	}
	bt := byID[pid+".blood-type.research"]
	if len(byID) != 2 || bt == nil || byID[pid+".identity.registration"] == nil {
		t.Fatalf("consents: %v", byID)
	}
	if bt["status"] != "inactive" || bt["provision"].(map[string]any)["type"] != "deny" || bt["meta"].(map[string]any)["versionId"] != "2" {
		t.Errorf("withdrawn consent: %v", bt)
	}
	pu := bt["provision"].(map[string]any)["purpose"].([]any)[0].(map[string]any)
	cl := bt["provision"].(map[string]any)["class"].([]any)[0].(map[string]any)
	if pu["code"] != "HRESCH" || pu["system"] != SystemActReason || cl["code"] != "blood_type" {
		t.Errorf("purpose %v, class %v", pu, cl)
	}
	h := e.must(200, req{method: "GET", path: "/fhir/Consent/" + pid + ".blood-type.research/_history", key: tok})
	es := h.entries()
	if h.body["type"] != "history" || len(es) != 2 || es[0]["status"] != "inactive" || es[1]["status"] != "active" ||
		es[1]["provision"].(map[string]any)["type"] != "permit" {
		t.Errorf("history: %s", h.raw)
	}
	v1 := e.must(200, req{method: "GET", path: "/fhir/Consent/" + pid + ".blood-type.research/_history/1", role: consent.Registrar, purpose: "registration"})
	if v1.str("status") != "active" {
		t.Errorf("version 1: %s", v1.raw)
	}
	e.must(404, req{method: "GET", path: "/fhir/Consent/" + pid + ".blood-type.research/_history/3", key: tok})
	e.must(404, req{method: "GET", path: "/fhir/Consent/" + pid + ".dna.research", key: tok})
	// Another person's consents are not the subject's to read.
	other, ocode := e.register(adultBody("Else"))
	_ = ocode
	if r := e.do(req{method: "GET", path: "/fhir/Consent?patient=" + other, key: tok}); r.status != 403 {
		t.Errorf("someone else's consents: %d", r.status)
	}
}

// TestSpecimenAndGroup: a specimen reads with its custody and nothing
// genetic; a household reads as a Group of Patient references.
func TestSpecimenAndGroup(t *testing.T) {
	e := newEnv(t)
	hh := e.must(201, req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: map[string]any{"address": "1 Well St", "area_code": "A1"}})
	b := adultBody("Spec")
	b["household_id"], b["relationship"] = hh.str("id"), "head"
	pid, _ := e.register(b)
	sid := e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "TUBE-1", "type": "saliva", "storage_location": "fridge 2", "consented_uses": []string{"care"}}}).str("id")
	e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/specimens/" + sid + "/events", role: consent.Clinician, purpose: "care",
		body: map[string]any{"event": "stored", "location": "freezer 9"}})
	r := e.must(200, req{method: "GET", path: "/fhir/Specimen/" + sid, role: consent.Clinician, purpose: "care"})
	if r.body["subject"].(map[string]any)["reference"] != "Patient/"+pid || len(r.body["processing"].([]any)) != 2 ||
		r.body["accessionIdentifier"].(map[string]any)["value"] != "TUBE-1" {
		t.Errorf("specimen: %s", r.raw)
	}
	for _, k := range []string{"genotype", "result", "sequence"} {
		if strings.Contains(strings.ToLower(string(r.raw)), k) {
			t.Errorf("specimen carries %q", k)
		}
	}
	e.must(403, req{method: "GET", path: "/fhir/Specimen/" + sid, role: consent.Researcher, purpose: "research"})
	e.must(404, req{method: "GET", path: "/fhir/Specimen/nope", role: consent.Clinician, purpose: "care"})

	g := e.must(200, req{method: "GET", path: "/fhir/Group/" + hh.str("id"), role: consent.Registrar, purpose: "registration"})
	ms := g.body["member"].([]any)
	if g.body["type"] != "person" || len(ms) != 1 || ms[0].(map[string]any)["entity"].(map[string]any)["reference"] != "Patient/"+pid {
		t.Errorf("group: %s", g.raw)
	}
	p := e.must(200, req{method: "GET", path: "/fhir/Patient/" + pid, role: consent.Registrar, purpose: "registration"})
	if !strings.Contains(string(p.raw), `"reference":"Group/`+hh.str("id")+`"`) {
		t.Errorf("patient does not point at its household: %s", p.raw)
	}
}

// TestAuditorAuditEvents: an auditor lists a person's AuditEvents without
// a purpose; the events are the person's own access log.
func TestAuditorAuditEvents(t *testing.T) {
	e := newEnv(t)
	pid, code := e.register(adultBody("Aud"))
	e.must(200, req{method: "GET", path: "/fhir/Patient/" + pid, role: consent.Clinician, purpose: "care"})
	a := e.must(200, req{method: "GET", path: "/fhir/AuditEvent?patient=" + pid, role: consent.Auditor})
	p := e.must(200, req{method: "GET", path: "/fhir/AuditEvent?patient=" + pid, key: e.portalToken(pid, code)})
	ids := func(r resp) []string {
		var out []string
		for _, ev := range r.entries() {
			out = append(out, ev["id"].(string))
		}
		return out
	}
	ai, pi := ids(a), ids(p)
	if len(ai) < 2 || !slices.Equal(ai, pi[:len(ai)]) {
		t.Errorf("auditor sees %v, the person %v", ai, pi)
	}
	e.must(403, req{method: "GET", path: "/fhir/AuditEvent?patient=" + pid, role: consent.Researcher, purpose: "research"})
	// paging
	r := e.must(200, req{method: "GET", path: "/fhir/AuditEvent?_count=1&patient=" + pid, role: consent.Auditor})
	links := map[string]string{}
	for _, l := range r.body["link"].([]any) {
		links[l.(map[string]any)["relation"].(string)] = l.(map[string]any)["url"].(string)
	}
	if len(r.entries()) != 1 || links["next"] == "" {
		t.Fatalf("page 1: %s", r.raw)
	}
	u, _ := url.Parse(links["next"])
	r2 := e.must(200, req{method: "GET", path: u.RequestURI(), role: consent.Auditor})
	if len(r2.entries()) != 1 || r2.entries()[0]["id"] != ai[1] {
		t.Errorf("page 2: %s", r2.raw)
	}
}

// TestCapabilityListsRoutes: metadata lists exactly the resource types
// served, and every served resource type is in it.
func TestCapabilityListsRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, req{method: "GET", path: "/fhir/metadata"})
	listed := map[string]bool{}
	for _, res := range r.body["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		listed[res.(map[string]any)["type"].(string)] = true
	}
	served := map[string]bool{}
	for _, rt := range e.fh.Routes() {
		_, path, _ := strings.Cut(rt.Pattern, " ")
		if path == "/fhir" {
			ia := r.body["rest"].([]any)[0].(map[string]any)["interaction"].([]any)
			if ia[0].(map[string]any)["code"] != "transaction" {
				t.Errorf("POST /fhir is served but transaction is not listed")
			}
			continue
		}
		parts := strings.Split(strings.TrimPrefix(path, "/fhir/"), "/")
		if parts[0] != "metadata" {
			served[parts[0]] = true
		}
	}
	for k := range served {
		if !listed[k] {
			t.Errorf("%s is served but not in the CapabilityStatement", k)
		}
	}
	for k := range listed {
		if !served[k] {
			t.Errorf("%s is in the CapabilityStatement but not served", k)
		}
	}
	if r.str("fhirVersion") != "4.0.1" {
		t.Errorf("fhirVersion %q", r.str("fhirVersion"))
	}
}

// TestEveryFHIRRouteIsAudited walks every FHIR route that touches personal
// data with every role and the person's portal token: each request leaves
// exactly one audit event, allowed or denied. A route that skips the gate
// fails here.
func TestEveryFHIRRouteIsAudited(t *testing.T) {
	e := newEnv(t)
	hh := e.must(201, req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: map[string]any{"address": "1 Well St", "area_code": "A1"}})
	b := adultBody("Walker")
	b["household_id"], b["relationship"] = hh.str("id"), "head"
	pid, code := e.register(b)
	sid := e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "T1", "type": "saliva", "storage_location": "fridge", "consented_uses": []string{"care"}}}).str("id")
	tok := e.portalToken(pid, code)
	purposeOf := map[consent.Role]string{
		consent.Admin: "registration", consent.Registrar: "registration", consent.Clinician: "care", consent.Verifier: "verification",
		consent.Adjudicator: "deduplication", consent.Researcher: "research", consent.Auditor: "registration",
	}
	paths := map[string]string{
		"GET /fhir/Patient":                       "/fhir/Patient?family=Tester&given=Walker&birthdate=1980-02-03",
		"GET /fhir/Patient/{id}":                  "/fhir/Patient/" + pid,
		"GET /fhir/Patient/$ihe-pix":              "/fhir/Patient/$ihe-pix?sourceIdentifier=" + url.QueryEscape("https://assent.example/fhir/sid/person-id|"+pid),
		"POST /fhir/Patient/{id}/$add-identifier": "/fhir/Patient/" + pid + "/$add-identifier",
		"GET /fhir/Group/{id}":                    "/fhir/Group/" + hh.str("id"),
		"GET /fhir/Observation":                   "/fhir/Observation?patient=" + pid,
		"POST /fhir/Observation":                  "/fhir/Observation",
		"POST /fhir":                              "/fhir",
		"GET /fhir/Consent":                       "/fhir/Consent?patient=" + pid,
		"GET /fhir/Consent/{id}":                  "/fhir/Consent/" + pid + ".identity.registration",
		"GET /fhir/Consent/{id}/_history":         "/fhir/Consent/" + pid + ".identity.registration/_history",
		"GET /fhir/Consent/{id}/_history/{vid}":   "/fhir/Consent/" + pid + ".identity.registration/_history/1",
		"GET /fhir/AuditEvent":                    "/fhir/AuditEvent?patient=" + pid,
		"GET /fhir/Specimen/{id}":                 "/fhir/Specimen/" + sid,
	}
	n := 0
	bodies := map[string]any{
		"POST /fhir/Observation": obsHeight(pid, 150),
		"POST /fhir":             checkup(obsHeight(pid, 150), obsBP(pid, 120, 80)),
		"POST /fhir/Patient/{id}/$add-identifier": map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "identifier",
			"valueIdentifier": map[string]any{"system": "urn:emr:walk", "value": "W"}}}},
	}
	roles := append(slices.Clone(consent.OperatorRoles), consent.Subject)
	walked := 0
	for _, rt := range e.fh.Routes() {
		if rt.Access != httpapi.Personal && rt.Access != httpapi.Portal {
			continue
		}
		path, ok := paths[rt.Pattern]
		if !ok {
			t.Errorf("no path for %s: add it to the walk", rt.Pattern)
			continue
		}
		method, _, _ := strings.Cut(rt.Pattern, " ")
		for _, role := range roles {
			q := req{method: method, path: path, body: bodies[rt.Pattern]}
			if role == consent.Subject {
				q.key = tok
			} else {
				q.role, q.purpose = role, purposeOf[role]
			}
			if rt.Pattern == "POST /fhir/Patient/{id}/$add-identifier" {
				n++ // a fresh identifier each time, so an allowed attach is not a conflict
				q.body = map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "identifier",
					"valueIdentifier": map[string]any{"system": "urn:emr:walk", "value": "W" + strings.Repeat("x", n)}}}}
			}
			before := len(e.auditRows())
			r := e.do(q)
			want := 1
			if got := len(e.auditRows()) - before; got != want {
				t.Errorf("%s as %s -> %d %s: %d audit events, want %d", rt.Pattern, role, r.status, r.code(), got, want)
			}
			walked++
		}
	}
	if walked < 90 {
		t.Errorf("walked only %d (route, role) pairs", walked)
	}
}

// TestNoStoreNoPolicy: the FHIR package maps; it touches no store and
// decides nothing (it never imports a backend or the store package).
func TestNoStoreNoPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "github.com/assent-registry/assent/internal/fhir").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "/internal/store") || strings.Contains(dep, "pgx") || strings.Contains(dep, "/internal/envelope") {
			t.Errorf("fhir imports %s", dep)
		}
	}
	_ = context.Background
	_ = store.ErrNotFound
	_ = time.Second
}

// TestIdentifierValueSealed: an attached identifier's value is nowhere in
// the data files in the clear (sealed under the identity key, found by a
// keyed digest).
func TestIdentifierValueSealed(t *testing.T) {
	dir := t.TempDir()
	e := newEnvIn(t, dir)
	pid, _ := e.register(adultBody("Seal"))
	const value = "MRN-SEALED-4711"
	e.must(201, req{method: "POST", path: "/fhir/Patient/" + pid + "/$add-identifier", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "identifier",
			"valueIdentifier": map[string]any{"system": "urn:emr:seal", "value": value}}}}})
	r := e.must(200, req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape("urn:emr:seal|"+value), role: consent.Registrar, purpose: "registration"})
	if len(r.entries()) != 1 {
		t.Fatalf("not found by its identifier: %s", r.raw)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		seen++
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the identifier in the clear", filepath.Base(f))
		}
		if !bytes.Contains(b, []byte("urn:emr:seal")) {
			continue
		}
		seen += 100 // the row is in this file
	}
	if seen < 100 {
		t.Errorf("the identifier row was found in no data file (%d files read): the test proves nothing", len(files))
	}
}
