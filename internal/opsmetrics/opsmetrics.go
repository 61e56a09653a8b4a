// Package opsmetrics holds the operational metrics a programme watches:
// registrations, enrolment captures by modality and outcome (quality
// failures are an exclusion signal: people whose fingers or eyes the
// scanners cannot read), policy denials by reason, open adjudication cases,
// gallery sizes and how far the audit log's signed checkpoints lag.
//
// Counters come from the registry through registry.Observer (no personal
// data reaches them: modalities, outcomes and reason codes only). Gauges
// are read from the registry at scrape time.
package opsmetrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what the gauges read at scrape time (a *registry.Registry).
type Source interface {
	GallerySizes() map[consent.Category]int
	OpsStats(ctx context.Context) (registry.OpsStats, error)
}

// Metrics implements registry.Observer and prometheus.Collector. It is safe
// for concurrent use.
type Metrics struct {
	registered  prometheus.Counter
	captures    *prometheus.CounterVec
	denials     *prometheus.CounterVec
	statsErrors prometheus.Counter
	turnWait    *prometheus.HistogramVec
	turnHeld    *prometheus.HistogramVec

	src Source
	log *slog.Logger
	now func() time.Time

	openCases, pending, gallery, auditEntries, checkpointed, checkpointAge *prometheus.Desc
}

var (
	_ registry.Observer     = (*Metrics)(nil)
	_ registry.TurnObserver = (*Metrics)(nil)
)

// turnBuckets: from a commit on a quiet database (a few ms) to a turn
// held or waited for long enough to cap the deployment's captures.
var turnBuckets = []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New makes the metrics. Give it to registry.Options.Observer, then Watch
// the registry and Register them.
func New(log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.Default()
	}
	return &Metrics{
		registered: prometheus.NewCounter(prometheus.CounterOpts{Name: "assent_persons_registered_total",
			Help: "Persons registered (API and import)."}),
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "assent_captures_total",
			Help: "Biometric captures for enrolment by modality and outcome: enrolled, quality_too_low, invalid_capture, denied (policy), failed (other), or another refusal code."},
			[]string{"modality", "outcome"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "assent_policy_denials_total",
			Help: "Accesses the policy refused, by the reason recorded in the audit log."}, []string{"reason"}),
		statsErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "assent_ops_stats_errors_total",
			Help: "Scrapes whose registry figures (cases, audit) could not be read; those gauges were left out."}),
		turnWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "assent_dedup_turn_wait_seconds",
			Help: "Time a deduplicating commit (capture, import line, consent grant) waited for its modality's turn, shared by every node.", Buckets: turnBuckets},
			[]string{"modality"}),
		turnHeld: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "assent_dedup_turn_held_seconds",
			Help: "Time a deduplicating commit held its modality's turn: the deployment's captures per second of a modality are at most 1 / this.", Buckets: turnBuckets},
			[]string{"modality"}),
		log:       log,
		now:       time.Now,
		openCases: prometheus.NewDesc("assent_cases_open", "Possible duplicates waiting for an adjudicator.", nil, nil),
		pending: prometheus.NewDesc("assent_dedup_pending_searches",
			"Deduplication searches a gallery shard left unfinished (their captures answered deduplication pending), waiting to be completed.", nil, nil),
		gallery:      prometheus.NewDesc("assent_gallery_templates", "Templates in the 1:N gallery of each modality.", []string{"modality"}, nil),
		auditEntries: prometheus.NewDesc("assent_audit_entries", "Events in the audit log.", nil, nil),
		checkpointed: prometheus.NewDesc("assent_audit_checkpointed_entries", "Audit events covered by the latest signed checkpoint.", nil, nil),
		checkpointAge: prometheus.NewDesc("assent_audit_checkpoint_age_seconds",
			"Age of the oldest audit event that no signed checkpoint covers yet (0 when every event is covered): how long an entry has been open to undetected change.", nil, nil),
	}
}

// Watch sets the registry the gauges read.
func (m *Metrics) Watch(src Source) { m.src = src }

// Register registers every metric with r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.registered, m.captures, m.denials, m.statsErrors, m.turnWait, m.turnHeld, m} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Registered implements registry.Observer.
func (m *Metrics) Registered() { m.registered.Inc() }

// Captured implements registry.Observer.
func (m *Metrics) Captured(modality, outcome string) {
	m.captures.WithLabelValues(modality, outcome).Inc()
}

// DedupTurn implements registry.TurnObserver.
func (m *Metrics) DedupTurn(modality string, waited, held time.Duration) {
	m.turnWait.WithLabelValues(modality).Observe(waited.Seconds())
	m.turnHeld.WithLabelValues(modality).Observe(held.Seconds())
}

// Denied implements registry.Observer.
func (m *Metrics) Denied(reason string) { m.denials.WithLabelValues(reason).Inc() }

// Describe implements prometheus.Collector (the gauges).
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.openCases, m.pending, m.gallery, m.auditEntries, m.checkpointed, m.checkpointAge} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the gauges from the
// registry (one read transaction, at most 5 s).
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if m.src == nil {
		return
	}
	for cat, n := range m.src.GallerySizes() {
		ch <- prometheus.MustNewConstMetric(m.gallery, prometheus.GaugeValue, float64(n), string(cat))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := m.src.OpsStats(ctx)
	if err != nil {
		m.statsErrors.Inc()
		m.log.Warn("metrics: registry figures unreadable", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.openCases, prometheus.GaugeValue, float64(st.OpenCases))
	ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(st.PendingSearches))
	ch <- prometheus.MustNewConstMetric(m.auditEntries, prometheus.GaugeValue, float64(st.AuditEntries))
	ch <- prometheus.MustNewConstMetric(m.checkpointed, prometheus.GaugeValue, float64(st.Checkpointed))
	age := 0.0
	if !st.OldestUncovered.IsZero() {
		age = max(0, m.now().Sub(st.OldestUncovered).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.checkpointAge, prometheus.GaugeValue, age)
}
