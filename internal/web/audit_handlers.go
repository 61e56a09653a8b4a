package web

import (
	"net/http"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Auditor page: the latest checkpoint (its signature checked in the
// auditor's browser), denials by reason and site, consent answers per site
// with the flagged sites. Audit metadata and counts only.

type auditPage struct {
	Note     string
	Size     uint64
	Total    uint64
	Denials  []registry.DenyCount
	Stats    consent.Stats
	AuditKey string
	Flagged  map[string]bool
}

func (s *Server) audit(q *req) error {
	cp, err := s.reg.Checkpoint(q.Context())
	if err != nil {
		return err
	}
	den, total, err := s.reg.AuditStats(q.Context(), q.actor)
	if err != nil {
		return err
	}
	st, err := s.reg.ConsentStatistics(q.Context(), q.actor)
	if err != nil {
		return err
	}
	ap := auditPage{Note: string(cp.Note), Size: cp.Size, Total: total, Denials: den, Stats: st,
		AuditKey: auditKeyFingerprint(s.reg.AuditVerifierKey()), Flagged: map[string]bool{}}
	for _, f := range st.FlaggedSites {
		ap.Flagged[f] = true
	}
	s.render(q, http.StatusOK, "audit", ap)
	return nil
}
