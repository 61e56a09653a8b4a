package registry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// EnrolBenchOptions shape BenchEnrolment.
type EnrolBenchOptions struct {
	People   int    // enrolled population (two fingers and two irises each)
	Probes   int    // enrolments measured against it
	Seed     uint64 // synthetic data seed
	Progress func(stage string, done, total int)
}

// EnrolBenchReport is what BenchEnrolment measured.
type EnrolBenchReport struct {
	People          int     `json:"people"`
	Templates       int     `json:"templates"`
	PopulateSeconds float64 `json:"populate_seconds"`
	LoadSeconds     float64 `json:"gallery_load_seconds"`
	BytesPerPerson  float64 `json:"gallery_bytes_per_person"`
	Probes          int     `json:"probes"`
	EnrolP50MS      float64 `json:"enrol_p50_ms"`
	EnrolP95MS      float64 `json:"enrol_p95_ms"`
	EnrolMaxMS      float64 `json:"enrol_max_ms"`
	// One capture (search, store, cases) by modality.
	FingerCaptureP50MS float64 `json:"fingerprint_capture_p50_ms"`
	FingerCaptureP95MS float64 `json:"fingerprint_capture_p95_ms"`
	IrisCaptureP50MS   float64 `json:"iris_capture_p50_ms"`
	IrisCaptureP95MS   float64 `json:"iris_capture_p95_ms"`
	DuplicatesFound    int     `json:"duplicates_found"`    // probes that were mates of enrolled people
	DuplicatesExpected int     `json:"duplicates_expected"` // of how many
	FalseCandidates    int     `json:"false_candidates"`    // candidates that were not mates
}

// synthFinger makes a plausible minutiae set: 35-60 minutiae spread over a
// 300x400 print, and mate() moves, turns and thins it like a new impression.
type synthFinger struct{ ms []fingerprint.Minutia }

func newSynthFinger(rng *rand.Rand) synthFinger {
	n := 35 + rng.IntN(26)
	ms := make([]fingerprint.Minutia, n)
	for i := range ms {
		ms[i] = fingerprint.Minutia{X: float32(40 + rng.Float64()*220), Y: float32(40 + rng.Float64()*320),
			Dir: float32(rng.Float64() * 2 * math.Pi), Type: uint8(1 + rng.IntN(2)), Quality: uint8(40 + rng.IntN(60))}
	}
	return synthFinger{ms: ms}
}

func (f synthFinger) template() *fingerprint.Template { return fingerprint.NewTemplate(300, 400, f.ms) }

func (f synthFinger) mate(rng *rand.Rand) *fingerprint.Template {
	a := (rng.Float64() - 0.5) * 0.4
	dx, dy := (rng.Float64()-0.5)*40, (rng.Float64()-0.5)*40
	c, s := math.Cos(a), math.Sin(a)
	var out []fingerprint.Minutia
	for _, m := range f.ms {
		if rng.Float64() < 0.15 {
			continue // missed in this impression
		}
		x, y := float64(m.X)-150, float64(m.Y)-200
		m.X = float32(150 + c*x - s*y + dx + rng.NormFloat64()*2)
		m.Y = float32(200 + s*x + c*y + dy + rng.NormFloat64()*2)
		m.Dir = float32(math.Mod(float64(m.Dir)+a+rng.NormFloat64()*0.1+4*math.Pi, 2*math.Pi))
		out = append(out, m)
	}
	return fingerprint.NewTemplate(300, 400, out)
}

type benchCapture struct {
	cat consent.Category
	pos string
	t   template
}

