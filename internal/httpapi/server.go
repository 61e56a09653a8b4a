// Package httpapi serves the Assent HTTP API: routes, authentication, the
// Assent-Purpose header, strict JSON, problem+json errors, metrics and the
// OpenAPI document. It depends on the registry's use cases only, never on a
// concrete store.
package httpapi

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI 3 document.
func OpenAPI() []byte { return openAPIDoc }

// Options configure the server.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a new one
	// SeparateMetrics keeps /metrics off the API's address; the caller
	// serves MetricsHandler on an address of its own (serve --metrics-addr).
	SeparateMetrics bool
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For names the client (serve --trusted-proxy; portal login
	// limits are keyed on the client). From any other peer the header is
	// ignored; empty: the connection's peer is the client.
	TrustedProxies []netip.Prefix
}

// Server is the HTTP API. It is an http.Handler safe for concurrent use.
type Server struct {
	reg     *registry.Registry
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	routes  []Route
	proxies []netip.Prefix

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	prom     *prometheus.Registry

	separateMetrics bool
}

// Access is what a route needs before its handler runs.
type Access int

const (
	Public   Access = iota // no key (healthz, openapi, receipts key, portal login)
	Operator               // any valid key, no personal data
	Personal               // a valid key and an Assent-Purpose header
	Portal                 // personal data the subject reaches through the portal: a key or a portal token; purpose optional
)

// Route is one registered route, kept for tests and docs.
type Route struct {
	Pattern string
	Access  Access
}

// New builds the server.
func New(reg *registry.Registry, opt Options) *Server {
	s := &Server{reg: reg, log: opt.Logger, mux: http.NewServeMux(), prom: opt.Registry, separateMetrics: opt.SeparateMetrics, proxies: opt.TrustedProxies}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.prom == nil {
		s.prom = prometheus.NewRegistry()
		s.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "assent_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "assent_http_request_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"})
	s.prom.MustRegister(s.requests, s.latency)
	s.registerRoutes()
	s.mux.Handle("/", http.HandlerFunc(s.noRoute))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, s.log, probErr(http.StatusForbidden, CodeCrossOrigin, "cross-origin requests that change state are refused"))
	}))
	s.handler = securityHeaders(cop.Handler(s.mux))
	return s
}

// MetricsHandler serves the Prometheus metrics (with the security headers).
func (s *Server) MetricsHandler() http.Handler {
	return securityHeaders(promhttp.HandlerFor(s.prom, promhttp.HandlerOpts{}))
}

// Routes lists every registered route.
func (s *Server) Routes() []Route { return s.routes }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// registerRoutes is the one list of every route of the API.
func (s *Server) registerRoutes() {
	s.handle("GET /healthz", Public, s.healthz)
	s.handle("GET /openapi.json", Public, s.openapi)
	if !s.separateMetrics {
		s.mux.Handle("GET /metrics", s.MetricsHandler())
		s.routes = append(s.routes, Route{Pattern: "GET /metrics", Access: Public})
	}

	s.handle("POST /v1/sites", Operator, s.createSite)
	s.handle("GET /v1/sites", Public, s.listSites)
	s.handle("PUT /v1/areas/{code}", Operator, s.putArea)
	s.handle("GET /v1/areas", Operator, s.listAreas)
	s.handle("GET /v1/reports/coverage", Operator, s.coverageReport)
	s.handle("GET /v1/reports/consent", Operator, s.consentReport)
	s.handle("GET /v1/reports/exclusion", Operator, s.exclusionReport)
	s.handle("GET /v1/reports/register", Operator, s.registerReport)

	s.handle("POST /v1/households", Personal, s.createHousehold)
	s.handle("GET /v1/households/{id}", Personal, s.getHousehold)
	s.handle("POST /v1/households/{id}/members", Personal, s.addMember)
	s.handle("PUT /v1/households/{id}/head", Personal, s.changeHead)
	s.handle("POST /v1/households/{id}/split", Personal, s.splitHousehold)

	s.handle("POST /v1/persons", Personal, s.createPerson)
	s.handle("POST /v1/persons/search", Personal, s.findPersons)
	s.handle("GET /v1/persons/{id}", Personal, s.getPerson)
	s.handle("PATCH /v1/persons/{id}", Personal, s.updatePerson)
	s.handle("GET /v1/persons/{id}/history", Personal, s.personHistory)
	s.handle("GET /v1/persons/{id}/access-log", Portal, s.accessLog)
	s.handle("GET /v1/persons/{id}/export", Portal, s.exportPerson)
	s.handle("POST /v1/persons/{id}/consents", Portal, s.recordConsent)
	s.handle("GET /v1/persons/{id}/consents", Portal, s.listConsents)
	s.handle("POST /v1/persons/{id}/exams", Personal, s.recordExam)
	s.handle("GET /v1/persons/{id}/exams", Personal, s.listExams)
	s.handle("POST /v1/persons/{id}/specimens", Personal, s.addSpecimen)
	s.handle("GET /v1/persons/{id}/specimens", Personal, s.listSpecimens)
	s.handle("POST /v1/persons/{id}/specimens/{sid}/events", Personal, s.addCustody)
	s.handle("POST /v1/persons/{id}/biometrics", Personal, s.enrolBiometric)
	s.handle("POST /v1/verify", Personal, s.verify)
	s.handle("GET /v1/cases", Personal, s.listCases)
	s.handle("GET /v1/cases/{id}", Personal, s.getCase)
	s.handle("POST /v1/cases/{id}/decision", Personal, s.decideCase)
	s.handle("GET /v1/receipts/key", Public, s.receiptKey)
	s.handle("POST /v1/receipts/render", Public, s.renderReceipt)
	s.handle("GET /v1/stats/consent", Operator, s.consentStats)

	s.handle("POST /v1/portal/login", Public, s.portalLogin)

	s.handle("GET /v1/audit/checkpoint", Public, s.auditCheckpoint)
	s.handle("GET /v1/audit/key", Public, s.auditKey)
	s.handle("GET /v1/audit/proof/inclusion", Public, s.inclusionProof)
	s.handle("GET /v1/audit/proof/consistency", Public, s.consistencyProof)
	s.handle("GET /v1/audit/events", Operator, s.auditEvents)
	s.handle("GET /v1/audit/stats", Operator, s.auditStats)
}

