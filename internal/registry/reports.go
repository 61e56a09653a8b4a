package registry

import (
	"context"
	"errors"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/report"
	"github.com/assent-registry/assent/internal/store"
)

// Report kinds.
const (
	ReportCoverage  = "coverage"
	ReportConsent   = "consent"
	ReportExclusion = "exclusion"
	ReportRegister  = "register"
)

// ReportQuery selects a report: an area (rolled up; empty = every root),
// a period [From, To) (zero From = since the start; zero To = now), age
// bands (default 0-11, 12-17, 18-64, 65+), the smallest published count K
// (default 10) and an optional privacy budget Epsilon.
type ReportQuery struct {
	Area     string
	From, To time.Time
	Bands    []string
	K        int
	Epsilon  float64
	// Alpha and MinAnswers tune the consent integrity test (defaults
	// 0.001 and 30).
	Alpha      float64
	MinAnswers int
}

// CodeInvalidReport: a report parameter is out of range (400).
const CodeInvalidReport = "invalid_report"

// reportGate lets managers and auditors read aggregate reports
// (consent.ReadReports) and records the request, allowed or not, in the
// audit log through the one gate: an event with no person, no category and
// no purpose (nothing personal is read).
func (r *Registry) reportGate(ctx context.Context, actor Actor, kind string) error {
	if actor.Route == "" {
		actor.Route = "assent report " + kind
	}
	return r.guard(ctx, operationAccess(actor, consent.ReadReports), func(store.Tx, map[string]*facts) error { return nil })
}

func (r *Registry) reportParams(q ReportQuery) (report.Params, error) {
	p := report.Params{Area: q.Area, From: q.From, To: q.To, K: q.K, Epsilon: q.Epsilon}
	if p.To.IsZero() {
		p.To = r.clock().Add(time.Millisecond)
	}
	if !p.From.IsZero() && !p.From.Before(p.To) {
		return p, &InputError{Code: CodeInvalidReport, Field: "from", Detail: "must be before to"}
	}
	if q.K != 0 && (q.K < 2 || q.K > 1000) {
		return p, &InputError{Code: CodeInvalidReport, Field: "k", Detail: "from 2 to 1000"}
	}
	if q.Epsilon < 0 || q.Epsilon > 100 {
		return p, &InputError{Code: CodeInvalidReport, Field: "epsilon", Detail: "from 0 (no noise) to 100"}
	}
	if len(q.Bands) > 0 {
		bs, err := report.ParseBands(q.Bands)
		if err != nil {
			return p, &InputError{Code: CodeInvalidReport, Field: "bands", Detail: err.Error()}
		}
		p.Bands = bs
	}
	return p, nil
}

func reportAreas(as []store.Area) []report.Area {
	out := make([]report.Area, len(as))
	for i, a := range as {
		t := map[[2]string]int{}
		for _, tg := range a.Targets {
			t[[2]string{tg.AgeBand, tg.Sex}] = tg.Target
		}
		out[i] = report.Area{Code: a.Code, Name: a.Name, Parent: a.ParentCode, Targets: t}
	}
	return out
}

func reportCounts(cs []store.StatsCount) []report.Count {
	out := make([]report.Count, len(cs))
	for i, c := range cs {
		out[i] = report.Count(c)
	}
	return out
}

// rootArea picks the report's area: the one asked for, or the only root.
func rootArea(as []store.Area, code string) (string, error) {
	if code != "" {
		for _, a := range as {
			if a.Code == code {
				return code, nil
			}
		}
		return "", &InputError{Code: CodeUnknownArea, Field: "area", Detail: "no area has this code"}
	}
	var roots []string
	for _, a := range as {
		if a.ParentCode == "" {
			roots = append(roots, a.Code)
		}
	}
	switch len(roots) {
	case 0:
		return "", &InputError{Code: CodeUnknownArea, Field: "area", Detail: "the area registry is empty; load it first"}
	case 1:
		return roots[0], nil
	}
	return report.AllAreas, nil
}

