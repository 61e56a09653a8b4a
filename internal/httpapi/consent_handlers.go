package httpapi

import (
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

func (s *Server) recordConsent(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewConsent
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.RecordConsent(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listConsents(w http.ResponseWriter, r *http.Request) error {
	history := r.URL.Query().Get("history")
	out, err := s.reg.Consents(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), history == "1" || history == "true")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"consents": out})
	return nil
}

func (s *Server) recordExam(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewExam
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.RecordExam(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listExams(w http.ResponseWriter, r *http.Request) error {
	bt := r.URL.Query().Get("include") == "blood_type"
	out, err := s.reg.Exams(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), bt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"exams": out})
	return nil
}

func (s *Server) addSpecimen(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewSpecimen
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.AddSpecimen(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listSpecimens(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.Specimens(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"specimens": out})
	return nil
}

func (s *Server) addCustody(w http.ResponseWriter, r *http.Request) error {
	var in registry.NewCustodyEvent
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.AddCustodyEvent(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"), r.PathValue("sid"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) exportPerson(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.ExportPerson(r.Context(), actorFrom(r), purposeFrom(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="assent-export.json"`)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) consentStats(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.ConsentStatistics(r.Context(), actorFrom(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) receiptKey(w http.ResponseWriter, r *http.Request) error {
	pub, err := s.reg.ReceiptPublicKey(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm":  "Ed25519",
		"public_key": base64.StdEncoding.EncodeToString(pub),
		"key_id":     consent.KeyID(ed25519.PublicKey(pub)),
	})
	return nil
}

// renderReceipt checks a signed receipt against this registry's key and
// returns it printable (HTML by default, or text with ?format=text). It
// takes the "receipt" object of a registration or consent response.
func (s *Server) renderReceipt(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeProblem(err)
	}
	rc, err := s.reg.OpenReceipt(r.Context(), body)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = io.WriteString(w, consent.RenderText(rc))
		return err
	}
	h, err := consent.RenderHTML(rc)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, err = w.Write(h)
	return err
}
