package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

// Sessions are kept on the server. The browser holds a 256-bit random token
// in an HttpOnly, SameSite=Strict cookie; the server keeps only the token's
// HMAC (under a key made at start and never stored), so a copy of the
// session table cannot be replayed. A session ends after IdleTimeout
// without a request, at sign-out, or when its key is revoked.
const (
	IdleTimeout   = 30 * time.Minute
	sessionCookie = "assent_session"
	maxSessions   = 100000
)

type sessionKind int

const (
	kindOperator sessionKind = iota + 1
	kindSubject
)

type session struct {
	kind sessionKind
	// key is what authenticates every request again: the operator's API key
	// (so a revocation takes effect at once) or the registry's portal token;
	// an operator signed in with a password has operatorID instead.
	key        string
	operatorID string
	user       string          // the user name of a password sign-in (re-authentication)
	purpose    consent.Purpose // operator's desk; empty until chosen
	role       consent.Role
	lastSeen   time.Time
}

type sessions struct {
	mu  sync.Mutex
	mac []byte
	m   map[string]*session
	now func() time.Time
}

func newSessions(now func() time.Time) *sessions {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return &sessions{mac: k, m: map[string]*session{}, now: now}
}

func (ss *sessions) id(token string) string {
	h := hmac.New(sha256.New, ss.mac)
	h.Write([]byte(token))
	return string(h.Sum(nil))
}

// start opens a session and sets its cookie.
func (ss *sessions) start(w http.ResponseWriter, secure bool, s *session) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := ss.now()
	s.lastSeen = now
	ss.mu.Lock()
	if len(ss.m) >= maxSessions {
		for k, v := range ss.m {
			if now.Sub(v.lastSeen) > IdleTimeout {
				delete(ss.m, k)
			}
		}
	}
	ss.m[ss.id(token)] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// get returns the live session of r, or nil; it refreshes the idle clock.
// The caller may change the session's fields under update only.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	id := ss.id(c.Value)
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	if now.Sub(s.lastSeen) > IdleTimeout {
		delete(ss.m, id)
		return nil
	}
	s.lastSeen = now
	cp := *s
	return &cp
}

// setPurpose changes the desk of r's session.
func (ss *sessions) setPurpose(r *http.Request, p consent.Purpose) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return
	}
	ss.mu.Lock()
	if s := ss.m[ss.id(c.Value)]; s != nil {
		s.purpose = p
	}
	ss.mu.Unlock()
}

// drop ends r's session and clears its cookie.
func (ss *sessions) drop(w http.ResponseWriter, r *http.Request, secure bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.m, ss.id(c.Value))
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}