// readAggregates is what every area report shares: the gate (decided and
// recorded), the parameters, and one read transaction that lists the areas
// (and the sites when sites is set) and runs read for the counts of the
// period. No sealed data is read.
func (r *Registry) readAggregates(ctx context.Context, actor Actor, kind string, q ReportQuery, check func() error,
	read func(tx store.Tx, period store.Period) error) (p report.Params, areas []store.Area, siteAreas map[string]string, err error) {
	if err := r.reportGate(ctx, actor, kind); err != nil {
		return p, nil, nil, err
	}
	if p, err = r.reportParams(q); err != nil {
		return p, nil, nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return p, nil, nil, err
		}
	}
	period := store.Period{From: p.From, To: p.To}
	err = r.store.View(ctx, func(tx store.Tx) error {
		var err error
		if areas, err = tx.ListAreas(ctx); err != nil {
			return err
		}
		sites, err := tx.ListSites(ctx)
		if err != nil {
			return err
		}
		siteAreas = make(map[string]string, len(sites))
		for _, s := range sites {
			siteAreas[s.Code] = s.AreaCode
		}
		return read(tx, period)
	})
	return p, areas, siteAreas, err
}

// unknownArea turns the report package's unknown area into the registry's
// input error.
func unknownArea(err error) error {
	if errors.Is(err, report.ErrUnknownArea) {
		return &InputError{Code: CodeUnknownArea, Field: "area", Detail: "no area has this code"}
	}
	return err
}

// CoverageReport is the coverage report (managers and auditors): target,
// registered and coverage by area (rolled up), age band and sex, people
// checked up in the period, enrolled per modality, and consent answers, all
// with small cells suppressed. Counts come from the statistics projection
// by SQL GROUP BY; no sealed data is read.
func (r *Registry) CoverageReport(ctx context.Context, actor Actor, q ReportQuery) (report.Coverage, error) {
	var in report.CoverageInput
	p, areas, _, err := r.readAggregates(ctx, actor, ReportCoverage, q, nil, func(tx store.Tx, period store.Period) error {
		reg, err := tx.CountRegistered(ctx, period)
		if err != nil {
			return err
		}
		up, err := tx.CountCheckedUp(ctx, period)
		if err != nil {
			return err
		}
		wk, err := tx.CountRegisteredPerWeek(ctx, period)
		if err != nil {
			return err
		}
		en, err := tx.CountEnrolled(ctx, period)
		if err != nil {
			return err
		}
		an, err := tx.CountAreaAnswers(ctx, period)
		if err != nil {
			return err
		}
		in = report.CoverageInput{Registered: reportCounts(reg), CheckedUp: reportCounts(up), Weekly: reportCounts(wk),
			Enrolled: reportCounts(en), Answers: reportCounts(an)}
		return nil
	})
	if err != nil {
		return report.Coverage{}, err
	}
	in.Areas = reportAreas(areas)
	if p.Area, err = rootArea(areas, q.Area); err != nil {
		return report.Coverage{}, err
	}
	out, err := report.BuildCoverage(in, p)
	return out, unknownArea(err)
}

// ConsentReport is the consent integrity report (managers and auditors):
// answers per site and per operator for each category x purpose, decline
// rates against the programme-wide rate with an exact binomial test, the
// flagged ones, and withdrawals within 30 days of registration per site.
func (r *Registry) ConsentReport(ctx context.Context, actor Actor, q ReportQuery) (report.ConsentReport, error) {
	var in report.IntegrityInput
	checkAlpha := func() error {
		if q.Alpha < 0 || q.Alpha >= 1 {
			return &InputError{Code: CodeInvalidReport, Field: "alpha", Detail: "between 0 and 1"}
		}
		return nil
	}
	p, areas, siteAreas, err := r.readAggregates(ctx, actor, ReportConsent, q, checkAlpha, func(tx store.Tx, period store.Period) error {
		ans, err := tx.CountSiteAnswers(ctx, period)
		if err != nil {
			return err
		}
		early, err := tx.CountEarlyWithdrawals(ctx, period, report.EarlyWithdrawal)
		if err != nil {
			return err
		}
		in = report.IntegrityInput{Answers: reportCounts(ans), EarlyWithdrawals: reportCounts(early)}
		return nil
	})
	if err != nil {
		return report.ConsentReport{}, err
	}
	in.Areas, in.SiteAreas = reportAreas(areas), siteAreas
	if q.Area != "" {
		if p.Area, err = rootArea(areas, q.Area); err != nil {
			return report.ConsentReport{}, err
		}
	}
	out, err := report.BuildIntegrity(in, report.IntegrityParams{Params: p, Alpha: q.Alpha, MinAnswers: q.MinAnswers})
	return out, unknownArea(err)
}

