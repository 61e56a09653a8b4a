// Package fhir is Assent's HL7 FHIR R4 interface (IHE PDQm and PIXm
// shapes): Patient, Group (households), Observation, Consent, AuditEvent,
// Specimen and the CapabilityStatement, under /fhir.
//
// It is mapping only. Every read and write is a call to a registry use case
// (the same policy gate, the same audit entries as the JSON API); the routes
// are mounted on the httpapi server, so authentication (API keys, portal
// tokens), the Assent-Purpose header and the audit of refused requests are
// the JSON API's. Errors are OperationOutcome resources carrying the JSON
// API's status and stable code. The package decides no policy and touches
// no store (arch_test.go).
package fhir

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// ContentType is the FHIR JSON media type of every answer.
const ContentType = "application/fhir+json; charset=utf-8"

// Code systems and URIs Assent defines (docs/fhir.md).
const (
	base            = "https://assent.example/fhir"
	SystemError     = base + "/CodeSystem/error"         // OperationOutcome details: the stable codes
	SystemCategory  = base + "/CodeSystem/data-category" // identity, face, ..., health
	SystemPurpose   = base + "/CodeSystem/purpose"       // registration, care, ...
	SystemRole      = base + "/CodeSystem/role"          // registrar, clinician, ...
	SystemOperator  = base + "/sid/operator-id"
	SystemSite      = base + "/sid/site"
	SystemHousehold = base + "/sid/household-id"
	SystemExam      = base + "/sid/exam-id"
	SystemSpecimen  = base + "/sid/specimen-label"
	extArea         = base + "/StructureDefinition/area-code"
	extEstimated    = base + "/StructureDefinition/birth-date-estimated"
	extHousehold    = base + "/StructureDefinition/household"
	extRelationship = base + "/StructureDefinition/household-relationship"
	extLeafIndex    = base + "/StructureDefinition/audit-leaf-index"
	extLeafHash     = base + "/StructureDefinition/audit-leaf-hash"
	extMethod       = base + "/StructureDefinition/consent-method"
	extNotice       = base + "/StructureDefinition/consent-notice-version"
	extLanguage     = base + "/StructureDefinition/consent-language"
	extUses         = base + "/StructureDefinition/specimen-consented-use"
	extCustody      = base + "/StructureDefinition/custody-event"
	extDestroyBy    = base + "/StructureDefinition/specimen-destroy-by"
	extLocation     = base + "/StructureDefinition/custody-location"

	SystemLOINC     = "http://loinc.org"
	SystemUCUM      = "http://unitsofmeasure.org"
	SystemSNOMED    = "http://snomed.info/sct"
	SystemActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
)

// Options configure the interface.
type Options struct {
	// Now stamps bundles (time.Now).
	Now func() time.Time
}

// Handler serves the FHIR routes. It is safe for concurrent use.
type Handler struct {
	reg *registry.Registry
	now func() time.Time
}

// Route is one FHIR route: its pattern and access level on the server.
type Route struct {
	Pattern string
	Access  httpapi.Access
}

// Mount registers every FHIR route on srv, behind srv's middleware.
func Mount(srv *httpapi.Server, reg *registry.Registry, opt Options) *Handler {
	h := &Handler{reg: reg, now: opt.Now}
	if h.now == nil {
		h.now = time.Now
	}
	for _, rt := range h.routes() {
		srv.Mount(rt.pattern, rt.access, rt.fn, httpapi.MountOptions{Write: writeOutcome, Person: h.recordID(rt.person), PurposeOptional: rt.noPurpose})
	}
	// Anything else under /fhir is an OperationOutcome too: 405 with Allow
	// for a served path, 404 otherwise.
	srv.Mount("/fhir/", httpapi.Public, func(w http.ResponseWriter, r *http.Request) error {
		if allow := srv.Allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return problem(http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed, r.Method+" is not allowed here; use "+strings.Join(allow, ", "), "")
		}
		return problem(http.StatusNotFound, httpapi.CodeNotFound, "no such FHIR route: see /fhir/metadata for what is served", "")
	}, httpapi.MountOptions{Write: writeOutcome})
	return h
}

type route struct {
	pattern string
	access  httpapi.Access
	fn      func(http.ResponseWriter, *http.Request) error
	person  func(*http.Request) string
	// noPurpose lets an actor call without Assent-Purpose (auditors).
	noPurpose func(registry.Actor) bool
}

func pathID(r *http.Request) string       { return r.PathValue("id") }
func patientParam(r *http.Request) string { return refID(r.URL.Query().Get("patient"), "Patient") }

