package web

import (
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Admin pages: sites and operator keys. No personal data: the registry's
// admin use cases check the role.

type adminPage struct {
	Sites     []registry.SiteView
	Operators []registry.OperatorView
	Roles     []string
	NewKey    string // shown once, right after creation
	NewKeyFor string
	Error     string
	Notices   []noticeVersion // read-only: the notice files the binary carries
}

func (s *Server) adminPage(q *req) (adminPage, error) {
	ap := adminPage{Notices: s.notices.versions()}
	for _, r := range consent.OperatorRoles {
		ap.Roles = append(ap.Roles, string(r))
	}
	var err error
	if ap.Operators, err = s.reg.ListOperatorsAs(q.Context(), q.actor); err != nil {
		return ap, err
	}
	ap.Sites, err = s.reg.ListSites(q.Context())
	return ap, err
}

func (s *Server) admin(q *req) error {
	ap, err := s.adminPage(q)
	if err != nil {
		return err
	}
	s.render(q, http.StatusOK, "admin", ap)
	return nil
}

func (s *Server) adminFail(q *req, err error) error {
	code, _, ok := problemOf(err)
	if !ok {
		return err
	}
	ap, perr := s.adminPage(q)
	if perr != nil {
		return perr
	}
	ap.Error = "err." + code
	s.render(q, http.StatusUnprocessableEntity, "admin", ap)
	return nil
}

func (s *Server) createSite(q *req) error {
	_, err := s.reg.CreateSite(q.Context(), q.actor, registry.NewSite{Code: strings.TrimSpace(q.PostFormValue("code")),
		Name: strings.TrimSpace(q.PostFormValue("name")), AreaCode: strings.TrimSpace(q.PostFormValue("area_code"))})
	if err != nil {
		return s.adminFail(q, err)
	}
	http.Redirect(q.w, q.Request, "/ui/admin", http.StatusSeeOther)
	return nil
}

// createKey makes an operator key and shows it once, on this response only.
func (s *Server) createKey(q *req) error {
	o, key, err := s.reg.CreateOperatorAs(q.Context(), q.actor, registry.NewOperator{Role: consent.Role(q.PostFormValue("role")),
		Site: strings.TrimSpace(q.PostFormValue("site")), Name: strings.TrimSpace(q.PostFormValue("name"))})
	if err != nil {
		return s.adminFail(q, err)
	}
	ap, err := s.adminPage(q)
	if err != nil {
		return err
	}
	ap.NewKey, ap.NewKeyFor = key, o.ID
	s.render(q, http.StatusCreated, "admin", ap)
	return nil
}

func (s *Server) revokeKey(q *req) error {
	if err := s.reg.RevokeOperatorAs(q.Context(), q.actor, q.PostFormValue("id")); err != nil {
		return s.adminFail(q, err)
	}
	http.Redirect(q.w, q.Request, "/ui/admin", http.StatusSeeOther)
	return nil
}

// setPassword gives an operator a user name and password for signing in.
func (s *Server) setPassword(q *req) error {
	err := s.reg.SetOperatorPassword(q.Context(), q.actor, q.PostFormValue("id"), q.PostFormValue("user"), q.PostFormValue("password"))
	if err != nil {
		return s.adminFail(q, err)
	}
	http.Redirect(q.w, q.Request, "/ui/admin?password=set", http.StatusSeeOther)
	return nil
}
