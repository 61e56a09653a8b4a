package web

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// Adjudication (adjudicator, deduplication desk): the queue of open cases,
// a case side by side, and the decision.

type casesPage struct {
	Cases []registry.CaseView
}

func (s *Server) cases(q *req) error {
	cs, err := s.reg.Cases(q.Context(), q.actor, q.purpose)
	if err != nil {
		return err
	}
	s.render(q, http.StatusOK, "cases", casesPage{Cases: cs})
	return nil
}

type caseSide struct {
	registry.CaseSide
	Photo template.URL // data: URL of the face photo, when both consented
}

type casePage struct {
	Case  registry.CaseDetail
	Sides []caseSide
	// Fingerprints are the evidence pairs' minutiae, drawn as SVG.
	Fingerprints []fingerprintPair
	Error        string
}

// photoURL makes a data: URL of a stored face photo, for PNG or JPEG only
// (the page's CSP allows data: images and nothing else inline).
func photoURL(b []byte) template.URL {
	ct := http.DetectContentType(b)
	if ct != "image/png" && ct != "image/jpeg" {
		return ""
	}
	return template.URL("data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(b))
}

func (s *Server) caseDetail(q *req) error {
	c, err := s.reg.Case(q.Context(), q.actor, q.purpose, q.PathValue("id"))
	if err != nil {
		return err
	}
	cp := casePage{Case: c, Fingerprints: fingerprintPairs(c)}
	for _, side := range c.Records {
		cp.Sides = append(cp.Sides, caseSide{CaseSide: side, Photo: photoURL(side.FacePhoto)})
	}
	s.render(q, http.StatusOK, "case", cp)
	return nil
}

func (s *Server) decideCase(q *req) error {
	_, err := s.reg.DecideCase(q.Context(), q.actor, q.purpose, q.PathValue("id"), registry.CaseDecision{
		Decision: q.PostFormValue("decision"), Note: strings.TrimSpace(q.PostFormValue("note"))})
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/cases?decided="+q.PathValue("id"), http.StatusSeeOther)
	return nil
}
