package web

import (
	"net/http"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Sessions are kept by the registry in the store, so that every API node
// serves them (registry.UISession). The browser holds a 256-bit random
// token in an HttpOnly, SameSite=Strict cookie; the store keeps only the
// token's keyed MAC, so a copy of the session table cannot be replayed. A
// session ends after IdleTimeout without a request, at sign-out, or when
// the operator is revoked (checked on every request).
const (
	IdleTimeout   = registry.UIIdleTimeout
	sessionCookie = "assent_session"
)

type sessionKind int

const (
	kindOperator sessionKind = iota + 1
	kindSubject
)

// session is what the middleware knows of a signed-in browser.
type session struct {
	kind       sessionKind
	operatorID string          // an operator's session
	password   bool            // the operator signed in with a password (not a key)
	personID   string          // a person's session
	purpose    consent.Purpose // operator's desk; empty until chosen
	role       consent.Role
}

// sessions keeps browser sessions through the registry, on the
// interface's clock (idle timeout).
type sessions struct {
	reg *registry.Registry
	now func() time.Time
}

func newSessions(reg *registry.Registry, now func() time.Time) *sessions {
	return &sessions{reg: reg, now: now}
}

func (ss *sessions) setCookie(w http.ResponseWriter, secure bool, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// startOperator opens an operator's session and sets its cookie.
func (ss *sessions) startOperator(w http.ResponseWriter, r *http.Request, secure bool, u registry.UISession) error {
	token, err := ss.reg.StartUISession(r.Context(), u, ss.now())
	if err != nil {
		return err
	}
	ss.setCookie(w, secure, token)
	return nil
}

// startSubject opens a person's session on their portal token and sets its
// cookie.
func (ss *sessions) startSubject(w http.ResponseWriter, r *http.Request, secure bool, portalToken string) error {
	token, err := ss.reg.StartPortalUISession(r.Context(), portalToken, ss.now())
	if err != nil {
		return err
	}
	ss.setCookie(w, secure, token)
	return nil
}

// get returns the live session of r, or nil; it moves the idle clock on.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	u, err := ss.reg.UISession(r.Context(), c.Value, ss.now())
	if err != nil {
		return nil
	}
	s := &session{operatorID: u.OperatorID, personID: u.PersonID, purpose: u.Purpose, role: u.Role, password: u.Password, kind: kindOperator}
	if u.OperatorID == "" {
		s.kind = kindSubject
	}
	return s
}

// setPurpose changes the desk of r's session.
func (ss *sessions) setPurpose(r *http.Request, p consent.Purpose) error {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return ss.reg.SetUISessionPurpose(r.Context(), c.Value, p, ss.now())
}

// drop ends r's session and clears its cookie.
func (ss *sessions) drop(w http.ResponseWriter, r *http.Request, secure bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = ss.reg.EndUISession(r.Context(), c.Value) // the cookie goes anyway; the row dies at its expiry
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}
