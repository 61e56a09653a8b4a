package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

type loginPage struct {
	Failed  bool
	Locked  bool
	AskCode bool // the password was right; TOTP is on (totp_handlers.go)
	User    string
}

func (s *Server) loginForm(q *req) error {
	s.render(q, http.StatusOK, "login", loginPage{})
	return nil
}

// login signs an operator in with a user name and password, or with
// their API key (input "key", for automation).
func (s *Server) login(q *req) error {
	key := strings.TrimSpace(q.PostFormValue("key"))
	user := strings.TrimSpace(q.PostFormValue("user"))
	var a registry.Actor
	var err error
	if key != "" {
		a, err = s.reg.Authenticate(q.Context(), key)
	} else {
		a, err = s.reg.AuthenticatePasswordCode(q.Context(), user, q.PostFormValue("password"), strings.TrimSpace(q.PostFormValue("code")), clientAddr(q.Request))
	}
	if err != nil {
		if errors.Is(err, registry.ErrCodeRequired) {
			s.render(q, http.StatusUnauthorized, "login", loginPage{AskCode: true, User: user})
			return nil
		}
		if isLocked(err) {
			s.render(q, http.StatusTooManyRequests, "login", loginPage{Locked: true, User: user})
			return nil
		}
		if _, _, ok := problemOf(err); ok || isUnauthenticated(err) {
			s.render(q, http.StatusUnauthorized, "login", loginPage{Failed: true, User: user})
			return nil
		}
		return err
	}
	s.sessions.drop(q.w, q.Request, s.secure)
	// A role with one desk works there; others choose.
	var purpose consent.Purpose
	if ps := consent.RolePurposes(a.Role); len(ps) == 1 {
		purpose = ps[0]
	}
	u := registry.UISession{OperatorID: a.OperatorID, Role: a.Role, Purpose: purpose, Password: key == ""}
	if err := s.sessions.startOperator(q.w, q.Request, s.secure, u); err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/", http.StatusSeeOther)
	return nil
}

func (s *Server) logout(q *req) error {
	s.sessions.drop(q.w, q.Request, s.secure)
	http.Redirect(q.w, q.Request, "/ui/login", http.StatusSeeOther)
	return nil
}

type deskPage struct {
	Purposes []string
	Current  string
}

func (s *Server) deskForm(q *req) error {
	ps := []string{}
	for _, p := range consent.RolePurposes(q.actor.Role) {
		ps = append(ps, string(p))
	}
	s.render(q, http.StatusOK, "desk", deskPage{Purposes: ps, Current: string(q.purpose)})
	return nil
}

// chooseDesk sets the purpose the operator works under, among those the
// role may declare. Changing it is this explicit step only.
func (s *Server) chooseDesk(q *req) error {
	p := consent.Purpose(q.PostFormValue("purpose"))
	if !slices.Contains(consent.RolePurposes(q.actor.Role), p) {
		return s.deskForm(q)
	}
	if err := s.sessions.setPurpose(q.Request, p); err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/", http.StatusSeeOther)
	return nil
}

// link is one entry of the home page.
type link struct {
	Href string
	Key  string // catalogue key of its label
}

type homePage struct {
	Links []link
}

// home lists what the operator's role does at this desk.
func (s *Server) home(q *req) error {
	var ls []link
	switch q.actor.Role {
	case consent.Registrar:
		if q.purpose == consent.Registration {
			ls = append(ls, link{"/ui/register", "nav.register"}, link{"/ui/households/new", "nav.household"})
		}
		if q.purpose != "" {
			ls = append(ls, link{"/ui/find", "nav.find"})
		}
		if q.purpose == consent.Verification {
			ls = append(ls, link{"/ui/verify", "nav.verify"})
		}
	case consent.Clinician, consent.Researcher:
		if q.purpose != "" {
			ls = append(ls, link{"/ui/find", "nav.find"})
		}
	case consent.Verifier:
		ls = append(ls, link{"/ui/verify", "nav.verify"})
	case consent.Adjudicator:
		ls = append(ls, link{"/ui/cases", "nav.cases"})
	case consent.Auditor:
		ls = append(ls, link{"/ui/audit", "nav.audit"}, link{"/ui/reports", "nav.reports"})
	case consent.Manager: // the programme manager's landing page is the reports
		http.Redirect(q.w, q.Request, "/ui/reports", http.StatusSeeOther)
		return nil
	case consent.Admin:
		ls = append(ls, link{"/ui/admin", "nav.admin"})
	}
	if len(consent.RolePurposes(q.actor.Role)) > 1 {
		ls = append(ls, link{"/ui/desk", "nav.desk"})
	}
	if q.sess.password { // signed in by password: may turn TOTP on
		ls = append(ls, link{"/ui/totp", "nav.totp"})
	}
	s.render(q, http.StatusOK, "home", homePage{Links: ls})
	return nil
}
