// Package web serves Assent's web interface: server-rendered html/template
// pages (htmx only enhances; every form works as a plain post), for the
// operators at /ui/ and for the person at /portal. It translates requests
// into the registry's use cases and their results into pages: it decides no
// policy and touches no store, so every personal-data page view passes the
// registry's one gate with the desk's purpose and leaves its audit entry.
//
// A Server is an http.Handler safe for concurrent use. Requests outside the
// UI (the JSON API, /healthz, ...) go to the handler given in Options.API.
package web

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the web interface.
type Options struct {
	Logger *slog.Logger
	// API serves every request that is not the UI's; nil answers 404.
	API http.Handler
	// Secure marks cookies Secure (set it when served over TLS).
	Secure bool
	// Clock is time.Now when nil (sessions' idle timeout).
	Clock func() time.Time
}

// Access is what a UI route needs before its handler runs.
type Access int

const (
	Public   Access = iota // no session (login pages, static files)
	Operator               // a signed-in operator, no personal data
	Personal               // a signed-in operator with a desk (purpose): reads or writes personal data
	Subject                // the person signed in to the portal
)

// Route is one registered UI route, kept for tests and docs.
type Route struct {
	Pattern string
	Access  Access
}

// Server is the web interface.
type Server struct {
	reg      *registry.Registry
	api      http.Handler
	log      *slog.Logger
	secure   bool
	now      func() time.Time
	mux      *http.ServeMux
	handler  http.Handler
	routes   []Route
	pages    map[string]*template.Template
	cat      *catalogue
	notices  *notices
	sessions *sessions
}

// New builds the web interface over reg.
func New(reg *registry.Registry, opt Options) (*Server, error) {
	s := &Server{reg: reg, api: opt.API, log: opt.Logger, secure: opt.Secure, now: opt.Clock, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.api == nil {
		s.api = http.NotFoundHandler()
	}
	var err error
	if s.cat, err = loadCatalogue(); err != nil {
		return nil, err
	}
	if s.notices, err = loadNotices(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.sessions = newSessions(reg, s.now)
	s.registerRoutes()
	s.handler = http.NewCrossOriginProtection().Handler(s.mux)
	return s, nil
}

// Routes lists every registered UI route.
func (s *Server) Routes() []Route { return s.routes }

// ServeHTTP implements http.Handler: UI paths here, the rest to the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/" || p == "/portal" || strings.HasPrefix(p, "/ui/") || p == "/ui" || strings.HasPrefix(p, "/portal/") || strings.HasPrefix(p, "/static/") {
		s.handler.ServeHTTP(w, r)
		return
	}
	s.api.ServeHTTP(w, r)
}

