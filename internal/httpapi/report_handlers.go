package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/registry"
)

// putArea creates or replaces one area of the area registry (admin).
func (s *Server) putArea(w http.ResponseWriter, r *http.Request) error {
	var in registry.AreaInput
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.reg.PutArea(r.Context(), actorFrom(r), r.PathValue("code"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listAreas lists the area registry (public planning data; any key).
func (s *Server) listAreas(w http.ResponseWriter, r *http.Request) error {
	out, err := s.reg.ListAreas(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"areas": out})
	return nil
}

// reportQuery reads ?area=&from=&to=&bands=&k=&epsilon=&alpha=&min_answers=.
// Dates are YYYY-MM-DD, to inclusive.
func reportQuery(r *http.Request) (registry.ReportQuery, error) {
	v := r.URL.Query()
	q := registry.ReportQuery{Area: v.Get("area")}
	bad := func(name, want string) error {
		return probErr(http.StatusBadRequest, "invalid_value", "query parameter "+name+" must be "+want)
	}
	if s := v.Get("from"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, bad("from", "a date YYYY-MM-DD")
		}
		q.From = t
	}
	if s := v.Get("to"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, bad("to", "a date YYYY-MM-DD")
		}
		q.To = t.AddDate(0, 0, 1)
	}
	if s := v.Get("bands"); s != "" {
		q.Bands = strings.Split(s, ",")
	}
	var err error
	if s := v.Get("k"); s != "" {
		if q.K, err = strconv.Atoi(s); err != nil {
			return q, bad("k", "an integer")
		}
	}
	if s := v.Get("min_answers"); s != "" {
		if q.MinAnswers, err = strconv.Atoi(s); err != nil || q.MinAnswers < 1 {
			return q, bad("min_answers", "a positive integer")
		}
	}
	if s := v.Get("epsilon"); s != "" {
		if q.Epsilon, err = strconv.ParseFloat(s, 64); err != nil {
			return q, bad("epsilon", "a number")
		}
	}
	if s := v.Get("alpha"); s != "" {
		if q.Alpha, err = strconv.ParseFloat(s, 64); err != nil {
			return q, bad("alpha", "a number")
		}
	}
	return q, nil
}

// coverageReport serves GET /v1/reports/coverage (manager, auditor).
func (s *Server) coverageReport(w http.ResponseWriter, r *http.Request) error {
	q, err := reportQuery(r)
	if err != nil {
		return err
	}
	out, err := s.reg.CoverageReport(r.Context(), actorFrom(r), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// consentReport serves GET /v1/reports/consent (manager, auditor).
func (s *Server) consentReport(w http.ResponseWriter, r *http.Request) error {
	q, err := reportQuery(r)
	if err != nil {
		return err
	}
	out, err := s.reg.ConsentReport(r.Context(), actorFrom(r), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// exclusionReport serves GET /v1/reports/exclusion (manager, auditor).
func (s *Server) exclusionReport(w http.ResponseWriter, r *http.Request) error {
	q, err := reportQuery(r)
	if err != nil {
		return err
	}
	out, err := s.reg.ExclusionReport(r.Context(), actorFrom(r), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// registerReport serves GET /v1/reports/register (manager, auditor).
func (s *Server) registerReport(w http.ResponseWriter, r *http.Request) error {
	q, err := reportQuery(r)
	if err != nil {
		return err
	}
	out, err := s.reg.RegisterReport(r.Context(), actorFrom(r), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
