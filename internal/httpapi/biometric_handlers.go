package httpapi

import (
	"net/http"

	"github.com/assent-registry/assent/internal/registry"
)

// MaxCaptureBodyBytes caps bodies that carry a biometric capture (base64).
const MaxCaptureBodyBytes = registry.MaxCaptureBytes*4/3 + 4096

func (s *Server) enrolBiometric(w http.ResponseWriter, r *http.Request) error {
	var in registry.Capture
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.EnrolBiometric(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	var in registry.VerifyRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	id, err := s.reg.ResolvePerson(r.Context(), in.PersonID) // a number or an id
	if err != nil {
		return err
	}
	in.PersonID = id
	out, err := s.reg.Verify(r.Context(), actorFrom(r), purposeFrom(r), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.Cases(r.Context(), actorFrom(r), purposeFrom(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": out})
	return nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.Case(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) decideCase(w http.ResponseWriter, r *http.Request) error {
	var in registry.CaseDecision
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.DecideCase(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
