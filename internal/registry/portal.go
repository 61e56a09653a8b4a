package registry

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Portal sessions: a person logs in with the code printed on their consent
// receipt and gets a short-lived bearer token scoped to themself. Attempts
// are limited (limits.go).
const (
	sessionLabel  = "portal-session"
	sessionPrefix = "subject."
	SessionTTL    = 15 * time.Minute
)

// ErrLocked is returned while a person's portal is locked after repeated
// failures, or a client made too many attempts.
var ErrLocked = errors.New("too many attempts; try later")

// Session is a portal login result.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	PersonID  string    `json:"person_id"`
}

// Login checks a person's receipt code and opens a portal session. Every
// attempt on an existing person, good or bad, is an audit event the person
// can later see. Codes are compared as HMACs with hmac.Equal. client is the
// address of the client as the HTTP layer established it (a trusted
// proxy's X-Forwarded-For, else the peer address); the limits of limits.go
// apply.
func (r *Registry) Login(ctx context.Context, personID, code, client string) (Session, error) {
	now := r.clock()
	if personID == "" {
		return Session{}, missing("person_id")
	}
	if code == "" {
		return Session{}, missing("code")
	}
	if !r.limits.attempt(client, now) {
		return Session{}, fmt.Errorf("registry: login: %w", ErrLocked)
	}
	a := access{actor: Actor{Role: consent.Subject, PersonID: personID, Route: "POST /v1/portal/login"}, persons: nil, categories: []consent.Category{}, action: "login"}
	outcome := func(reason string) error {
		return r.store.Update(ctx, func(tx store.Tx) error {
			return r.appendAudit(ctx, tx, a, personID, reason == "", reason)
		})
	}
	if r.limits.locked(personID, client, now) {
		_ = outcome("locked")
		return Session{}, fmt.Errorf("registry: login: %w", ErrLocked)
	}
	var p store.Person
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.GetPerson(ctx, personID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, err
	}
	want := r.keys.MAC(portalLabel, []byte(personID+"\x00"+strings.ToUpper(strings.TrimSpace(code))))
	if err != nil || p.Status != store.StatusActive || !hmac.Equal(want, p.PortalCodeMAC) {
		if err == nil && p.Status == store.StatusActive {
			// Only a real person's failures count against them.
			r.limits.failure(personID, client, now)
		}
		if err == nil {
			_ = outcome("bad_code")
		}
		return Session{}, fmt.Errorf("registry: login: %w", ErrUnauthenticated)
	}
	r.limits.success(personID, client)
	if err := outcome(""); err != nil {
		return Session{}, err
	}
	r.notifyAudit()
	exp := now.Add(SessionTTL)
	return Session{Token: r.sessionToken(personID, exp), ExpiresAt: exp, PersonID: personID}, nil
}

func (r *Registry) sessionToken(personID string, exp time.Time) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(exp.Unix()))
	payload = append(payload, personID...)
	mac := r.keys.MAC(sessionLabel, payload)
	return sessionPrefix + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// IsSessionToken tells a portal token from an API key.
func IsSessionToken(s string) bool { return strings.HasPrefix(s, sessionPrefix) }

// AuthenticateSession checks a portal token and returns the subject actor.
func (r *Registry) AuthenticateSession(token string) (Actor, error) {
	body, ok := strings.CutPrefix(token, sessionPrefix)
	p64, m64, ok2 := strings.Cut(body, ".")
	if !ok || !ok2 {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || len(payload) < 9 || !hmac.Equal(mac, r.keys.MAC(sessionLabel, payload)) {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0)
	if !r.clock().Before(exp) {
		return Actor{}, fmt.Errorf("registry: session expired: %w", ErrUnauthenticated)
	}
	return Actor{Role: consent.Subject, PersonID: string(payload[8:])}, nil
}
