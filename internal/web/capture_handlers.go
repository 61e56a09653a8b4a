package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Capture (registrar) and verification (verifier): an image uploaded from
// the scanner or camera goes to the registry's use cases; the pages show
// the outcome only: "possible duplicate, sent for review" (never who), or
// match / no match / not enrolled.

// maxUpload bounds one captured image.
const maxUpload = 8 << 20

type capturePage struct {
	PersonID     string
	PersonNumber string
	Positions    []string
	Position     string
	Result       string // enrolled | duplicate | pending | ""
	Error        string
}

func positions() []string {
	out := append([]string{}, registry.FingerPositions...)
	out = append(out, registry.EyePositions...)
	return append(out, registry.FacePositions...)
}

func modalityOf(position string) string {
	switch {
	case strings.HasSuffix(position, "_eye"):
		return string(consent.Iris)
	case position == "face":
		return string(consent.Face)
	}
	return string(consent.Fingerprint)
}

// readCapture reads the multipart upload: the position and the file.
func readCapture(q *req) (position string, data []byte, err error) {
	if err := q.ParseMultipartForm(maxUpload); err != nil {
		return "", nil, &registry.InputError{Code: registry.CodeInvalidCapture, Field: "data", Detail: "not a file upload"}
	}
	position = q.FormValue("position")
	f, _, err := q.FormFile("data")
	if err != nil {
		return position, nil, &registry.InputError{Code: registry.CodeMissingField, Field: "data", Detail: "choose the image file"}
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil {
		return position, nil, err
	}
	if len(data) > maxUpload {
		return position, nil, &registry.InputError{Code: registry.CodeInvalidCapture, Field: "data", Detail: "file too large"}
	}
	return position, data, nil
}

func (s *Server) captureForm(q *req) error {
	id, err := s.resolve(q.Context(), q.PathValue("id"))
	if err != nil {
		return err
	}
	pv, err := s.reg.GetPerson(q.Context(), q.actor, q.purpose, id)
	if err != nil {
		return err
	}
	s.render(q, http.StatusOK, "capture", capturePage{PersonID: id, PersonNumber: pv.PersonNumber, Positions: positions(), Result: q.URL.Query().Get("result")})
	return nil
}

// capture enrols one capture under the desk's purpose (verification or
// deduplication). The registrar learns only whether a possible duplicate
// was sent for review, or that the duplicate check finishes later (a
// gallery shard did not answer).
func (s *Server) capture(q *req) error {
	id, err := s.resolve(q.Context(), q.PathValue("id"))
	if err != nil {
		return err
	}
	cp := capturePage{PersonID: id, Positions: positions()}
	pos, data, err := readCapture(q)
	cp.Position = pos
	var out registry.Enrolled
	if err == nil {
		dpi, _ := strconv.Atoi(q.FormValue("dpi"))
		out, err = s.reg.EnrolBiometric(q.Context(), q.actor, q.purpose, id, registry.Capture{Modality: modalityOf(pos), Position: pos, Format: "image", Data: data, DPI: dpi})
	}
	if code, _, ok := problemOf(err); ok {
		cp.Error = "err." + code
		// The form again, for the same person: their number is read
		// through the gate as on the form page (an audited read).
		if pv, err := s.reg.GetPerson(q.Context(), q.actor, q.purpose, id); err == nil {
			cp.PersonNumber = pv.PersonNumber
		}
		s.render(q, http.StatusUnprocessableEntity, "capture", cp)
		return nil
	}
	if err != nil {
		return err
	}
	result := "enrolled"
	switch {
	case out.Deduplication == registry.DedupPending:
		result = "pending" // never shown as "no duplicates": the search finishes later
	case len(out.Duplicates) > 0:
		result = "duplicate"
	}
	http.Redirect(q.w, q.Request, "/ui/persons/"+id+"/capture?result="+result, http.StatusSeeOther)
	return nil
}

type verifyPage struct {
	Number    string
	Positions []string
	Position  string
	Result    string // match | no_match | not_enrolled
	Error     string
}

func (s *Server) verifyForm(q *req) error {
	s.render(q, http.StatusOK, "verify", verifyPage{Positions: positions()})
	return nil
}

// verify answers match, no match or not enrolled, and nothing else.
func (s *Server) verify(q *req) error {
	vp := verifyPage{Positions: positions()}
	pos, data, err := readCapture(q)
	vp.Position, vp.Number = pos, strings.TrimSpace(q.FormValue("person_number"))
	var id string
	if err == nil {
		id, err = s.resolve(q.Context(), vp.Number)
	}
	var out registry.Verification
	if err == nil {
		out, err = s.reg.Verify(q.Context(), q.actor, q.purpose, registry.VerifyRequest{PersonID: id,
			Capture: registry.Capture{Modality: modalityOf(pos), Position: pos, Format: "image", Data: data}})
	}
	code, _, isInput := problemOf(err)
	switch {
	case err == nil && out.Match:
		vp.Result = "match"
	case err == nil:
		vp.Result = "no_match"
	case isInput && code == registry.CodeNotEnrolled, isNotFound(err):
		vp.Result = "not_enrolled"
	case isInput:
		vp.Error = "err." + code
	default:
		return err
	}
	s.render(q, http.StatusOK, "verify", vp)
	return nil
}