// registerRoutes is the one list of every UI route.
func (s *Server) registerRoutes() {
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	s.routes = append(s.routes, Route{Pattern: "GET /{$}", Access: Public})
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	s.routes = append(s.routes, Route{Pattern: "GET /static/", Access: Public})

	s.handle("GET /ui/{$}", Operator, s.home)
	s.handle("GET /ui/login", Public, s.loginForm)
	s.handle("POST /ui/login", Public, s.login)
	s.handle("POST /ui/logout", Public, s.logout)
	s.handle("GET /ui/desk", Operator, s.deskForm)
	s.handle("POST /ui/desk", Operator, s.chooseDesk)
	s.handle("GET /ui/totp", Operator, s.totpForm)
	s.handle("POST /ui/totp", Operator, s.enableTOTP)
	s.handle("POST /ui/totp/off", Operator, s.disableTOTP)
	s.handle("POST /ui/admin/keys/totp-reset", Operator, s.resetTOTP)

	s.handle("GET /ui/find", Personal, s.findForm)
	s.handle("POST /ui/find", Personal, s.find)
	s.handle("GET /ui/persons/{id}", Personal, s.person)
	s.handle("GET /ui/register", Personal, s.registerForm)
	s.handle("POST /ui/register", Personal, s.registerConfirm)
	s.handle("POST /ui/register/confirm", Personal, s.register)
	s.handle("GET /ui/persons/{id}/exams", Personal, s.exams)
	s.handle("POST /ui/persons/{id}/exams", Personal, s.recordExam)
	s.handle("GET /ui/persons/{id}/capture", Personal, s.captureForm)
	s.handle("POST /ui/persons/{id}/capture", Personal, s.capture)
	s.handle("GET /ui/verify", Personal, s.verifyForm)
	s.handle("POST /ui/verify", Personal, s.verify)
	s.handle("GET /ui/cases", Personal, s.cases)
	s.handle("GET /ui/cases/{id}", Personal, s.caseDetail)
	s.handle("POST /ui/cases/{id}/decision", Personal, s.decideCase)
	s.handle("GET /ui/audit", Operator, s.audit)
	s.handle("GET /ui/reports", Operator, s.reports)
	s.handle("GET /ui/admin", Operator, s.admin)
	s.handle("POST /ui/admin/sites", Operator, s.createSite)
	s.handle("POST /ui/admin/keys", Operator, s.createKey)
	s.handle("POST /ui/admin/keys/revoke", Operator, s.revokeKey)
	s.handle("POST /ui/admin/keys/password", Operator, s.setPassword)
	s.handle("GET /ui/households/new", Personal, s.householdForm)
	s.handle("POST /ui/households", Personal, s.createHousehold)
	s.handle("GET /ui/households/{id}", Personal, s.household)
	s.handle("POST /ui/households/{id}/members", Personal, s.moveMember)
	s.handle("POST /ui/households/{id}/head", Personal, s.changeHead)
	s.handle("POST /ui/households/{id}/split", Personal, s.splitHousehold)

	s.handle("GET /portal", Public, s.portalForm)
	s.handle("POST /portal", Public, s.portalLogin)
	s.handle("GET /portal/me", Subject, s.portalMe)
	s.handle("GET /portal/access-log.json", Subject, s.portalAccessLog)
	s.handle("POST /portal/withdraw", Subject, s.withdrawConfirm)
	s.handle("POST /portal/withdraw/confirm", Subject, s.withdraw)
	s.handle("POST /portal/logout", Public, s.portalLogout)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// req is what the middleware found about a request.
type req struct {
	*http.Request
	w       http.ResponseWriter
	nonce   string
	loc     *locale
	sess    *session
	actor   registry.Actor
	purpose consent.Purpose
	pattern string
}

func newNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// handle registers pattern behind the middleware its access level needs:
// security headers with a fresh CSP nonce, the language, and the session.
func (s *Server) handle(pattern string, access Access, h func(*req) error) {
	s.routes = append(s.routes, Route{Pattern: pattern, Access: access})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		q := &req{Request: r, w: w, nonce: newNonce(), pattern: pattern}
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+q.nonce+"'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
		q.loc = s.cat.pick(s.languageOf(w, r))
		q.sess = s.sessions.get(r)
		switch access {
		case Operator, Personal:
			if q.sess == nil || q.sess.kind != kindOperator {
				http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
				return
			}
			a, err := s.reg.OperatorActor(r.Context(), q.sess.operatorID)
			if err != nil { // revoked since sign-in
				s.sessions.drop(w, r, s.secure)
				http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
				return
			}
			a.Route = "UI " + pattern
			q.actor = a
			q.purpose = q.sess.purpose
			if access == Personal && q.purpose == "" {
				http.Redirect(w, r, "/ui/desk", http.StatusSeeOther)
				return
			}
		case Subject:
			if q.sess == nil || q.sess.kind != kindSubject {
				http.Redirect(w, r, "/portal", http.StatusSeeOther)
				return
			}
			// The session rides on a live portal session (checked by get).
			a := registry.Actor{Role: consent.Subject, PersonID: q.sess.personID}
			a.Route = "UI " + pattern
			q.actor = a
		}
		if err := h(q); err != nil {
			s.fail(q, err)
		}
	})
}

// fail shows err as a page: a registry refusal or input error with its
// stable code and a translated message; anything else as an internal error
// (logged with the route, never with personal data).
func (s *Server) fail(q *req, err error) {
	var in *registry.InputError
	var den *registry.DeniedError
	status, code := http.StatusInternalServerError, "internal_error"
	switch {
	case errors.As(err, &in):
		status, code = http.StatusUnprocessableEntity, in.Code
	case errors.As(err, &den):
		status, code = http.StatusForbidden, den.Reason
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrErased):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, registry.ErrLocked):
		status, code = http.StatusTooManyRequests, "locked"
	case errors.Is(err, registry.ErrUnauthenticated):
		status, code = http.StatusUnauthorized, "unauthenticated"
	default:
		s.log.ErrorContext(q.Context(), "web page failed", "route", q.pattern, "err", err)
	}
	field := ""
	if in != nil {
		field = in.Field
	}
	s.render(q, status, "error", errorPage{Code: code, Field: field})
}

type errorPage struct {
	Code  string
	Field string
}

// problemOf returns the stable code and field of a registry error a form
// shows beside its inputs; ok is false for errors that are not the input's.
func problemOf(err error) (code, field string, ok bool) {
	var in *registry.InputError
	if errors.As(err, &in) {
		return in.Code, in.Field, true
	}
	return "", "", false
}
