// Package benchpop measures enrolment with 1:N deduplication against a
// synthetic population (assent bench enrol). It writes the population
// straight into a store of its own (a temporary one: never a registry's
// data directory), then measures a registry started on it: the gallery
// load, its memory, and new enrolments through the registry's gated use
// cases (CreatePerson, EnrolTemplate), audited like any other.
package benchpop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
)

// Options shape Run.
type Options struct {
	People   int    // enrolled population (two fingers and two irises each)
	Probes   int    // enrolments measured against it
	Seed     uint64 // synthetic data seed
	Progress func(stage string, done, total int)
	// LoadKeys, when set, is called once the population is written: the
	// keyring the registry loads and enrols with from then on (assent bench
	// enrol --keys copies the keys written in memory into a real key store).
	LoadKeys func(ctx context.Context) (registry.Keyring, error)
	// Populate names the population writer: PopulateFast (the default) or
	// PopulateUseCase.
	Populate string
	// Kept: db already holds persons [0, Kept) of Seed, written by earlier
	// runs (a kept store); Run writes only persons [Kept, People), none
	// when Kept >= People, and measures the whole population.
	Kept int
	// ProbeSeed varies the probes between runs over one kept population
	// (the probes of an earlier run are enrolled in it: the same probes
	// again would be their duplicates).
	ProbeSeed uint64
	// Snapshot, when set, is the path of a gallery snapshot
	// (internal/dedup): a run that finds one there made by this code for
	// this population starts from it instead of the store (as a gallery
	// shard does; nothing changed the population since, so there is no
	// stream to apply); every run writes one there after its probes, then
	// loads it into a fresh gallery and reports both. The keyring must
	// seal and open snapshot records (envelope.Keyring does).
	// A population written (or extended) by this run makes a snapshot
	// found there out of date: it is not used.
	Snapshot string
	// PopulateOnly stops Run once the population is written (no load, no
	// probes): a large population written in steps, each kept (--data)
	// before the next, so that a stopped step loses only itself.
	PopulateOnly bool
	// Trace, when set, writes an execution trace (runtime/trace: go tool
	// trace) of each snapshot load: the start's to Trace, the one after
	// the write to Trace + ".reload".
	Trace string
}