// BenchEnrolment measures enrolment with deduplication against a synthetic
// population: it writes People persons (consents for deduplication, two
// fingerprint and two iris templates each, sealed) straight into the store,
// rebuilds the galleries as a server start does (timed, with memory), then
// enrols Probes new people through the normal enrolment path (half of them
// mates of enrolled people) and reports latency percentiles. Extraction is
// not included (templates are synthetic); add the engines' extraction time.
// r must be on an empty store.
func (r *Registry) BenchEnrolment(ctx context.Context, opt EnrolBenchOptions) (EnrolBenchReport, error) {
	rng := rand.New(rand.NewPCG(opt.Seed, 0xbe7c4))
	synth := iris.NewSynth(iris.DefaultRows, iris.DefaultCols)
	rep := EnrolBenchReport{People: opt.People, Probes: opt.Probes}
	// Each person keeps only ids and seeds: the eyes' fields (32 KiB each)
	// are drawn again from the seed when a mate is needed.
	type person struct {
		id      string
		fingers [2]synthFinger
		eyeSeed uint64
	}
	eyes := func(seed uint64) [2][]float64 {
		er := rand.New(rand.NewPCG(seed, 0xe7e))
		return [2][]float64{synth.Field(er), synth.Field(er)}
	}
	people := make([]person, opt.People)
	if err := r.store.Update(ctx, func(tx store.Tx) error {
		return tx.PutArea(ctx, store.Area{Code: "B", Name: "Bench area", UpdatedAt: r.clock()})
	}); err != nil {
		return rep, err
	}
	actor := Actor{OperatorID: "bench", Role: consent.Registrar, Site: "bench", Route: "assent bench enrol"}
	start := time.Now()
	const batch = 500
	for lo := 0; lo < opt.People; lo += batch {
		hi := min(lo+batch, opt.People)
		err := r.store.Update(ctx, func(tx store.Tx) error {
			for i := lo; i < hi; i++ {
				p := &people[i]
				p.id = newID()
				p.fingers = [2]synthFinger{newSynthFinger(rng), newSynthFinger(rng)}
				p.eyeSeed = rng.Uint64()
				pe := eyes(p.eyeSeed)
				now := r.clock()
				sp := store.Person{ID: p.id, Status: store.StatusActive, AreaCode: "B", Site: "bench", Version: 1, CreatedAt: now, UpdatedAt: now}
				if err := r.sealIdentity(ctx, &sp, Identity{GivenName: fmt.Sprintf("P%d", i), FamilyName: "Bench", BirthDate: "1980-01-01", Sex: "unknown"}); err != nil {
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
				tmpls := []benchCapture{
					{consent.Fingerprint, "right_index", p.fingers[0].template()}, {consent.Fingerprint, "left_index", p.fingers[1].template()},
					{consent.Iris, "right_eye", synth.Template(pe[0], rng)}, {consent.Iris, "left_eye", synth.Template(pe[1], rng)},
				}
				for _, tm := range tmpls {
					raw, err := tm.t.MarshalBinary()
					if err != nil {
						return err
					}
					sealed, err := r.keys.Seal(ctx, p.id, string(tm.cat), kindTemplate, raw)
					if err != nil {
						return err
					}
					if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: newID(), PersonID: p.id, Category: string(tm.cat), Position: tm.pos,
						Format: FormatImage, Purpose: string(consent.Deduplication), TemplateSealed: sealed, CreatedAt: now}); err != nil {
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

	// A server start: galleries rebuilt from the store.
	r.gal = newGalleries()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := r.LoadGalleries(ctx, func(done int) {
		if opt.Progress != nil {
			opt.Progress("load", done, rep.Templates)
		}
	})
	if err != nil {
		return rep, err
	}
	rep.LoadSeconds = st.Duration.Seconds()
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.BytesPerPerson = float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc)) / float64(max(1, opt.People))

	// Probes: new people enrolled with deduplication; every other one is a
	// mate of an enrolled person (another capture of the same fingers/eyes).
	var lat []float64
	capLat := map[consent.Category][]float64{}
	for k := range opt.Probes {
		np, err := r.prepareNewPerson(actor, consent.Registration, NewPerson{GivenName: fmt.Sprintf("Probe%d", k), FamilyName: "Bench", BirthDate: "1990-01-01",
			Sex: "unknown", AreaCode: "B", Consent: &ConsentInput{Method: "bench", NoticeVersion: "1", Language: "en",
				Decisions: []DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "iris", Purpose: "deduplication", Decision: "granted"}}}})
		if err != nil {
			return rep, err
		}
		var mateOf string
		var caps []benchCapture
		if k%2 == 0 && opt.People > 0 {
			src := people[rng.IntN(opt.People)]
			mateOf = src.id
			caps = append(caps, benchCapture{consent.Fingerprint, "right_index", src.fingers[0].mate(rng)}, benchCapture{consent.Fingerprint, "left_index", src.fingers[1].mate(rng)}, benchCapture{consent.Iris, "right_eye", synth.Mate(eyes(src.eyeSeed)[0], rng)}, benchCapture{consent.Iris, "left_eye", synth.Mate(eyes(src.eyeSeed)[1], rng)})
			rep.DuplicatesExpected++
		} else {
			f := [2]synthFinger{newSynthFinger(rng), newSynthFinger(rng)}
			caps = append(caps, benchCapture{consent.Fingerprint, "right_index", f[0].template()}, benchCapture{consent.Fingerprint, "left_index", f[1].template()}, benchCapture{consent.Iris, "right_eye", synth.Template(synth.Field(rng), rng)}, benchCapture{consent.Iris, "left_eye", synth.Template(synth.Field(rng), rng)})
		}
		t0 := time.Now()
		if err := r.guard(ctx, np.access, func(tx store.Tx, _ map[string]*facts) error {
			_, err := r.insertPerson(ctx, tx, np)
			return err
		}); err != nil {
			return rep, err
		}
		found := map[string]bool{}
		for _, c := range caps {
			c0 := time.Now()
			out, err := r.enrolTemplate(ctx, actor, consent.Deduplication, np.id, c.cat, Capture{Position: c.pos, Format: FormatImage}, c.t, nil)
			if err != nil {
				return rep, err
			}
			capLat[c.cat] = append(capLat[c.cat], float64(time.Since(c0).Microseconds())/1000)
			for _, d := range out.Duplicates {
				found[d.PersonID] = true
			}
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
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
	pct := func(lat []float64, p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		slices.Sort(lat)
		return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)]
	}
	rep.EnrolP50MS, rep.EnrolP95MS = pct(lat, 0.5), pct(lat, 0.95)
	rep.FingerCaptureP50MS, rep.FingerCaptureP95MS = pct(capLat[consent.Fingerprint], 0.5), pct(capLat[consent.Fingerprint], 0.95)
	rep.IrisCaptureP50MS, rep.IrisCaptureP95MS = pct(capLat[consent.Iris], 0.5), pct(capLat[consent.Iris], 0.95)
	if len(lat) > 0 {
		rep.EnrolMaxMS = lat[len(lat)-1]
	}
	return rep, nil
}
