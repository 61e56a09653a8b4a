package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// Check-up (clinician, care desk). Care rests on the care relationship, not
// on consent: these pages never show or depend on biometric consent.

type examPage struct {
	Person     registry.PersonView
	Exams      []registry.ExamView
	BloodTypes []string
	Form       map[string]string
	Error      string
	ErrorField string
	Saved      bool
}

func (s *Server) examPage(q *req, id string) (examPage, error) {
	pv, err := s.reg.GetPerson(q.Context(), q.actor, q.purpose, id)
	if err != nil {
		return examPage{}, err
	}
	ex, err := s.reg.Exams(q.Context(), q.actor, q.purpose, id, true)
	if err != nil {
		return examPage{}, err
	}
	return examPage{Person: pv, Exams: ex, BloodTypes: registry.BloodTypes, Form: map[string]string{}}, nil
}

// exams shows a person's check-up history and the form for a new one.
func (s *Server) exams(q *req) error {
	id, err := s.resolve(q.Context(), q.PathValue("id"))
	if err != nil {
		return err
	}
	ep, err := s.examPage(q, id)
	if err != nil {
		return err
	}
	ep.Saved = q.URL.Query().Get("saved") == "1"
	s.render(q, http.StatusOK, "exams", ep)
	return nil
}

// recordExam records a check-up. Empty fields are not recorded.
func (s *Server) recordExam(q *req) error {
	id, err := s.resolve(q.Context(), q.PathValue("id"))
	if err != nil {
		return err
	}
	form := map[string]string{}
	for _, k := range []string{"blood_type", "height_cm", "weight_kg", "systolic", "diastolic", "notes"} {
		form[k] = strings.TrimSpace(q.PostFormValue(k))
	}
	var in registry.NewExam
	bad := ""
	str := func(k string) *string {
		if form[k] == "" {
			return nil
		}
		v := form[k]
		return &v
	}
	num := func(k string) *float64 {
		if form[k] == "" {
			return nil
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(form[k], ",", "."), 64)
		if err != nil {
			bad = k
			return nil
		}
		return &v
	}
	integer := func(k string) *int {
		if form[k] == "" {
			return nil
		}
		v, err := strconv.Atoi(form[k])
		if err != nil {
			bad = k
			return nil
		}
		return &v
	}
	in.BloodType, in.Notes = str("blood_type"), str("notes")
	in.HeightCM, in.WeightKG = num("height_cm"), num("weight_kg")
	in.Systolic, in.Diastolic = integer("systolic"), integer("diastolic")
	if bad == "" {
		_, err = s.reg.RecordExam(q.Context(), q.actor, q.purpose, id, in)
	} else {
		err = &registry.InputError{Code: registry.CodeInvalidValue, Field: bad, Detail: "not a number"}
	}
	if code, field, ok := problemOf(err); ok {
		ep, perr := s.examPage(q, id)
		if perr != nil {
			return perr
		}
		ep.Form, ep.Error, ep.ErrorField = form, "err."+code, field
		s.render(q, http.StatusUnprocessableEntity, "exams", ep)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/persons/"+id+"/exams?saved=1", http.StatusSeeOther)
	return nil
}