// Report is what Run measured.
type Report struct {
	People          int     `json:"people"`
	Templates       int     `json:"templates"`
	Populate        string  `json:"populate"` // fast, usecase or existing
	PopulateSeconds float64 `json:"populate_seconds"`
	// CPU time of the whole process while populating (every core).
	PopulateCPUSeconds float64 `json:"populate_cpu_seconds"`
	PopulatePerSecond  float64 `json:"populate_people_per_second"`
	LoadSeconds        float64 `json:"gallery_load_seconds"`
	// CPU time of the whole process during the load (every core): on a
	// shared machine, a steadier figure than the wall time.
	LoadCPUSeconds float64 `json:"gallery_load_cpu_seconds"`
	// of which system time, and the minor page faults of the load (a
	// snapshot's load only)
	LoadSysSeconds float64 `json:"gallery_load_sys_seconds,omitempty"`
	LoadFaults     int64   `json:"gallery_load_minor_faults,omitempty"`
	BytesPerPerson float64 `json:"gallery_bytes_per_person"`
	// The process's resident memory sampled during the load (every 20 ms):
	// before it, its peak, and the peak of its anonymous part (the Go heap
	// and the rest, without mapped files such as SQLite's database map).
	LoadRSSBefore   int64 `json:"gallery_load_rss_before_bytes"`
	LoadPeakRSS     int64 `json:"gallery_load_peak_rss_bytes"`
	LoadPeakRSSAnon int64 `json:"gallery_load_peak_rss_anon_bytes"`
	// Of which (per person): fingerprint cylinders, fingerprint index, iris
	// codes and masks; the rest is keys and bookkeeping.
	FingerCylinderBytes float64 `json:"fingerprint_cylinder_bytes_per_person"`
	FingerIndexBytes    float64 `json:"fingerprint_index_bytes_per_person"`
	IrisBytes           float64 `json:"iris_bytes_per_person"`
	OtherBytes          float64 `json:"other_bytes_per_person"`
	Probes              int     `json:"probes"`
	EnrolP50MS          float64 `json:"enrol_p50_ms"`
	EnrolP95MS          float64 `json:"enrol_p95_ms"`
	EnrolMaxMS          float64 `json:"enrol_max_ms"`
	// One capture (search, store, cases) by modality.
	FingerCaptureP50MS float64 `json:"fingerprint_capture_p50_ms"`
	FingerCaptureP95MS float64 `json:"fingerprint_capture_p95_ms"`
	IrisCaptureP50MS   float64 `json:"iris_capture_p50_ms"`
	IrisCaptureP95MS   float64 `json:"iris_capture_p95_ms"`
	DuplicatesFound    int     `json:"duplicates_found"`    // probes that were mates of enrolled people
	DuplicatesExpected int     `json:"duplicates_expected"` // of how many
	FalseCandidates    int     `json:"false_candidates"`    // candidates that were not mates
	DedupPending       int     `json:"deduplication_pending"`
	// LoadSource is where the gallery the probes searched came from:
	// "store", or "snapshot" (Options.Snapshot).
	LoadSource string `json:"gallery_load_source"`
	// With Options.Snapshot: the write after the probes, and a load of it
	// into a fresh gallery (the first load's gallery released before):
	// wall and CPU seconds, the file's bytes, the persons and templates
	// loaded, and the process's peak resident memory sampled during the
	// load (with the gallery's own bytes, Memory, for comparison).
	SnapshotWriteSeconds     float64 `json:"snapshot_write_seconds,omitempty"`
	SnapshotWriteCPUSeconds  float64 `json:"snapshot_write_cpu_seconds,omitempty"`
	SnapshotBytes            int64   `json:"snapshot_bytes,omitempty"`
	SnapshotLoadSeconds      float64 `json:"snapshot_load_seconds,omitempty"`
	SnapshotLoadCPUSeconds   float64 `json:"snapshot_load_cpu_seconds,omitempty"`
	SnapshotLoadSysSeconds   float64 `json:"snapshot_load_sys_seconds,omitempty"` // of the CPU
	SnapshotLoadFaults       int64   `json:"snapshot_load_minor_faults,omitempty"`
	SnapshotLoadCPUPerPerson float64 `json:"snapshot_load_cpu_us_per_person,omitempty"`
	SnapshotPersons          int     `json:"snapshot_persons,omitempty"`
	SnapshotTemplates        int     `json:"snapshot_templates,omitempty"`
	SnapshotSkipped          int     `json:"snapshot_skipped,omitempty"`
	SnapshotPeakRSS          int64   `json:"snapshot_load_peak_rss_bytes,omitempty"`
	SnapshotRSSBefore        int64   `json:"snapshot_load_rss_before_bytes,omitempty"`
	SnapshotGalleryBytes     int64   `json:"snapshot_gallery_bytes,omitempty"`
}

type capture struct {
	cat consent.Category
	pos string
	raw []byte
}

type marshaler interface{ MarshalBinary() ([]byte, error) }

func marshal(t marshaler) []byte {
	b, err := t.MarshalBinary()
	if err != nil {
		panic("benchpop: a synthetic template does not serialise: " + err.Error())
	}
	return b
}

