package web

import (
	"html/template"
	"net/http"

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
}

func (s *Server) totpForm(q *req) error {
	return s.totpRender(q, http.StatusOK, nil, "")
}

// totpRender shows the page with secret (a new one when nil).
func (s *Server) totpRender(q *req, status int, secret []byte, errKey string) error {
	p := totpPage{Password: q.sess.password, Error: errKey}
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
		return s.totpRender(q, http.StatusForbidden, nil, "")
	}
	secret, err := totp.DecodeSecret(q.PostFormValue("secret"))
	if err != nil {
		return s.totpRender(q, http.StatusUnprocessableEntity, nil, "totp.bad_code")
	}
	if err := s.reg.EnableTOTP(q.Context(), q.actor, secret, q.PostFormValue("code")); err != nil {
		if _, _, ok := problemOf(err); ok {
			return s.totpRender(q, http.StatusUnprocessableEntity, secret, "totp.bad_code")
		}
		return err
	}
	s.render(q, http.StatusOK, "totp", totpPage{Password: true, Enabled: true, Done: true})
	return nil
}

// resetTOTP turns an operator's TOTP off (admins, a lost device).
func (s *Server) resetTOTP(q *req) error {
	if err := s.reg.ResetOperatorTOTP(q.Context(), q.actor, q.PostFormValue("id")); err != nil {
		return s.adminFail(q, err)
	}
	http.Redirect(q.w, q.Request, "/ui/admin?totp=reset", http.StatusSeeOther)
	return nil
}
