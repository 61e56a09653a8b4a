package benchpop

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// How the bench writes its population (Options.Populate).
const (
	// PopulateFast writes the rows an enrolment writes (person, sealed
	// identity, statistics projection, consents, sealed templates, keys in
	// the key store) straight through the store's Tx and the keyring, in
	// transactions of ChunkPeople persons, with the templates drawn and
	// sealed on every core. It skips what the population does not need: the
	// 1:N search at write time (the synthetic people are distinct by
	// construction), the audit entries, the consent receipts and portal
	// codes. See docs/galleries.md, "Benchmark code".
	PopulateFast = "fast"
	// PopulateUseCase enrols every person through the registry's use cases
	// (CreatePerson, then EnrolTemplate four times, each with its 1:N search
	// against the growing gallery), audited: the reference the fast writer
	// is tested against, at 60-110 people a second.
	PopulateUseCase = "usecase"
)

// ChunkPeople is how many persons the fast writer puts in one transaction.
const ChunkPeople = 2000

// benchSite and benchOperator are where and by whom the population was
// registered (the probes' actor too).
const (
	benchSite     = "bench"
	benchOperator = "bench"
	benchArea     = "B"
)

var eyeSynth = iris.NewSynth(iris.DefaultRows, iris.DefaultCols)

// synthPerson is person i of a population drawn with a seed. Everything
// about it (id, person number, identity, fingers, eyes) follows from (seed,
// i) alone, so a population written once can be measured again (a kept
// store, Options.Existing) and its mates drawn again without holding the
// population in memory.
type synthPerson struct {
	index   int
	id      string
	number  string
	ident   registry.Identity
	fingers [2]synth.Finger
	eyeSeed uint64
	rng     *rand.Rand // draws the enrolment captures' noise, after the above
}

// numberStride is odd and not a multiple of 5, so i -> offset + i*stride
// (mod 10^10) is a permutation: person numbers are distinct by
// construction (random draws would collide about 50 times in a million).
const numberStride = 3_141_592_653

func drawPerson(seed uint64, i int) synthPerson {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	n := (seed%10_000_000_000 + uint64(i)%10_000_000_000*numberStride) % 10_000_000_000
	digits := fmt.Sprintf("%010d", n)
	p := synthPerson{index: i, id: uuid.UUID(b).String(), number: digits + string(personnumber.CheckDigit(digits)), rng: rng}
	// Adults only: a minor's registration needs a guardian.
	p.ident = registry.Identity{GivenName: fmt.Sprintf("P%d", i), FamilyName: "Bench",
		BirthDate: fmt.Sprintf("%04d-%02d-%02d", 1940+rng.IntN(60), 1+rng.IntN(12), 1+rng.IntN(28)),
		Sex:       registry.Sexes[rng.IntN(len(registry.Sexes))]}
	p.fingers = [2]synth.Finger{synth.NewFinger(rng), synth.NewFinger(rng)}
	p.eyeSeed = rng.Uint64()
	return p
}

// eyes draws the two iris fields of an eye seed (32 KiB each: drawn again
// when a mate is needed rather than kept).
func eyes(seed uint64) [2][]float64 {
	er := rand.New(rand.NewPCG(seed, 0xe7e))
	return [2][]float64{field(er), field(er)}
}

// field is eyeSynth.Field(rng), bit for bit (the same draws, the same sums
// in the same order), without the two integer divisions per term that the
// circular indexing costs there: the population writer drew two fields a
// person, a quarter of its CPU time. TestFieldIsSynthField holds it to
// iris.Synth.Field.
func field(rng *rand.Rand) []float64 {
	s := eyeSynth
	f := make([]float64, s.Rows*2*s.Cols)
	tmp := make([]float64, s.Cols)
	for q := range s.Rows * 2 {
		row := f[q*s.Cols : (q+1)*s.Cols]
		for i := range row {
			row[i] = rng.NormFloat64()
		}
		smooth(row, tmp, s.Smooth)
		smooth(row, tmp, s.Smooth)
	}
	return f
}