// Run writes People persons (deduplication consents, two fingerprint and two
// iris templates each, sealed under keys) into db, which must be empty and
// used by nothing else, with the writer opt.Populate names (PopulateFast by
// default), or only those opt.Kept says an earlier run did not write there
// with the same Seed; starts a registry on it with ropt's options and
// an in-process gallery, loading it as a server start does (timed, with
// memory); then enrols Probes new people through the registry's use cases
// (half of them mates of enrolled people) and reports latency percentiles.
// Extraction is not included (templates are synthetic); add the engines'
// extraction time.
func Run(ctx context.Context, db store.Store, keys registry.Keyring, ropt registry.Options, opt Options) (Report, error) {
	rng := rand.New(rand.NewPCG(opt.Seed^opt.ProbeSeed, 0xbe7c4))
	if opt.Populate == "" {
		opt.Populate = PopulateFast
	}
	rep := Report{People: opt.People, Probes: opt.Probes, Populate: opt.Populate}
	progress := func(stage string) func(done, total int) {
		return func(done, total int) {
			if opt.Progress != nil {
				opt.Progress(stage, done, total)
			}
		}
	}
	// ids[i] is person i's record id when the registry chose it (use cases).
	var ids []string
	if opt.Kept >= opt.People {
		rep.Populate = "existing"
		rep.Templates = 4 * opt.People
	} else {
		if opt.Kept == 0 {
			if err := putArea(ctx, db); err != nil {
				return rep, err
			}
		} else if opt.Populate != PopulateFast {
			return rep, fmt.Errorf("benchpop: only the fast writer extends a kept population")
		}
		start, cpu0 := time.Now(), cpuTime()
		switch opt.Populate {
		case PopulateFast:
			n, err := populateFast(ctx, db, keys, opt.Seed, opt.Kept, opt.People, progress("populate"))
			if err != nil {
				return rep, err
			}
			rep.Templates = 4*opt.Kept + n
		case PopulateUseCase:
			wopt := ropt
			wopt.Galleries = dedup.NewLocal()
			var err error
			ids, rep.Templates, err = populateUseCase(ctx, registry.New(db, keys, wopt), opt.Seed, opt.People, progress("populate"))
			if err != nil {
				return rep, err
			}
		default:
			return rep, fmt.Errorf("benchpop: populate %q: want %q or %q", opt.Populate, PopulateFast, PopulateUseCase)
		}
		rep.PopulateSeconds = time.Since(start).Seconds()
		rep.PopulateCPUSeconds = (cpuTime() - cpu0).Seconds()
		if rep.PopulateSeconds > 0 {
			rep.PopulatePerSecond = float64(opt.People-opt.Kept) / rep.PopulateSeconds
		}
	}
	if opt.PopulateOnly {
		rep.Probes = 0
		return rep, nil
	}
	idOf := func(i int) string {
		if ids != nil {
			return ids[i]
		}
		return drawPerson(opt.Seed, i).id
	}

	// A server start: a registry on the store, its galleries loaded.
	if opt.LoadKeys != nil {
		var err error
		if keys, err = opt.LoadKeys(ctx); err != nil {
			return rep, err
		}
	}
	var snapKeys dedup.SnapshotKeys
	if opt.Snapshot != "" {
		var ok bool
		if snapKeys, ok = keys.(dedup.SnapshotKeys); !ok {
			return rep, fmt.Errorf("benchpop: the keyring %T cannot seal snapshot records", keys)
		}
	}
	// The bench's own work before the load (its key file decoded, the keys
	// copied into the key store: gigabytes of garbage at a million) is
	// collected and its memory handed back to the system, as before a
	// reload (snapshotRound): a shard starts without it (resident before
	// a million's load: 1.4 GB instead of 3.7 to 5.5; docs/galleries.md,
	// "At a million people, sixteenth session").
	runtime.GC()
	debug.FreeOSMemory()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var local *dedup.Local
	var reg *registry.Registry
	rep.LoadSource = "store"
	rep.LoadRSSBefore = rss()
	stopRSS := peakSampler() // the resident memory while the galleries load
	if opt.Snapshot != "" && rep.Populate == "existing" {
		stopTrace, err := startTrace(opt.Trace)
		if err != nil {
			return rep, err
		}
		cpu0 := cpuTime()
		sys0, flt0 := sysTime()
		l, _, st, err := dedup.LoadSnapshot(ctx, opt.Snapshot, snapKeys, 0, 1)
		sys1, flt1 := sysTime()
		stopTrace()
		switch {
		case err == nil:
			local = l
			rep.LoadSource = "snapshot"
			rep.LoadSeconds = st.Duration.Seconds()
			rep.LoadCPUSeconds = (cpuTime() - cpu0).Seconds()
			rep.LoadSysSeconds, rep.LoadFaults = (sys1 - sys0).Seconds(), flt1-flt0
			ropt.Galleries = loaded{l}
			reg = registry.New(db, keys, ropt)
		case errors.Is(err, dedup.ErrSnapshot):
			if opt.Progress != nil {
				opt.Progress("snapshot unusable, loading the store", 0, 0)
			}
		default:
			return rep, err
		}
	}
	if local == nil {
		local = dedup.NewLocal()
		ropt.Galleries = local
		reg = registry.New(db, keys, ropt)
		cpu0 := cpuTime()
		st, err := reg.LoadGalleries(ctx, func(done int) {
			if opt.Progress != nil {
				opt.Progress("load", done, rep.Templates)
			}
		})
		if err != nil {
			return rep, err
		}
		rep.LoadSeconds = st.Duration.Seconds()
		rep.LoadCPUSeconds = (cpuTime() - cpu0).Seconds()
	}
	rep.LoadPeakRSS, rep.LoadPeakRSSAnon = stopRSS()
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.BytesPerPerson = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(max(1, opt.People))
	mem := local.Memory()
	per := func(n int) float64 { return float64(n) / float64(max(1, opt.People)) }
	rep.FingerCylinderBytes, rep.FingerIndexBytes, rep.IrisBytes = per(mem.FingerprintCylinders), per(mem.FingerprintIndex), per(mem.Iris)
	// The rest is the heap's growth less the parts the galleries count; at
	// a few persons the heap's growth is noise (a collection can shrink it
	// below the parts), so it is never reported negative.
	rep.OtherBytes = max(0, rep.BytesPerPerson-rep.FingerCylinderBytes-rep.FingerIndexBytes-rep.IrisBytes)

	// Probes: new people enrolled with deduplication; every other one is a
	// mate of an enrolled person (another capture of the same fingers/eyes).
	actor := registry.Actor{OperatorID: "bench", Role: consent.Registrar, Site: "bench", Route: "assent bench enrol"}
	var lat []float64
	capLat := map[consent.Category][]float64{}
	// Mated probes draw enrolled persons without replacement while there
	// are any left; a probe that mates a person an earlier probe mated
	// also finds that probe (the same synthetic person twice): such a
	// candidate is a true duplicate, not a false one.
	mated := map[int]bool{}
	probeOf := map[string]string{} // probe's person id -> the id it mates
	for k := range opt.Probes {
		var mateOf string
		var caps []capture
		if k%2 == 0 && opt.People > 0 {
			i := rng.IntN(opt.People)
			for len(mated) < opt.People && mated[i] {
				i = rng.IntN(opt.People)
			}
			mated[i] = true
			mateOf = idOf(i)
			caps = drawPerson(opt.Seed, i).mateCaptures(rng)
			rep.DuplicatesExpected++
		} else {
			f := [2]synth.Finger{synth.NewFinger(rng), synth.NewFinger(rng)}
			caps = []capture{{consent.Fingerprint, "right_index", marshal(f[0].Template())}, {consent.Fingerprint, "left_index", marshal(f[1].Template())},
				{consent.Iris, "right_eye", marshal(eyeSynth.Template(eyeSynth.Field(rng), rng))}, {consent.Iris, "left_eye", marshal(eyeSynth.Template(eyeSynth.Field(rng), rng))}}
		}
		t0 := time.Now()
		np, err := reg.CreatePerson(ctx, actor, consent.Registration, registry.NewPerson{GivenName: fmt.Sprintf("Probe%d", k), FamilyName: "Bench", BirthDate: "1990-01-01",
			Sex: "unknown", AreaCode: "B", Consent: &registry.ConsentInput{Method: "bench", NoticeVersion: "1", Language: "en",
				Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "iris", Purpose: "deduplication", Decision: "granted"}}}})
		if err != nil {
			return rep, err
		}
		found := map[string]bool{}
		pending := false
		for _, c := range caps {
			c0 := time.Now()
			out, err := reg.EnrolTemplate(ctx, actor, consent.Deduplication, np.ID, c.cat, c.pos, c.raw)
			if err != nil {
				return rep, err
			}
			capLat[c.cat] = append(capLat[c.cat], float64(time.Since(c0).Microseconds())/1000)
			for _, d := range out.Duplicates {
				found[d.PersonID] = true
			}
			pending = pending || out.Deduplication == registry.DedupPending
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		if pending {
			rep.DedupPending++
		}
		if mateOf != "" {
			probeOf[np.ID] = mateOf
		}
		for p := range found {
			switch {
			case p == mateOf:
				rep.DuplicatesFound++
			case mateOf != "" && probeOf[p] == mateOf:
				// an earlier probe of the same person: a true duplicate
			default:
				rep.FalseCandidates++
			}
		}
		if opt.Progress != nil {
			opt.Progress("enrol", k+1, opt.Probes)
		}
	}
	rep.EnrolP50MS, rep.EnrolP95MS = percentile(lat, 0.5), percentile(lat, 0.95)
	rep.FingerCaptureP50MS, rep.FingerCaptureP95MS = percentile(capLat[consent.Fingerprint], 0.5), percentile(capLat[consent.Fingerprint], 0.95)
	rep.IrisCaptureP50MS, rep.IrisCaptureP95MS = percentile(capLat[consent.Iris], 0.5), percentile(capLat[consent.Iris], 0.95)
	if len(lat) > 0 {
		rep.EnrolMaxMS = lat[len(lat)-1]
	}
	if opt.Snapshot != "" {
		if err := snapshotRound(ctx, local, snapKeys, opt.Snapshot, opt.Trace, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// snapshotRound writes the gallery's snapshot to path, releases the
// gallery, and loads the snapshot into a fresh one, measuring both.
func snapshotRound(ctx context.Context, local *dedup.Local, keys dedup.SnapshotKeys, path, tracePath string, rep *Report) error {
	cpu0 := cpuTime()
	ws, err := local.WriteSnapshot(ctx, path, keys, dedup.NewSnapshotHeader(0, 1, 0))
	if err != nil {
		return err
	}
	rep.SnapshotWriteSeconds, rep.SnapshotWriteCPUSeconds = ws.Duration.Seconds(), (cpuTime() - cpu0).Seconds()
	rep.SnapshotBytes = ws.Bytes
	want := local.Sizes()
	local = nil
	runtime.GC()
	debug.FreeOSMemory()
	rep.SnapshotRSSBefore = rss()
	if tracePath != "" {
		tracePath += ".reload"
	}
	stopTrace, err := startTrace(tracePath)
	if err != nil {
		return err
	}
	stop := peakSampler() // the resident memory while the load runs
	cpu0 = cpuTime()
	sys0, flt0 := sysTime()
	l, _, st, err := dedup.LoadSnapshot(ctx, path, keys, 0, 1)
	cpu := cpuTime() - cpu0
	sys1, flt1 := sysTime()
	rep.SnapshotLoadSysSeconds, rep.SnapshotLoadFaults = (sys1 - sys0).Seconds(), flt1-flt0
	stopTrace()
	rep.SnapshotPeakRSS, _ = stop()
	if err != nil {
		return err
	}
	rep.SnapshotLoadSeconds, rep.SnapshotLoadCPUSeconds = st.Duration.Seconds(), cpu.Seconds()
	rep.SnapshotPersons, rep.SnapshotSkipped = st.Persons, st.Skipped
	rep.SnapshotLoadCPUPerPerson = cpu.Seconds() * 1e6 / float64(max(1, st.Persons))
	for _, n := range st.Templates {
		rep.SnapshotTemplates += n
	}
	m := l.Memory()
	rep.SnapshotGalleryBytes = int64(m.FingerprintCylinders + m.FingerprintIndex + m.Iris)
	if got := l.Sizes(); got[dedup.Fingerprint] != want[dedup.Fingerprint] || got[dedup.Iris] != want[dedup.Iris] {
		return fmt.Errorf("benchpop: the snapshot loaded %v templates, the gallery held %v", got, want)
	}
	return nil
}

// startTrace writes an execution trace to path until stop is called; no
// trace if path is empty.
func startTrace(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("benchpop: trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("benchpop: trace: %w", err)
	}
	return func() {
		trace.Stop()
		f.Close()
	}, nil
}

// loaded is a gallery loaded from a snapshot, handed to the registry as
// a gallery service that needs no LoadGalleries.
type loaded struct{ l *dedup.Local }

func (g loaded) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	return g.l.Search(ctx, modality, probe, exclude)
}
func (g loaded) Add(ctx context.Context, modality, personID, ref string, template []byte) error {
	return g.l.Add(ctx, modality, personID, ref, template)
}
func (g loaded) Remove(ctx context.Context, personID, ref string) error {
	return g.l.Remove(ctx, personID, ref)
}
func (g loaded) Sizes() map[string]int { return g.l.Sizes() }
func (g loaded) SearchDecoded(ctx context.Context, modality string, probe any, exclude string) ([]string, bool, error) {
	return g.l.SearchDecoded(ctx, modality, probe, exclude)
}
func (g loaded) AddDecoded(ctx context.Context, modality, personID, ref string, t any) error {
	return g.l.AddDecoded(ctx, modality, personID, ref, t)
}

// percentile sorts xs and returns its p-th percentile (nearest rank).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(math.Ceil(p*float64(len(xs))))-1)]
}