// handle registers pattern behind the middleware its access level needs.
func (s *Server) handle(pattern string, access Access, h func(http.ResponseWriter, *http.Request) error) {
	s.routes = append(s.routes, Route{Pattern: pattern, Access: access})
	s.mux.Handle(pattern, s.wrap(pattern, access, h))
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyActor
	keyPurpose
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

func actorFrom(r *http.Request) registry.Actor {
	a, _ := r.Context().Value(keyActor).(registry.Actor)
	return a
}

func purposeFrom(r *http.Request) consent.Purpose {
	p, _ := r.Context().Value(keyPurpose).(consent.Purpose)
	return p
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wrap is the middleware chain: request id, panic recovery, metrics and an
// access log line (route, status, duration: never a body, name or key),
// body cap, authentication and the purpose header.
func (s *Server) wrap(pattern string, access Access, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return s.wrapWith(pattern, access, h, mountOptions{})
}

// wrapWith is wrap with the error writer and person of a mounted route
// (mount.go); the zero mountOptions is the JSON API's.
func (s *Server) wrapWith(pattern string, access Access, h func(http.ResponseWriter, *http.Request) error, mo mountOptions) http.Handler {
	writeProblem := mo.problemWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := newRequestID()
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		rec.Header().Set("X-Request-Id", rid)
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(ctx, "panic in handler", "route", pattern, "request_id", rid, "panic", v)
				if rec.status == 0 {
					writeProblem(rec, r, s.log, errInternal)
				}
			}
			st := rec.status
			if st == 0 {
				st = http.StatusOK
			}
			s.requests.WithLabelValues(pattern, strconv.Itoa(st)).Inc()
			s.latency.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
			s.log.InfoContext(ctx, "http", "route", pattern, "status", st, "ms", time.Since(start).Milliseconds(), "request_id", rid)
		}()
		limit := int64(MaxBodyBytes)
		if pattern == "POST /v1/persons/{id}/biometrics" || pattern == "POST /v1/verify" {
			limit = MaxCaptureBodyBytes
		}
		r.Body = http.MaxBytesReader(rec, r.Body, limit)
		if access != Public {
			actor, err := s.authenticate(r)
			if err != nil {
				writeProblem(rec, r, s.log, err)
				return
			}
			// A person route takes the person number as well as the id:
			// the use case below decides and audits under the id.
			if strings.Contains(pattern, " /v1/persons/{id}") {
				id, err := s.reg.ResolvePerson(ctx, r.PathValue("id"))
				if err != nil {
					writeProblem(rec, r, s.log, err)
					return
				}
				r.SetPathValue("id", id)
			}
			refuse := func(err error, reason string) {
				if access == Personal || access == Portal {
					pid := ""
					if strings.Contains(pattern, " /v1/persons/{id}") {
						pid = r.PathValue("id")
					}
					if mo.person != nil {
						pid = mo.person(r)
					}
					if aerr := s.reg.RecordRefusal(ctx, actor, r.Header.Get("Assent-Purpose"), pid, reason); aerr != nil {
						writeProblem(rec, r, s.log, aerr)
						return
					}
				}
				writeProblem(rec, r, s.log, err)
			}
			if actor.Role == consent.Subject && access != Portal {
				refuse(&registry.DeniedError{Reason: string(consent.ReasonRoleNotAllowed)}, string(consent.ReasonRoleNotAllowed))
				return
			}
			actor.RequestID, actor.Route = rid, pattern
			ctx = context.WithValue(ctx, keyActor, actor)
			if access == Personal || (access == Portal && actor.Role != consent.Subject) {
				p := r.Header.Get("Assent-Purpose")
				if p == "" && mo.purposeOptional != nil && mo.purposeOptional(actor) {
					r = r.WithContext(ctx)
					if err := h(rec, r); err != nil {
						writeProblem(rec, r, s.log, err)
					}
					return
				}
				if p == "" {
					refuse(probErr(http.StatusBadRequest, CodePurposeRequired, "this route reads or writes personal data: declare the purpose in the Assent-Purpose header"), CodePurposeRequired)
					return
				}
				if !consent.Purpose(p).Valid() {
					refuse(probErr(http.StatusBadRequest, CodeInvalidPurpose, "Assent-Purpose must be one of registration, care, verification, deduplication, research"), CodeInvalidPurpose)
					return
				}
				ctx = context.WithValue(ctx, keyPurpose, consent.Purpose(p))
			}
			r = r.WithContext(ctx)
		}
		if err := h(rec, r); err != nil {
			writeProblem(rec, r, s.log, err)
		}
	})
}

var errInternal = &Problem{Status: http.StatusInternalServerError, Code: CodeInternal, Title: "Internal Server Error", Type: "https://assent.example/problems/internal_error"}

func probErr(status int, code, detail string) error {
	p := newProblem(status, code, detail, "")
	return &p
}

func (s *Server) authenticate(r *http.Request) (registry.Actor, error) {
	h := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return registry.Actor{}, registry.ErrUnauthenticated
	}
	if registry.IsSessionToken(key) {
		return s.reg.AuthenticateSession(r.Context(), key)
	}
	return s.reg.Authenticate(r.Context(), key)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDoc)
	return err
}
