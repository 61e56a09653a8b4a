package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Web interface sessions. The browser holds a 256-bit random token; the
// store (store.Shared) holds only its keyed MAC (Keyring.MAC, label
// uiSessionLabel: a secret of the key store, the same on every API node and
// never in the data database), so a copy of
// the table cannot be replayed and any node serves the session. A session
// ends after UIIdleTimeout without a request, at sign-out, or when the
// operator is revoked (the interface checks OperatorActor on every
// request); a person's session also ends with the portal session it rides
// on (SessionTTL after the code was given).
//
// The idle clock is the caller's (the interface's clock), passed as now.
const (
	UIIdleTimeout  = 30 * time.Minute
	uiSessionLabel = "ui-session"
	// uiTouchEvery: a session's expiry is moved on at most this often, so
	// that most requests read the session and write nothing.
	uiTouchEvery = time.Minute
)

// UISession is what a web session says about who is signed in.
type UISession struct {
	OperatorID string // an operator's session
	PersonID   string // a person's session (role subject)
	Role       consent.Role
	Purpose    consent.Purpose // the operator's desk; empty until chosen
	// Password: the operator signed in with user name and password (not
	// an API key), so may manage their TOTP second factor.
	Password bool
}

func (r *Registry) uiSessionID(token string) []byte {
	return r.keys.MAC(uiSessionLabel, []byte(token))
}

func newUIToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// StartUISession opens a web session for the operator u.OperatorID (who
// signed in with Authenticate, or AuthenticatePasswordCode when
// u.Password) at desk u.Purpose (may be empty), and returns its token.
func (r *Registry) StartUISession(ctx context.Context, u UISession, now time.Time) (string, error) {
	if u.OperatorID == "" {
		return "", fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	r.pruneShared(ctx)
	token := newUIToken()
	method := "key"
	if u.Password {
		method = "password"
	}
	s := store.Session{ID: r.uiSessionID(token), Kind: kindUI, OperatorID: u.OperatorID, Role: string(u.Role), Purpose: string(u.Purpose),
		Method: method, ExpiresAt: now.Add(UIIdleTimeout)}
	if err := r.store.Update(ctx, func(tx store.Tx) error { return tx.PutSession(ctx, s) }); err != nil {
		return "", err
	}
	return token, nil
}

// StartPortalUISession opens a web session for the person of the portal
// session portalToken (from Login), riding on it: it ends when that one
// does, and ending it ends that one.
func (r *Registry) StartPortalUISession(ctx context.Context, portalToken string, now time.Time) (string, error) {
	a, err := r.AuthenticateSession(ctx, portalToken)
	if err != nil {
		return "", err
	}
	token := newUIToken()
	s := store.Session{ID: r.uiSessionID(token), Kind: kindUI, PersonID: a.PersonID, Parent: r.sessionID(portalToken),
		Role: string(consent.Subject), Method: "code", ExpiresAt: now.Add(UIIdleTimeout)}
	if err := r.store.Update(ctx, func(tx store.Tx) error { return tx.PutSession(ctx, s) }); err != nil {
		return "", err
	}
	return token, nil
}

// UISession returns the live web session of token, or an error wrapping
// ErrUnauthenticated, and moves its idle expiry on.
func (r *Registry) UISession(ctx context.Context, token string, now time.Time) (UISession, error) {
	if token == "" || len(token) > 100 {
		return UISession{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	id := r.uiSessionID(token)
	var s store.Session
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		if s, err = tx.GetSession(ctx, id, now); err != nil || s.Parent == nil {
			return err
		}
		_, err = tx.GetSession(ctx, s.Parent, r.clock())
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Kind != kindUI) {
		return UISession{}, fmt.Errorf("registry: web session unknown or expired: %w", ErrUnauthenticated)
	}
	if err != nil {
		return UISession{}, err
	}
	if s.ExpiresAt.Sub(now) < UIIdleTimeout-uiTouchEvery {
		err := r.updateUISession(ctx, id, now, func(s *store.Session) { s.ExpiresAt = now.Add(UIIdleTimeout) })
		if err != nil {
			return UISession{}, err
		}
	}
	return UISession{OperatorID: s.OperatorID, PersonID: s.PersonID, Role: consent.Role(s.Role), Purpose: consent.Purpose(s.Purpose),
		Password: s.Method == "password"}, nil
}

// updateUISession changes a live session in one transaction; a session
// ended meanwhile (on this node or another) stays ended.
func (r *Registry) updateUISession(ctx context.Context, id []byte, now time.Time, change func(*store.Session)) error {
	return r.store.Update(ctx, func(tx store.Tx) error {
		s, err := tx.GetSession(ctx, id, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		change(&s)
		return tx.PutSession(ctx, s)
	})
}

// SetUISessionPurpose changes the desk of the web session of token. The
// caller has checked that the role may declare p.
func (r *Registry) SetUISessionPurpose(ctx context.Context, token string, p consent.Purpose, now time.Time) error {
	return r.updateUISession(ctx, r.uiSessionID(token), now, func(s *store.Session) { s.Purpose = string(p) })
}

// EndUISession ends the web session of token and, for a person, the portal
// session it rides on.
func (r *Registry) EndUISession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	id := r.uiSessionID(token)
	return r.store.Update(ctx, func(tx store.Tx) error {
		s, err := tx.GetSession(ctx, id, time.Time{})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if s.Parent != nil {
			if err := tx.DeleteSession(ctx, s.Parent); err != nil {
				return err
			}
		}
		return tx.DeleteSession(ctx, id)
	})
}