// routes is the one list of the FHIR routes (metadata.go describes them
// in the CapabilityStatement).
func (h *Handler) routes() []route {
	return []route{
		{"GET /fhir/metadata", httpapi.Public, h.metadata, nil, nil},
		{"GET /fhir/Patient", httpapi.Personal, h.searchPatients, nil, nil},
		{"GET /fhir/Patient/{id}", httpapi.Personal, h.readPatient, pathID, nil},
		{"GET /fhir/Patient/$ihe-pix", httpapi.Personal, h.pix, nil, nil},
		{"POST /fhir/Patient/{id}/$add-identifier", httpapi.Personal, h.addIdentifier, pathID, nil},
		{"GET /fhir/Group/{id}", httpapi.Personal, h.readGroup, nil, nil},
		{"GET /fhir/Observation", httpapi.Personal, h.searchObservations, patientParam, nil},
		{"POST /fhir/Observation", httpapi.Personal, h.createObservation, nil, nil},
		{"POST /fhir", httpapi.Personal, h.transaction, nil, nil},
		{"GET /fhir/Consent", httpapi.Portal, h.searchConsents, patientParam, nil},
		{"GET /fhir/Consent/{id}", httpapi.Portal, h.readConsent, consentPerson, nil},
		{"GET /fhir/Consent/{id}/_history", httpapi.Portal, h.consentHistory, consentPerson, nil},
		{"GET /fhir/Consent/{id}/_history/{vid}", httpapi.Portal, h.vreadConsent, consentPerson, nil},
		{"GET /fhir/AuditEvent", httpapi.Portal, h.searchAuditEvents, patientParam, auditorNoPurpose},
		{"GET /fhir/Specimen/{id}", httpapi.Personal, h.readSpecimen, nil, nil},
	}
}

// Routes lists the FHIR routes (for tests and docs).
func (h *Handler) Routes() []Route {
	var out []Route
	for _, rt := range h.routes() {
		out = append(out, Route{Pattern: rt.pattern, Access: rt.access})
	}
	return out
}

// person turns a Patient reference (an id or a person number, spaces and
// dashes ignored) into the record id, as the JSON API's person routes do;
// the use case then decides and audits under the id.
func (h *Handler) person(r *http.Request, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	return h.reg.ResolvePerson(r.Context(), ref)
}

// recordID makes the audit event of a refused request name the record id
// when the request named the person by number (as the use cases do).
func (h *Handler) recordID(ref func(*http.Request) string) func(*http.Request) string {
	if ref == nil {
		return nil
	}
	return func(r *http.Request) string {
		s := ref(r)
		if id, err := h.person(r, s); err == nil && id != "" {
			return id
		}
		return s
	}
}

// refID strips a "Type/" prefix from a reference ("Patient/123" -> "123").
func refID(ref, typ string) string {
	if i := strings.LastIndex(ref, typ+"/"); i >= 0 {
		return ref[i+len(typ)+1:]
	}
	return ref
}

// baseURL is the absolute base of the FHIR endpoint as the client reached
// it (fullUrl of bundle entries).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

func writeResource(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func problem(status int, code, detail, field string) error {
	return &httpapi.Problem{Type: "https://assent.example/problems/" + code, Title: http.StatusText(status), Status: status,
		Code: code, Detail: detail, Field: field}
}

// issueType is the FHIR issue type of an HTTP status (and code).
func issueType(p httpapi.Problem) string {
	switch {
	case p.Code == registry.CodeMissingField:
		return "required"
	case p.Status == http.StatusBadRequest:
		return "invalid"
	case p.Status == http.StatusUnauthorized:
		return "login"
	case p.Status == http.StatusForbidden:
		return "forbidden"
	case p.Status == http.StatusNotFound:
		return "not-found"
	case p.Status == http.StatusConflict:
		return "conflict"
	case p.Status == http.StatusGone:
		return "deleted"
	case p.Status == http.StatusRequestEntityTooLarge:
		return "too-costly"
	case p.Status == http.StatusUnsupportedMediaType, p.Status == http.StatusNotImplemented, p.Status == http.StatusMethodNotAllowed:
		return "not-supported"
	case p.Status == http.StatusTooManyRequests:
		return "throttled"
	case p.Status == http.StatusUnprocessableEntity:
		return "processing"
	}
	return "exception"
}

// Outcome is the OperationOutcome of a problem: the same status and stable
// code as the JSON API's problem+json, the code in details.coding.
func Outcome(p httpapi.Problem) OperationOutcome {
	iss := OperationOutcomeIssue{Severity: "error", Code: issueType(p),
		Details:     &CodeableConcept{Coding: []Coding{{System: SystemError, Code: p.Code}}, Text: p.Title},
		Diagnostics: p.Detail}
	if p.Field != "" {
		iss.Expression = []string{p.Field}
	}
	return OperationOutcome{ResourceType: "OperationOutcome", Issue: []OperationOutcomeIssue{iss}}
}

// writeOutcome is the error writer of every FHIR route.
func writeOutcome(w http.ResponseWriter, r *http.Request, p httpapi.Problem) {
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="assent"`)
	}
	_ = writeResource(w, p.Status, Outcome(p))
}

func actorPurpose(r *http.Request) (registry.Actor, consent.Purpose) {
	return httpapi.ActorFrom(r), httpapi.PurposeFrom(r)
}

// purposeCodings maps an Assent purpose to a v3-ActReason purpose of use,
// with Assent's own code alongside (the exact purpose).
var actReason = map[consent.Purpose]Coding{
	consent.Registration:  {System: SystemActReason, Code: "PATADMIN", Display: "patient administration"},
	consent.Care:          {System: SystemActReason, Code: "TREAT", Display: "treatment"},
	consent.Verification:  {System: SystemActReason, Code: "HOPERAT", Display: "healthcare operations"},
	consent.Deduplication: {System: SystemActReason, Code: "RECORDMGT", Display: "records management"},
	consent.Research:      {System: SystemActReason, Code: "HRESCH", Display: "healthcare research"},
}

func purposeCodings(p consent.Purpose) []Coding {
	var out []Coding
	if c, ok := actReason[p]; ok {
		out = append(out, c)
	}
	if p != "" {
		out = append(out, Coding{System: SystemPurpose, Code: string(p)})
	}
	return out
}
