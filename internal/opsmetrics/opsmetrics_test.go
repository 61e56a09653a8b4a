package opsmetrics

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsFollowTheRegistry drives a registry through a registration, a
// policy denial, a capture too poor to enrol and an unusable one, and reads
// the metrics a programme would see.
func TestMetricsFollowTheRegistry(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	master, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, master, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	alog, err := registry.NewAuditLog(ctx, db, kr, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	m := New(quiet)
	reg := registry.New(db, kr, registry.Options{Logger: quiet, Audit: alog, Observer: m})
	m.Watch(reg)
	prom := prometheus.NewRegistry()
	if err := m.Register(prom); err != nil {
		t.Fatal(err)
	}

	if _, err := reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	r := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	p, err := reg.CreatePerson(ctx, r, consent.Registration, registry.NewPerson{GivenName: "Ada", FamilyName: "Metric", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
			Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, prom, "assent_persons_registered_total", ""); got != 1 {
		t.Errorf("registered = %v, want 1", got)
	}
	// An auditor may not read a person: a policy denial.
	if _, err := reg.GetPerson(ctx, registry.Actor{OperatorID: "aud", Role: consent.Auditor}, consent.Registration, p.ID); err == nil {
		t.Fatal("an auditor read a person")
	}
	if got := value(t, prom, "assent_policy_denials_total", `reason="role_not_allowed"`); got != 1 {
		t.Errorf("denials{role_not_allowed} = %v, want 1\n%s", got, dump(t, prom))
	}
	// A blank grey image has no ridges: too poor to enrol (an exclusion signal).
	img := image.NewGray(image.Rect(0, 0, 300, 300))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	img.SetGray(0, 0, color.Gray{Y: 127})
	var blank bytes.Buffer
	if err := png.Encode(&blank, img); err != nil {
		t.Fatal(err)
	}
	capture := registry.Capture{Modality: "fingerprint", Position: "left_index", Format: "image", Data: blank.Bytes(), DPI: 500}
	if _, err := reg.EnrolBiometric(ctx, r, consent.Deduplication, p.ID, capture); err == nil {
		t.Fatal("a blank image was enrolled")
	}
	capture.Data = []byte("not an image")
	if _, err := reg.EnrolBiometric(ctx, r, consent.Deduplication, p.ID, capture); err == nil {
		t.Fatal("garbage was enrolled")
	}
	for outcome, want := range map[string]float64{registry.CodeQualityTooLow: 1, registry.CodeInvalidCapture: 1, registry.OutcomeEnrolled: 0} {
		if got := value(t, prom, "assent_captures_total", `modality="fingerprint",outcome="`+outcome+`"`); got != want {
			t.Errorf("captures{fingerprint,%s} = %v, want %v\n%s", outcome, got, want, dump(t, prom))
		}
	}
	// A template enrolled for deduplication takes the fingerprint turn once.
	raw, err := synth.NewFinger(rand.New(rand.NewPCG(1, 2))).Template().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.LoadGalleries(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.EnrolTemplate(ctx, r, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"assent_dedup_turn_held_seconds", "assent_dedup_turn_wait_seconds"} {
		if n := histCount(t, prom, name, "fingerprint"); n != 1 {
			t.Errorf("%s{fingerprint}: %d observations, want 1", name, n)
		}
	}
	// Gauges: no case open, empty galleries, audit events not yet covered
	// by a checkpoint (age > 0), then covered (age 0).
	m.now = func() time.Time { return time.Now().Add(time.Minute) }
	out := dump(t, prom)
	for _, want := range []string{"assent_cases_open 0", "assent_dedup_pending_searches 0", `assent_gallery_templates{modality="fingerprint"} 1`, "assent_audit_checkpointed_entries 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if age := gauge(t, prom, "assent_audit_checkpoint_age_seconds"); age < 59 {
		t.Errorf("checkpoint age %v before any checkpoint, want about 60 s", age)
	}
	if _, err := alog.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if age := gauge(t, prom, "assent_audit_checkpoint_age_seconds"); age != 0 {
		t.Errorf("checkpoint age %v after a checkpoint, want 0", age)
	}
	if gauge(t, prom, "assent_audit_entries") != gauge(t, prom, "assent_audit_checkpointed_entries") {
		t.Errorf("after a checkpoint every entry is covered:\n%s", dump(t, prom))
	}
	if strings.Contains(dump(t, prom), "Metric") || strings.Contains(dump(t, prom), p.ID) {
		t.Errorf("metrics carry personal data")
	}
}

func dump(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			if len(m.GetLabel()) > 0 {
				b.WriteString("{")
				for i, l := range m.GetLabel() {
					if i > 0 {
						b.WriteString(",")
					}
					b.WriteString(l.GetName() + `="` + l.GetValue() + `"`)
				}
				b.WriteString("}")
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			b.WriteString(" " + strconv.FormatFloat(v, 'f', -1, 64) + "\n")
		}
	}
	return b.String()
}

// histCount is the number of observations of histogram name for modality.
func histCount(t *testing.T, g prometheus.Gatherer, name, modality string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == "modality" && l.GetValue() == modality {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// value is the sample name{labels} of the dump, or 0 when absent.
func value(t *testing.T, g prometheus.Gatherer, name, labels string) float64 {
	t.Helper()
	key := name
	if labels != "" {
		key += "{" + labels + "}"
	}
	for _, line := range strings.Split(dump(t, g), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}
