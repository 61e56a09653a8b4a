package benchpop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// ReportOptions shape `assent bench report`.
type ReportOptions struct {
	// People is how many persons to write; 0 writes nothing and times the
	// reports over the population the store already holds (one loaded
	// earlier, by the bench or in bulk: see docs/reports.md, "Speed").
	People   int
	Seed     uint64
	Progress func(done, total int)
	// Runs is how many times each report is timed (at least once).
	Runs int
}

// ReportResult is what the bench measured, in seconds.
type ReportResult struct {
	People          int                `json:"people"`
	Areas           int                `json:"areas"`
	Sites           int                `json:"sites"`
	PopulateSeconds float64            `json:"populate_seconds"`
	ReportSeconds   map[string]float64 `json:"report_seconds"` // by kind, the first request, end to end
	// RunSeconds holds every run by kind, in order (Runs of them).
	RunSeconds       map[string][]float64 `json:"run_seconds"`
	MaxReportSeconds float64              `json:"max_report_seconds"` // the slowest run of any report
}

// Reports fills an empty store with a synthetic programme (a region of
// 10 districts of 10 areas, 20 sites, People persons with their statistics
// projection, registration and fingerprint consents, a check-up for 30 %,
// a biometric reference for 60 %, exclusion events) written directly as
// rows, with no real sealing (the reports never read sealed data), then
// times every report through its use case as a manager asks it. The rows go
// through the store, so the database keeps the report counts (migration
// 0011) as it does for every write: the bench reads what a registry would.
//
// db must be the store reg runs on, and empty, unless opt.People is 0.
func Reports(ctx context.Context, db store.Store, reg *registry.Registry, opt ReportOptions) (ReportResult, error) {
	res := ReportResult{People: opt.People, ReportSeconds: map[string]float64{}, RunSeconds: map[string][]float64{}}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if opt.People > 0 {
		if err := populate(ctx, db, opt, now, &res); err != nil {
			return res, err
		}
	}
	manager := registry.Actor{OperatorID: "bench", Role: consent.Manager, Route: "assent bench report"}
	// The last six months, from a whole day as the API and the CLI ask
	// (their dates are days), until now.
	q := registry.ReportQuery{From: now.AddDate(0, -6, 0).Truncate(24 * time.Hour)}
	for r := range max(opt.Runs, 1) {
		for _, run := range []struct {
			kind string
			fn   func() error
		}{
			{registry.ReportCoverage, func() error { _, err := reg.CoverageReport(ctx, manager, q); return err }},
			{registry.ReportConsent, func() error { _, err := reg.ConsentReport(ctx, manager, q); return err }},
			{registry.ReportExclusion, func() error { _, err := reg.ExclusionReport(ctx, manager, q); return err }},
			{registry.ReportRegister, func() error { _, err := reg.RegisterReport(ctx, manager, q); return err }},
		} {
			t0 := time.Now()
			if err := run.fn(); err != nil {
				return res, fmt.Errorf("bench report %s: %w", run.kind, err)
			}
			s := time.Since(t0).Seconds()
			if r == 0 {
				res.ReportSeconds[run.kind] = s
			}
			res.RunSeconds[run.kind] = append(res.RunSeconds[run.kind], s)
			res.MaxReportSeconds = max(res.MaxReportSeconds, s)
		}
	}
	return res, nil
}

