package registry

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
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
// apply, counted in the store so that every API node enforces them.
//
// The session is a row in the store (store.Shared) keyed by the MAC of a
// 256-bit random token, written in the transaction of the login's audit
// event, so any API node over the same database accepts it at once.
func (r *Registry) Login(ctx context.Context, personID, code, client string) (Session, error) {
	now := r.clock()
	if personID == "" {
		return Session{}, missing("person_id")
	}
	if code == "" {
		return Session{}, missing("code")
	}
	r.pruneShared(ctx)
	a := access{actor: Actor{Role: consent.Subject, PersonID: personID, Route: "POST /v1/portal/login"}, persons: nil, categories: []consent.Category{}, action: "login"}
	personKey, pairKey := r.counterKey(ctrPerson, personID), r.counterKey(ctrPair, personID, client)
	var within, locked bool
	err := r.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if within, err = hit(ctx, tx, r.counterKey(ctrClient, client), now, clientWindow, maxPerClient); err != nil || !within {
			return err
		}
		locked, err = lockedAt(ctx, tx, now, personKey, pairKey)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	if !within {
		return Session{}, fmt.Errorf("registry: login: %w", ErrLocked)
	}
	if locked {
		_ = r.store.Update(ctx, func(tx store.Tx) error { return r.appendAudit(ctx, tx, a, personID, false, "locked") })
		return Session{}, fmt.Errorf("registry: login: %w", ErrLocked)
	}
	var p store.Person
	err = r.store.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.GetPerson(ctx, personID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Session{}, err
	}
	want := r.keys.MAC(portalLabel, []byte(personID+"\x00"+strings.ToUpper(strings.TrimSpace(code))))
	if err != nil || p.Status != store.StatusActive || !hmac.Equal(want, p.PortalCodeMAC) {
		if err == nil {
			// Counted and audited together; if that fails, the attempt
			// fails with it rather than go uncounted.
			err := r.store.Update(ctx, func(tx store.Tx) error {
				if p.Status == store.StatusActive {
					// Only a real person's failures count against them.
					if _, err := fail(ctx, tx, personKey, now, lockout, maxPersonFailures, lockout); err != nil {
						return err
					}
					if _, err := fail(ctx, tx, pairKey, now, lockout, maxPairFailures, lockout); err != nil {
						return err
					}
				}
				return r.appendAudit(ctx, tx, a, personID, false, "bad_code")
			})
			if err != nil {
				return Session{}, err
			}
		}
		return Session{}, fmt.Errorf("registry: login: %w", ErrUnauthenticated)
	}
	token := sessionPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	exp := now.Add(SessionTTL)
	err = r.store.Update(ctx, func(tx store.Tx) error {
		// A good code proves this client knows it; failures from
		// elsewhere still count.
		if err := tx.DeleteCounter(ctx, pairKey); err != nil {
			return err
		}
		if err := tx.PutSession(ctx, store.Session{ID: r.sessionID(token), Kind: kindPortal, PersonID: personID,
			Role: string(consent.Subject), Method: "code", ExpiresAt: exp}); err != nil {
			return err
		}
		return r.appendAudit(ctx, tx, a, personID, true, "")
	})
	if err != nil {
		return Session{}, err
	}
	r.notifyAudit()
	return Session{Token: token, ExpiresAt: exp, PersonID: personID}, nil
}

// Session kinds in the store.
const (
	kindPortal = "portal"
	kindUI     = "ui"
)

// sessionID is the stored id of a portal session token.
func (r *Registry) sessionID(token string) []byte { return r.keys.MAC(sessionLabel, []byte(token)) }

// IsSessionToken tells a portal token from an API key.
func IsSessionToken(s string) bool { return strings.HasPrefix(s, sessionPrefix) }

// AuthenticateSession checks a portal token against the sessions in the
// store and returns the subject actor.
func (r *Registry) AuthenticateSession(ctx context.Context, token string) (Actor, error) {
	if !IsSessionToken(token) || len(token) > 100 {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	var s store.Session
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = tx.GetSession(ctx, r.sessionID(token), r.clock())
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Kind != kindPortal) {
		return Actor{}, fmt.Errorf("registry: session unknown or expired: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Actor{}, err
	}
	return Actor{Role: consent.Subject, PersonID: s.PersonID}, nil
}
