package web

import (
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/registry"

	"github.com/assent-registry/assent/internal/totp"
)

// The TOTP second factor of password sign-in: the page shows a fresh
// secret once (base32 and a QR of its otpauth:// URI) and turns TOTP on
// when the first code of the operator's app is right.

type totpPage struct {
	Enabled  bool // already on (a new secret replaces the old one)
	Done     bool // just turned on
	Secret   string
	URI      string
	QR       template.HTML
	Error    string // catalogue key
	Password bool   // the session was opened with a password
	Off      bool   // just turned off
	// OffError (a catalogue key) and OffCode (the stable code) explain a
	// refused "turn off".
	OffError, OffCode string
}

func (s *Server) totpForm(q *req) error {
	return s.totpRender(q, http.StatusOK, nil, totpPage{})
}

// totpRender shows the page p with secret (a new one when nil).
func (s *Server) totpRender(q *req, status int, secret []byte, p totpPage) error {
	p.Password = q.sess.password
	if !p.Password {
		s.render(q, http.StatusForbidden, "totp", p)
		return nil
	}
	on, err := s.reg.TOTPEnabled(q.Context(), q.actor)
	if err != nil {
		return err
	}
	p.Enabled = on
	sec, uri, err := s.reg.BeginTOTP(q.Context(), q.actor, secret)
	if err != nil {
		return err
	}
	p.Secret, p.URI = totp.EncodeSecret(sec), uri
	if p.QR, err = qrSVG(uri); err != nil {
		return err
	}
	s.render(q, status, "totp", p)
	return nil
}

// enableTOTP checks the first code of the secret shown and turns TOTP on.
func (s *Server) enableTOTP(q *req) error {
	if !q.sess.password {
		return s.totpRender(q, http.StatusForbidden, nil, totpPage{})
	}
	secret, err := totp.DecodeSecret(q.PostFormValue("secret"))
	if err != nil {
		return s.totpRender(q, http.StatusUnprocessableEntity, nil, totpPage{Error: "totp.bad_code"})
	}
	if err := s.reg.EnableTOTP(q.Context(), q.actor, secret, q.PostFormValue("code")); err != nil {
		if _, _, ok := problemOf(err); ok {
			return s.totpRender(q, http.StatusUnprocessableEntity, secret, totpPage{Error: "totp.bad_code"})
		}
		return err
	}
	s.render(q, http.StatusOK, "totp", totpPage{Password: true, Enabled: true, Done: true})
	return nil
}

// disableTOTP turns the operator's own TOTP off once they have typed their
// password and a current code again (the registry checks both, counts
// failures toward the user name's lock, and audits the change).
func (s *Server) disableTOTP(q *req) error {
	if !q.sess.password {
		return s.totpRender(q, http.StatusForbidden, nil, totpPage{})
	}
	err := s.reg.DisableTOTP(q.Context(), q.actor, q.PostFormValue("password"), strings.TrimSpace(q.PostFormValue("code")), clientAddr(q.Request))
	switch {
	case err == nil:
		s.render(q, http.StatusOK, "totp", totpPage{Password: true, Off: true})
		return nil
	case isLocked(err):
		return s.totpRender(q, http.StatusTooManyRequests, nil, totpPage{OffError: "err.locked", OffCode: "locked"})
	case isUnauthenticated(err), errors.Is(err, registry.ErrCodeRequired):
		return s.totpRender(q, http.StatusUnauthorized, nil, totpPage{OffError: "totp.off_failed", OffCode: "unauthenticated"})
	}
	if _, _, ok := problemOf(err); ok { // already off
		return s.totpRender(q, http.StatusUnprocessableEntity, nil, totpPage{OffError: "totp.off_not_on", OffCode: "invalid_value"})
	}
	return err
}

// resetTOTP turns an operator's TOTP off (admins, a lost device).
func (s *Server) resetTOTP(q *req) error {
	if err := s.reg.ResetOperatorTOTP(q.Context(), q.actor, q.PostFormValue("id")); err != nil {
		return s.adminFail(q, err)
	}
	http.Redirect(q.w, q.Request, "/ui/admin?totp=reset", http.StatusSeeOther)
	return nil
}
