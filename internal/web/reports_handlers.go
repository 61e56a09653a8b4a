package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/report"
)

// Reports page (managers and auditors): the programme reports of the
// registry's report use cases (coverage, consent integrity, exclusion,
// register quality) as tables and server-drawn SVG bar charts. Counts
// only: a suppressed cell is shown as hidden, never as a number. Each view
// is one request to the registry's aggregate gate, which decides who may
// read reports and leaves one audit event, allowed or refused.

var reportKinds = []string{registry.ReportCoverage, registry.ReportConsent, registry.ReportExclusion, registry.ReportRegister}

type reportsPage struct {
	Kind           string
	Kinds          []string
	Area, From, To string // the form's values as given
	Coverage       *report.Coverage
	Consent        *report.ConsentReport
	Exclusion      *report.Exclusion
	Register       *report.Register
	Charts         []chartView
}

// chartView is a chart with its title and note in the page's language.
type chartView struct {
	report.Chart
	Title, Note string
}

// chartViews translates the charts' titles and notes by their Key.
func chartViews(l *locale, cs []report.Chart) []chartView {
	out := make([]chartView, 0, len(cs))
	for _, c := range cs {
		var title, note []any
		switch c.Key {
		case "consent_declines": // category, purpose, programme rate (%)
			title, note = []any{l.T("cat." + c.Args[0]), l.T("purpose." + c.Args[1])}, []any{c.Args[2]}
		case "coverage_band", "coverage_weekly": // the area
			title = []any{c.Args[0]}
		}
		out = append(out, chartView{Chart: c, Title: l.T("reports.chart."+c.Key, title...), Note: l.T("reports.chart."+c.Key+"_note", note...)})
	}
	return out
}

// reports serves GET /ui/reports?kind=&area=&from=&to= (dates YYYY-MM-DD,
// to inclusive, as in the JSON API).
func (s *Server) reports(q *req) error {
	v := q.URL.Query()
	p := reportsPage{Kind: v.Get("kind"), Kinds: reportKinds, Area: v.Get("area"), From: v.Get("from"), To: v.Get("to")}
	if p.Kind == "" {
		p.Kind = registry.ReportCoverage
	}
	if !slices.Contains(reportKinds, p.Kind) {
		return &registry.InputError{Code: registry.CodeInvalidValue, Field: "kind", Detail: "coverage, consent, exclusion or register"}
	}
	rq := registry.ReportQuery{Area: p.Area}
	if p.From != "" {
		t, err := time.Parse(time.DateOnly, p.From)
		if err != nil {
			return &registry.InputError{Code: registry.CodeInvalidDate, Field: "from", Detail: "a date YYYY-MM-DD"}
		}
		rq.From = t
	}
	if p.To != "" {
		t, err := time.Parse(time.DateOnly, p.To)
		if err != nil {
			return &registry.InputError{Code: registry.CodeInvalidDate, Field: "to", Detail: "a date YYYY-MM-DD"}
		}
		rq.To = t.AddDate(0, 0, 1)
	}
	ctx := q.Context()
	switch p.Kind {
	case registry.ReportCoverage:
		r, err := s.reg.CoverageReport(ctx, q.actor, rq)
		if err != nil {
			return err
		}
		p.Coverage, p.Charts = &r, chartViews(q.loc, report.Charts(r))
	case registry.ReportConsent:
		r, err := s.reg.ConsentReport(ctx, q.actor, rq)
		if err != nil {
			return err
		}
		p.Consent, p.Charts = &r, chartViews(q.loc, report.Charts(r))
	case registry.ReportExclusion:
		r, err := s.reg.ExclusionReport(ctx, q.actor, rq)
		if err != nil {
			return err
		}
		p.Exclusion, p.Charts = &r, chartViews(q.loc, report.Charts(r))
	case registry.ReportRegister:
		r, err := s.reg.RegisterReport(ctx, q.actor, rq)
		if err != nil {
			return err
		}
		p.Register = &r
	}
	s.render(q, http.StatusOK, "reports", p)
	return nil
}
