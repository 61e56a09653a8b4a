package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// ProblemWriter writes a refused or failed request in another interface's
// format (FHIR writes an OperationOutcome). p carries the same status and
// stable code as the JSON API's problem+json.
type ProblemWriter func(w http.ResponseWriter, r *http.Request, p Problem)

// MountOptions adapt a mounted route.
type MountOptions struct {
	// Write answers errors; nil writes problem+json.
	Write ProblemWriter
	// Person names the person a request is about, recorded on the audit
	// event of a request refused before its use case runs; nil records none.
	Person func(r *http.Request) string
	// PurposeOptional, when it returns true for the actor, lets a Personal
	// or Portal route run without an Assent-Purpose header (an auditor
	// reading audit metadata); a header given is still checked.
	PurposeOptional func(registry.Actor) bool
}

type mountOptions struct {
	write           ProblemWriter
	person          func(r *http.Request) string
	purposeOptional func(registry.Actor) bool
}

func (mo mountOptions) problemWriter() func(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if mo.write == nil {
		return writeProblem
	}
	return func(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
		p := problemFor(err)
		if p.Status >= 500 {
			log.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestID(r.Context()))
		}
		mo.write(w, r, p)
	}
}

// Mount serves pattern through the same middleware as the JSON API's
// routes: request id, metrics, body cap, authentication (API keys and
// portal tokens), the Assent-Purpose header, and an audit event for every
// request refused before a use case runs. Other interfaces (internal/fhir)
// mount their routes here so that there is one gate in front of the
// registry. Routes() lists mounted routes too.
func (s *Server) Mount(pattern string, access Access, h func(http.ResponseWriter, *http.Request) error, opt MountOptions) {
	s.routes = append(s.routes, Route{Pattern: pattern, Access: access})
	s.mux.Handle(pattern, s.wrapWith(pattern, access, h, mountOptions{write: opt.Write, person: opt.Person, purposeOptional: opt.PurposeOptional}))
}

// ActorFrom is the authenticated actor of a request served by Mount.
func ActorFrom(r *http.Request) registry.Actor { return actorFrom(r) }

// PurposeFrom is the declared purpose of a request served by Mount (""
// on a portal route called with a portal token).
func PurposeFrom(r *http.Request) consent.Purpose { return purposeFrom(r) }

// ProblemFor maps an error of the use cases to the JSON API's status and
// stable code: the one mapping every interface shares.
func ProblemFor(err error) Problem { return problemFor(err) }

// Decode reads one JSON object strictly (unknown fields, trailing data and
// oversize bodies refused with the JSON API's stable codes).
func Decode(r *http.Request, v any) error { return decode(r, v) }

// Allowed lists the methods some route serves for r's path (catch-all
// patterns, which have no method, excluded): a mounted interface's own
// "no such route" answer uses it for 405 and Allow.
func (s *Server) Allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); strings.Contains(pattern, " ") {
			allow = append(allow, m)
		}
	}
	return allow
}