// smooth is iris.Synth.smooth: a circular box filter of width w, then unit
// variance.
func smooth(row, tmp []float64, w int) {
	n, h := len(row), w/2
	for i := range n {
		var sum float64
		if i >= h && i+h < n {
			for _, v := range row[i-h : i+h+1] {
				sum += v
			}
		} else {
			for k := -h; k <= h; k++ {
				sum += row[((i+k)%n+n)%n]
			}
		}
		tmp[i] = sum
	}
	var ss float64
	for _, v := range tmp {
		ss += v * v
	}
	sd := math.Sqrt(ss / float64(n))
	for i := range row {
		row[i] = tmp[i] / sd
	}
}

// captures are the four enrolment captures of p (serialised templates).
func (p synthPerson) captures() []capture {
	e := eyes(p.eyeSeed)
	return []capture{
		{consent.Fingerprint, "right_index", marshal(p.fingers[0].Template())}, {consent.Fingerprint, "left_index", marshal(p.fingers[1].Template())},
		{consent.Iris, "right_eye", marshal(eyeSynth.Template(e[0], p.rng))}, {consent.Iris, "left_eye", marshal(eyeSynth.Template(e[1], p.rng))},
	}
}

// mateCaptures are other captures of p's fingers and eyes.
func (p synthPerson) mateCaptures(rng *rand.Rand) []capture {
	e := eyes(p.eyeSeed)
	return []capture{
		{consent.Fingerprint, "right_index", marshal(p.fingers[0].Mate(rng))}, {consent.Fingerprint, "left_index", marshal(p.fingers[1].Mate(rng))},
		{consent.Iris, "right_eye", marshal(eyeSynth.Mate(e[0], rng))}, {consent.Iris, "left_eye", marshal(eyeSynth.Mate(e[1], rng))},
	}
}

// decisions are the consents the population gives at registration, after
// the registration itself.
var decisions = []registry.DecisionInput{
	{Category: string(consent.Fingerprint), Purpose: string(consent.Deduplication), Decision: string(consent.Granted)},
	{Category: string(consent.Iris), Purpose: string(consent.Deduplication), Decision: string(consent.Granted)},
}

// rows is what one person's enrolment stores, sealed, ready to write.
type rows struct {
	person     store.Person
	stats      store.PersonStats
	consents   []store.ConsentRecord
	biometrics []store.Biometric
}

// prepare draws person i, seals its identity and templates under its keys
// (creating them in the key store) and returns the rows CreatePerson and
// EnrolTemplate would have written for it at time now.
func prepare(ctx context.Context, keys registry.Keyring, seed uint64, i int, now time.Time) (rows, error) {
	p := drawPerson(seed, i)
	r := rows{person: store.Person{ID: p.id, Number: p.number, Status: store.StatusActive, AreaCode: benchArea, Site: benchSite, Version: 1, CreatedAt: now, UpdatedAt: now}}
	if err := registry.SealIdentity(ctx, keys, &r.person, p.ident); err != nil {
		return r, err
	}
	// The statistics projection as registration writes it (birth year, sex).
	year := 0
	fmt.Sscanf(p.ident.BirthDate, "%4d", &year)
	r.stats = store.PersonStats{PersonID: p.id, AreaCode: benchArea, BirthYear: year, Sex: p.ident.Sex, Site: benchSite, OperatorID: benchOperator, RegisteredAt: now}
	mk := func(cat, purpose string) store.ConsentRecord {
		return store.ConsentRecord{PersonID: p.id, Category: cat, Purpose: purpose, Decision: string(consent.Granted), Method: "bench", NoticeVersion: "1",
			Language: "en", OperatorID: benchOperator, Site: benchSite, At: now}
	}
	r.consents = []store.ConsentRecord{mk(string(consent.Identity), string(consent.Registration))}
	for _, d := range decisions {
		r.consents = append(r.consents, mk(d.Category, d.Purpose))
	}
	for _, c := range p.captures() {
		sealed, err := registry.SealTemplate(ctx, keys, p.id, c.cat, c.raw)
		if err != nil {
			return r, err
		}
		r.biometrics = append(r.biometrics, store.Biometric{ReferenceID: uuid.NewString(), PersonID: p.id, Category: string(c.cat), Position: c.pos,
			Format: registry.FormatImage, Purpose: string(consent.Deduplication), TemplateSealed: sealed, CreatedAt: now})
	}
	return r, nil
}

