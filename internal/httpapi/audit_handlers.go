package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assent-registry/assent/internal/registry"
)

func uintParam(r *http.Request, name string, def uint64, required bool) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		if required {
			return 0, probErr(http.StatusBadRequest, "missing_field", "query parameter "+name+" is required")
		}
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, probErr(http.StatusBadRequest, "invalid_value", "query parameter "+name+" must be a non-negative integer")
	}
	return n, nil
}

// auditCheckpoint serves the latest signed checkpoint as a C2SP signed note.
func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	cp, err := s.reg.Checkpoint(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(cp.Note)
	return err
}

func (s *Server) auditKey(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"verifier_key": s.reg.AuditVerifierKey()})
	return nil
}

func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request) error {
	index, err := uintParam(r, "index", 0, true)
	if err != nil {
		return err
	}
	size, err := uintParam(r, "size", 0, true)
	if err != nil {
		return err
	}
	p, err := s.reg.InclusionProof(r.Context(), index, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"index": index, "size": size, "hashes": nonNil(p)})
	return nil
}

func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request) error {
	from, err := uintParam(r, "from", 0, true)
	if err != nil {
		return err
	}
	to, err := uintParam(r, "to", 0, true)
	if err != nil {
		return err
	}
	p, err := s.reg.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "hashes": nonNil(p)})
	return nil
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request) error {
	from, err := uintParam(r, "from", 0, false)
	if err != nil {
		return err
	}
	to, err := uintParam(r, "to", from+registry.MaxAuditPage, false)
	if err != nil {
		return err
	}
	evs, err := s.reg.AuditEvents(r.Context(), actorFrom(r), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
	return nil
}

func (s *Server) auditStats(w http.ResponseWriter, r *http.Request) error {
	denies, total, err := s.reg.AuditStats(r.Context(), actorFrom(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": total, "denials": denies})
	return nil
}

type loginRequest struct {
	PersonID string `json:"person_id"`
	Code     string `json:"code"`
}

func (s *Server) portalLogin(w http.ResponseWriter, r *http.Request) error {
	var in loginRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	// person_id takes the person number too (as the receipt prints it).
	id, err := s.reg.ResolvePerson(r.Context(), in.PersonID)
	if errors.Is(err, registry.ErrNotFound) {
		id = in.PersonID // no such number: Login refuses it like any unknown person
	} else if err != nil {
		return err
	}
	sess, err := s.reg.Login(r.Context(), id, in.Code, s.clientAddr(r))
	if errors.Is(err, registry.ErrLocked) {
		w.Header().Set("Retry-After", "900")
		return probErr(http.StatusTooManyRequests, CodeRateLimited, "too many attempts; try again later")
	}
	if errors.Is(err, registry.ErrUnauthenticated) {
		// The same answer for a wrong code, an unknown id and an erased
		// person: the login tells nobody which it was.
		return probErr(http.StatusUnauthorized, CodeUnauthenticated, "the person number and portal code do not match; check the code on the consent receipt")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) accessLog(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.AccessLog(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