// recordExclusion counts one time a biometric system failed someone: site,
// modality, kind and time, no person. A failure to record is logged, not
// returned: the person's request already has its answer.
func (r *Registry) recordExclusion(ctx context.Context, actor Actor, cat consent.Category, kind string) {
	e := store.ExclusionEvent{Site: actor.Site, Category: string(cat), Kind: kind, At: r.clock()}
	if err := r.store.Update(ctx, func(tx store.Tx) error { return tx.AddExclusionEvent(ctx, e) }); err != nil {
		r.log.ErrorContext(ctx, "record exclusion event", "err", err, "kind", kind)
	}
}

// ExclusionReport is the exclusion report (managers and auditors): per site
// and modality, captures too poor to enrol, verifications with no match or
// against no template, and people checked up who hold no biometric.
func (r *Registry) ExclusionReport(ctx context.Context, actor Actor, q ReportQuery) (report.Exclusion, error) {
	var in report.ExclusionInput
	p, areas, siteAreas, err := r.readAggregates(ctx, actor, ReportExclusion, q, nil, func(tx store.Tx, period store.Period) error {
		ev, err := tx.CountExclusions(ctx, period)
		if err != nil {
			return err
		}
		care, err := tx.CountCareWithoutBiometrics(ctx, period)
		if err != nil {
			return err
		}
		in = report.ExclusionInput{Events: reportCounts(ev), CareWithoutBiometrics: reportCounts(care)}
		return nil
	})
	if err != nil {
		return report.Exclusion{}, err
	}
	in.Areas, in.SiteAreas = reportAreas(areas), siteAreas
	if q.Area != "" {
		if p.Area, err = rootArea(areas, q.Area); err != nil {
			return report.Exclusion{}, err
		}
	}
	return report.BuildExclusion(in, p)
}

// RegisterReport is the register quality report (managers and auditors):
// households without a head, heads under age, minors whose guardian was
// erased, open duplicate cases by age. Counts only.
func (r *Registry) RegisterReport(ctx context.Context, actor Actor, q ReportQuery) (report.Register, error) {
	if err := r.reportGate(ctx, actor, ReportRegister); err != nil {
		return report.Register{}, err
	}
	p, err := r.reportParams(q)
	if err != nil {
		return report.Register{}, err
	}
	var rq store.RegisterQuality
	err = r.store.View(ctx, func(tx store.Tx) error {
		var err error
		rq, err = tx.RegisterQuality(ctx, p.To, r.cfg.AgeOfMajority)
		return err
	})
	if err != nil {
		return report.Register{}, err
	}
	return report.BuildRegister(report.RegisterInput(rq), p), nil
}

// RebuildReportCounts recomputes the pre-aggregated counts the reports read
// (kept by the database in the transaction of every write they count) from
// the statistics projection and the rows it joins, and returns how many
// count rows it corrected: 0 when nothing had drifted. Counts only; no
// person leaves the database. It reads the whole register in one write
// transaction: an offline step (assent report rebuild-counts).
func (r *Registry) RebuildReportCounts(ctx context.Context) (int, error) {
	if rb, ok := r.store.(store.CountsRebuilder); ok {
		return rb.RebuildStatsCounts(ctx)
	}
	var changed int
	err := r.store.Update(ctx, func(tx store.Tx) error {
		var err error
		changed, err = tx.RebuildStatsCounts(ctx)
		return err
	})
	return changed, err
}
