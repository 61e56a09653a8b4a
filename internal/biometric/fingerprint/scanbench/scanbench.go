// Package scanbench measures the fingerprint 1:N scan: it builds a gallery of
// real templates replicated with jitter and times searches over it on all
// cores. It backs `assent bench fingerprint`.
package scanbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
)

// ErrConfig means a Config field is out of range.
var ErrConfig = errors.New("invalid benchmark configuration")

// Config says what to measure.
type Config struct {
	Templates []*fingerprint.Template // real templates to replicate; nil entries are skipped
	Gallery   int                     // gallery size
	Probes    int                     // searches timed
	Workers   int                     // 0: GOMAXPROCS
	Seed      uint64                  // jitter seed
	// Indexed times indexed searches (the index's shortlist compared in
	// full) instead of exhaustive scans.
	Indexed bool
}

// Result is what `assent bench fingerprint --json` prints (with extraction
// figures added by the caller).
type Result struct {
	Gallery int `json:"gallery"`
	Probes  int `json:"probes"`
	Workers int `json:"workers"`
	// PerSecondPerCore is comparisons per CPU-second the scan used: the
	// throughput of one core, unaffected by other processes taking cores.
	PerSecondPerCore float64 `json:"comparisons_per_second_per_core"`
	// WallPerSecondPerCore is comparisons per wall-clock second divided by
	// the workers; lower than PerSecondPerCore when the machine is shared.
	WallPerSecondPerCore float64 `json:"wall_comparisons_per_second_per_core"`
	PerSecond            float64 `json:"comparisons_per_second"`
	BytesPerTemplate     float64 `json:"bytes_per_template"` // packed gallery memory per template
	SerialisedBytes      float64 `json:"serialised_bytes_per_template"`
	MeanMinutiae         float64 `json:"mean_minutiae"`
	BuildSeconds         float64 `json:"gallery_build_seconds"`
	Candidates           int     `json:"candidates_at_default_threshold"`
	// Indexed searches: comparisons above count only the entries of the
	// shortlist, which are compared in full.
	Indexed      bool    `json:"indexed"`
	Shortlist    int     `json:"shortlist,omitempty"`
	SearchMS     float64 `json:"search_ms_mean,omitempty"` // wall time of one search
	SearchMaxMS  float64 `json:"search_ms_max,omitempty"`
	IndexedShare float64 `json:"index_bytes_share,omitempty"` // share of BytesPerTemplate taken by the index
}

// Jitter returns a copy of ms rotated by up to ±15°, shifted by up to ±20
// pixels, with each minutia moved by up to ±2 pixels and about one in eight
// dropped: a stand-in for a further gallery entry.
func Jitter(r *rand.Rand, ms []fingerprint.Minutia) []fingerprint.Minutia {
	a := (r.Float64() - 0.5) * math.Pi / 6
	dx, dy := (r.Float64()-0.5)*40, (r.Float64()-0.5)*40
	c, s := math.Cos(a), math.Sin(a)
	out := make([]fingerprint.Minutia, 0, len(ms))
	for _, m := range ms {
		if r.IntN(8) == 0 {
			continue
		}
		x := c*float64(m.X) - s*float64(m.Y) + dx + (r.Float64()-0.5)*4
		y := s*float64(m.X) + c*float64(m.Y) + dy + (r.Float64()-0.5)*4
		m.X, m.Y = float32(max(0, x)), float32(max(0, y))
		m.Dir = float32(math.Mod(float64(m.Dir)+a+2*math.Pi, 2*math.Pi))
		out = append(out, m)
	}
	return out
}

// Run builds the gallery (the real templates first, then jittered copies up
// to cfg.Gallery) and times cfg.Probes searches of real templates at the
// default threshold.
func Run(ctx context.Context, cfg Config) (Result, error) {
	const op = "scanbench: run"
	var base []*fingerprint.Template
	for _, t := range cfg.Templates {
		if t != nil {
			base = append(base, t)
		}
	}
	if len(base) == 0 || cfg.Gallery < 1 || cfg.Probes < 1 {
		return Result{}, fmt.Errorf("%s: %d templates, gallery %d, probes %d: %w", op, len(base), cfg.Gallery, cfg.Probes, ErrConfig)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	res := Result{Gallery: cfg.Gallery, Probes: cfg.Probes, Workers: workers}
	start := time.Now()
	entries := make([]*fingerprint.Template, cfg.Gallery)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for i := w; i < cfg.Gallery; i += workers {
				b := base[i%len(base)]
				if i < len(base) {
					entries[i] = b
					continue
				}
				entries[i] = fingerprint.NewTemplate(b.Width, b.Height, Jitter(r, b.Minutiae))
			}
		}()
	}
	wg.Wait()
	g := fingerprint.NewGallery()
	keys := make([]string, len(entries))
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	g.AddAll(keys, entries)
	ser, nm := 0, 0
	for _, t := range entries {
		b, err := t.MarshalBinary()
		if err != nil {
			return res, fmt.Errorf("%s: %w", op, err)
		}
		ser += len(b)
		nm += len(t.Minutiae)
	}
	res.BuildSeconds = time.Since(start).Seconds()
	res.BytesPerTemplate = float64(g.Bytes()) / float64(cfg.Gallery)
	res.SerialisedBytes = float64(ser) / float64(cfg.Gallery)
	res.MeanMinutiae = float64(nm) / float64(cfg.Gallery)
	thr := fingerprint.DefaultThreshold()
	opt := fingerprint.SearchOptions{Workers: workers, Indexed: cfg.Indexed}
	perSearch := cfg.Gallery
	if cfg.Indexed {
		res.Indexed = true
		perSearch = fingerprint.ShortlistSize(cfg.Gallery, opt)
		res.Shortlist = perSearch
		res.IndexedShare = float64(g.IndexBytes()) / float64(g.Bytes())
	}
	cpu0, cpuOK := processCPU()
	start = time.Now()
	for p := range cfg.Probes {
		t0 := time.Now()
		c, err := g.Search(ctx, base[p%len(base)], thr, opt)
		if err != nil {
			return res, fmt.Errorf("%s: %w", op, err)
		}
		res.SearchMaxMS = max(res.SearchMaxMS, float64(time.Since(t0).Microseconds())/1000)
		res.Candidates += len(c)
	}
	wall := time.Since(start).Seconds()
	cpu1, _ := processCPU()
	res.SearchMS = wall * 1000 / float64(cfg.Probes)
	n := float64(perSearch) * float64(cfg.Probes)
	res.PerSecond = n / wall
	res.WallPerSecondPerCore = res.PerSecond / float64(workers)
	res.PerSecondPerCore = res.WallPerSecondPerCore
	if cpuOK && cpu1 > cpu0 {
		res.PerSecondPerCore = n / (cpu1 - cpu0).Seconds()
	}
	return res, nil
}