// populate writes the synthetic programme of Reports.
func populate(ctx context.Context, db store.Store, opt ReportOptions, now time.Time, res *ReportResult) error {
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5e9))
	var leaves []string
	var sites []store.Site
	start := time.Now()
	err := db.Update(ctx, func(tx store.Tx) error {
		leaves, sites = leaves[:0], sites[:0]
		if err := tx.PutArea(ctx, store.Area{Code: "BR", Name: "Bench region", UpdatedAt: now}); err != nil {
			return err
		}
		res.Areas = 1
		for d := range 10 {
			dc := fmt.Sprintf("BR-D%d", d)
			if err := tx.PutArea(ctx, store.Area{Code: dc, Name: dc, ParentCode: "BR", UpdatedAt: now}); err != nil {
				return err
			}
			res.Areas++
			for a := range 10 {
				ac := fmt.Sprintf("%s-A%d", dc, a)
				var ts []store.AreaTarget
				for _, b := range []string{"0-11", "12-17", "18-64", "65+"} {
					for _, s := range []string{"female", "male"} {
						ts = append(ts, store.AreaTarget{AgeBand: b, Sex: s, Target: opt.People/100/8 + 1})
					}
				}
				if err := tx.PutArea(ctx, store.Area{Code: ac, Name: ac, ParentCode: dc, Targets: ts, UpdatedAt: now}); err != nil {
					return err
				}
				res.Areas++
				leaves = append(leaves, ac)
			}
			for s := range 2 {
				site := store.Site{Code: fmt.Sprintf("bench-%d-%d", d, s), Name: "bench", AreaCode: dc, CreatedAt: now}
				if err := tx.CreateSite(ctx, site); err != nil {
					return err
				}
				sites = append(sites, site)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Sites = len(sites)
	sexes := []string{"female", "male", "female", "male", "other", "unknown"}
	const batch = 5000
	for lo := 0; lo < opt.People; lo += batch {
		hi := min(lo+batch, opt.People)
		err := db.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				id := uuid.NewString()
				site := sites[rng.IntN(len(sites))]
				op := site.Code + "-op" + fmt.Sprint(rng.IntN(3))
				at := now.Add(-time.Duration(rng.IntN(365*24)) * time.Hour)
				p := store.Person{ID: id, Status: store.StatusActive, AreaCode: leaves[rng.IntN(len(leaves))], Site: site.Code, Version: 1,
					IdentitySealed: []byte{0}, CreatedAt: at, UpdatedAt: at}
				if err := tx.CreatePerson(ctx, p); err != nil {
					return err
				}
				if err := tx.PutPersonStats(ctx, store.PersonStats{PersonID: id, AreaCode: p.AreaCode, BirthYear: now.Year() - rng.IntN(90),
					Sex: sexes[rng.IntN(len(sexes))], Site: site.Code, OperatorID: op, RegisteredAt: at}); err != nil {
					return err
				}
				d := consent.Granted
				if rng.IntN(10) == 0 && site.Code != "bench-0-0" { // one site never records a decline
					d = consent.Declined
				}
				for _, c := range []store.ConsentRecord{
					{PersonID: id, Category: "identity", Purpose: "registration", Decision: "granted", Method: "bench", NoticeVersion: "1", Language: "en", OperatorID: op, Site: site.Code, At: at},
					{PersonID: id, Category: "fingerprint", Purpose: "verification", Decision: string(d), Method: "bench", NoticeVersion: "1", Language: "en", OperatorID: op, Site: site.Code, At: at},
				} {
					if _, err := tx.AppendConsent(ctx, c); err != nil {
						return err
					}
				}
				if rng.IntN(10) < 3 {
					if err := tx.AddExam(ctx, store.Exam{ID: uuid.NewString(), PersonID: id, Site: site.Code, At: at.Add(time.Hour)}); err != nil {
						return err
					}
				}
				if d == consent.Granted && rng.IntN(10) < 6 {
					if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: uuid.NewString(), PersonID: id, Category: "fingerprint", Position: "right_index",
						Format: "image", Purpose: "verification", TemplateSealed: []byte{0}, CreatedAt: at}); err != nil {
						return err
					}
				} else if rng.IntN(4) == 0 {
					if err := tx.AddExclusionEvent(ctx, store.ExclusionEvent{Site: site.Code, Category: "fingerprint", Kind: store.ExclusionCaptureFailed, At: at}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if opt.Progress != nil {
			opt.Progress(hi, opt.People)
		}
	}
	res.PopulateSeconds = time.Since(start).Seconds()
	return nil
}