// putArea writes the area the population lives in.
func putArea(ctx context.Context, db store.Store) error {
	return db.Update(ctx, func(tx store.Tx) error {
		return tx.PutArea(ctx, store.Area{Code: benchArea, Name: "Bench area", UpdatedAt: time.Now().UTC()})
	})
}

// populateFast writes persons [from, people) of seed with PopulateFast:
// workers (one per core) draw and seal chunks of ChunkPeople persons while
// one goroutine writes the finished chunks, each in one transaction. It
// returns how many templates it wrote.
func populateFast(ctx context.Context, db store.Store, keys registry.Keyring, seed uint64, from, people int, progress func(done, total int)) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type chunk struct {
		rows []rows
		err  error
	}
	workers := runtime.GOMAXPROCS(0)
	next := make(chan int)
	done := make(chan chunk, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				hi := min(lo+ChunkPeople, people)
				c := chunk{rows: make([]rows, 0, hi-lo)}
				now := time.Now().UTC().Truncate(time.Millisecond)
				for i := lo; i < hi && c.err == nil; i++ {
					var r rows
					r, c.err = prepare(ctx, keys, seed, i, now)
					c.rows = append(c.rows, r)
				}
				select {
				case done <- c:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for lo := from; lo < people; lo += ChunkPeople {
			select {
			case next <- lo:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	written, templates := from, 0
	for c := range done {
		if c.err != nil {
			return templates, c.err
		}
		err := db.Update(ctx, func(tx store.Tx) error {
			for _, r := range c.rows {
				if err := tx.CreatePerson(ctx, r.person); err != nil {
					return err
				}
				if err := tx.PutPersonStats(ctx, r.stats); err != nil {
					return err
				}
				for _, cr := range r.consents {
					if _, err := tx.AppendConsent(ctx, cr); err != nil {
						return err
					}
				}
				for _, b := range r.biometrics {
					if err := tx.AddBiometric(ctx, b); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return templates, err
		}
		written += len(c.rows)
		for _, r := range c.rows {
			templates += len(r.biometrics)
		}
		if progress != nil {
			progress(written, people)
		}
	}
	if err := ctx.Err(); err != nil {
		return templates, err
	}
	return templates, nil
}

// populateUseCase enrols persons [0, people) of seed through reg's use
// cases, one at a time, and returns their record ids (the registry makes
// them) and how many templates it stored.
func populateUseCase(ctx context.Context, reg *registry.Registry, seed uint64, people int, progress func(done, total int)) ([]string, int, error) {
	actor := registry.Actor{OperatorID: benchOperator, Role: consent.Registrar, Site: benchSite, Route: "assent bench enrol"}
	ids := make([]string, people)
	templates := 0
	for i := range people {
		p := drawPerson(seed, i)
		np, err := reg.CreatePerson(ctx, actor, consent.Registration, registry.NewPerson{GivenName: p.ident.GivenName, FamilyName: p.ident.FamilyName,
			BirthDate: p.ident.BirthDate, Sex: p.ident.Sex, AreaCode: benchArea,
			Consent: &registry.ConsentInput{Method: "bench", NoticeVersion: "1", Language: "en", Decisions: decisions}})
		if err != nil {
			return ids, templates, err
		}
		ids[i] = np.ID
		for _, c := range p.captures() {
			if _, err := reg.EnrolTemplate(ctx, actor, consent.Deduplication, np.ID, c.cat, c.pos, c.raw); err != nil {
				return ids, templates, err
			}
			templates++
		}
		if progress != nil && ((i+1)%500 == 0 || i+1 == people) {
			progress(i+1, people)
		}
	}
	return ids, templates, nil
}
