// Package benchpop measures enrolment with 1:N deduplication against a
// synthetic population (assent bench enrol). It writes the population
// straight into a store of its own (a temporary one: never a registry's
// data directory), then measures a registry started on it: the gallery
// load, its memory, and new enrolments through the registry's gated use
// cases (CreatePerson, EnrolTemplate), audited like any other.
package benchpop

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
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
}

// Report is what Run measured.
type Report struct {
	People          int     `json:"people"`
	Templates       int     `json:"templates"`
	PopulateSeconds float64 `json:"populate_seconds"`
	LoadSeconds     float64 `json:"gallery_load_seconds"`
	// CPU time of the whole process during the load (every core): on a
	// shared machine, a steadier figure than the wall time.
	LoadCPUSeconds float64 `json:"gallery_load_cpu_seconds"`
	BytesPerPerson float64 `json:"gallery_bytes_per_person"`
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
// iris templates each, sealed under keys) straight into db, which must be
// empty and used by nothing else; starts a registry on it with opt's
// options and an in-process gallery, loading it as a server start does
// (timed, with memory); then enrols Probes new people through the
// registry's use cases (half of them mates of enrolled people) and reports
// latency percentiles. Extraction is not included (templates are
// synthetic); add the engines' extraction time.
func Run(ctx context.Context, db store.Store, keys registry.Keyring, ropt registry.Options, opt Options) (Report, error) {
	rng := rand.New(rand.NewPCG(opt.Seed, 0xbe7c4))
	eyeSynth := iris.NewSynth(iris.DefaultRows, iris.DefaultCols)
	rep := Report{People: opt.People, Probes: opt.Probes}
	// Each person keeps only ids and seeds: the eyes' fields (32 KiB each)
	// are drawn again from the seed when a mate is needed.
	type person struct {
		id      string
		fingers [2]synth.Finger
		eyeSeed uint64
	}
	eyes := func(seed uint64) [2][]float64 {
		er := rand.New(rand.NewPCG(seed, 0xe7e))
		return [2][]float64{eyeSynth.Field(er), eyeSynth.Field(er)}
	}
	people := make([]person, opt.People)
	// Persons name an existing area: the bench population lives in one.
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.PutArea(ctx, store.Area{Code: "B", Name: "Bench area", UpdatedAt: time.Now().UTC()})
	}); err != nil {
		return rep, err
	}
	start := time.Now()
	const batch = 500
	for lo := 0; lo < opt.People; lo += batch {
		hi := min(lo+batch, opt.People)
		err := db.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				p := &people[i]
				p.id = uuid.NewString()
				p.fingers = [2]synth.Finger{synth.NewFinger(rng), synth.NewFinger(rng)}
				p.eyeSeed = rng.Uint64()
				pe := eyes(p.eyeSeed)
				now := time.Now().UTC().Truncate(time.Millisecond)
				sp := store.Person{ID: p.id, Status: store.StatusActive, AreaCode: "B", Site: "bench", Version: 1, CreatedAt: now, UpdatedAt: now}
				if err := registry.SealIdentity(ctx, keys, &sp, registry.Identity{GivenName: fmt.Sprintf("P%d", i), FamilyName: "Bench", BirthDate: "1980-01-01", Sex: "unknown"}); err != nil {
					return err
				}
				if err := tx.CreatePerson(ctx, sp); err != nil {
					return err
				}
				for _, pair := range [][2]string{{"identity", "registration"}, {"fingerprint", "deduplication"}, {"iris", "deduplication"}} {
					if _, err := tx.AppendConsent(ctx, store.ConsentRecord{PersonID: p.id, Category: pair[0], Purpose: pair[1], Decision: "granted",
						Method: "bench", NoticeVersion: "1", Language: "en", At: now}); err != nil {
						return err
					}
				}
				caps := []capture{
					{consent.Fingerprint, "right_index", marshal(p.fingers[0].Template())}, {consent.Fingerprint, "left_index", marshal(p.fingers[1].Template())},
					{consent.Iris, "right_eye", marshal(eyeSynth.Template(pe[0], rng))}, {consent.Iris, "left_eye", marshal(eyeSynth.Template(pe[1], rng))},
				}
				for _, c := range caps {
					sealed, err := registry.SealTemplate(ctx, keys, p.id, c.cat, c.raw)
					if err != nil {
						return err
					}
					if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: uuid.NewString(), PersonID: p.id, Category: string(c.cat), Position: c.pos,
						Format: registry.FormatImage, Purpose: string(consent.Deduplication), TemplateSealed: sealed, CreatedAt: now}); err != nil {
						return err
					}
					rep.Templates++
				}
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		if opt.Progress != nil {
			opt.Progress("populate", hi, opt.People)
		}
	}
	rep.PopulateSeconds = time.Since(start).Seconds()

	// A server start: a registry on the store, its galleries loaded.
	if opt.LoadKeys != nil {
		var err error
		if keys, err = opt.LoadKeys(ctx); err != nil {
			return rep, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	local := dedup.NewLocal()
	ropt.Galleries = local
	reg := registry.New(db, keys, ropt)
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
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.BytesPerPerson = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(max(1, opt.People))
	mem := local.Memory()
	per := func(n int) float64 { return float64(n) / float64(max(1, opt.People)) }
	rep.FingerCylinderBytes, rep.FingerIndexBytes, rep.IrisBytes = per(mem.FingerprintCylinders), per(mem.FingerprintIndex), per(mem.Iris)
	rep.OtherBytes = rep.BytesPerPerson - rep.FingerCylinderBytes - rep.FingerIndexBytes - rep.IrisBytes

	// Probes: new people enrolled with deduplication; every other one is a
	// mate of an enrolled person (another capture of the same fingers/eyes).
	actor := registry.Actor{OperatorID: "bench", Role: consent.Registrar, Site: "bench", Route: "assent bench enrol"}
	var lat []float64
	capLat := map[consent.Category][]float64{}
	for k := range opt.Probes {
		var mateOf string
		var caps []capture
		if k%2 == 0 && opt.People > 0 {
			src := people[rng.IntN(opt.People)]
			mateOf = src.id
			e := eyes(src.eyeSeed)
			caps = []capture{{consent.Fingerprint, "right_index", marshal(src.fingers[0].Mate(rng))}, {consent.Fingerprint, "left_index", marshal(src.fingers[1].Mate(rng))},
				{consent.Iris, "right_eye", marshal(eyeSynth.Mate(e[0], rng))}, {consent.Iris, "left_eye", marshal(eyeSynth.Mate(e[1], rng))}}
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
		for p := range found {
			if p == mateOf {
				rep.DuplicatesFound++
			} else {
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
	return rep, nil
}

// percentile sorts xs and returns its p-th percentile (nearest rank).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(math.Ceil(p*float64(len(xs))))-1)]
}
