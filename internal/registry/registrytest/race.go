package registrytest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
)

// Held is an in-process gallery service that can hold the answer of the
// search made for one person until the test lets it go: the search has run
// (what it saw is fixed) but the enrolment has not gone on to its commit.
// Safe for concurrent use.
type Held struct {
	Local *dedup.Local

	mu   sync.Mutex
	hold map[string]*heldSearch
}

type heldSearch struct {
	searched chan []string // the candidates, once the search has run
	release  chan struct{}
}

// NewHeld returns a Held over an empty in-process service.
func NewHeld() *Held { return &Held{Local: dedup.NewLocal(), hold: map[string]*heldSearch{}} }

// Hold makes the next search for person wait, after it has run, until
// release is called; searched delivers its candidates when it has run.
func (g *Held) Hold(person string) (searched <-chan []string, release func()) {
	h := &heldSearch{searched: make(chan []string, 1), release: make(chan struct{})}
	g.mu.Lock()
	g.hold[person] = h
	g.mu.Unlock()
	var once sync.Once
	return h.searched, func() { once.Do(func() { close(h.release) }) }
}

func (g *Held) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	cands, complete, err := g.Local.Search(ctx, modality, probe, exclude)
	g.mu.Lock()
	h := g.hold[exclude]
	delete(g.hold, exclude)
	g.mu.Unlock()
	if h != nil {
		h.searched <- slices.Clone(cands)
		select {
		case <-h.release:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	return cands, complete, err
}

func (g *Held) Add(ctx context.Context, modality, personID, ref string, template []byte) error {
	return g.Local.Add(ctx, modality, personID, ref, template)
}

func (g *Held) Remove(ctx context.Context, personID, ref string) error {
	return g.Local.Remove(ctx, personID, ref)
}

func (g *Held) Sizes() map[string]int { return g.Local.Sizes() }

// EnrolmentRace forces, with a Held gallery, the interleavings that a turn
// held around the 1:N search used to forbid, on any store (SQLite and
// PostgreSQL call it): two captures of one finger searched before either
// commits must still find each other (the later commit compares the
// earlier 1:1 and opens the case); a template whose deduplication consent
// stopped counting meanwhile is not compared; one whose consent counts
// again meanwhile is. newRegistry builds a node over the shared store and
// gallery service (called twice: the two captures of each pair go through
// different nodes; it may return one registry twice, as one process).
func EnrolmentRace(t *testing.T, db store.Store, newRegistry func(g registry.Galleries) *registry.Registry) {
	t.Helper()
	ctx := context.Background()
	g := NewHeld()
	nodes := []*registry.Registry{newRegistry(g), newRegistry(g)}
	if _, err := nodes[0].PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(15, 3))
	person := func(t *testing.T, name string) string {
		t.Helper()
		p, err := nodes[0].CreatePerson(ctx, pendingRegistrar, consent.Registration, registry.NewPerson{GivenName: name, FamilyName: "Race", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []registry.DecisionInput{
				{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	type result struct {
		out registry.Enrolled
		err error
	}
	// enrol starts a capture of tpl for id through node n.
	enrol := func(t *testing.T, n int, id string, tpl interface{ MarshalBinary() ([]byte, error) }) <-chan result {
		t.Helper()
		raw, err := tpl.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan result, 1)
		go func() {
			out, err := nodes[n].EnrolTemplate(ctx, pendingRegistrar, consent.Deduplication, id, consent.Fingerprint, "right_index", raw)
			done <- result{out, err}
		}()
		return done
	}
	wait := func(t *testing.T, what string, done <-chan result) registry.Enrolled {
		t.Helper()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("%s: %v", what, r.err)
			}
			if r.out.Deduplication != registry.DedupDone {
				t.Fatalf("%s: deduplication %q, want done", what, r.out.Deduplication)
			}
			return r.out
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: no answer in 60 s", what)
		}
		panic("unreachable")
	}
	searched := func(t *testing.T, what string, ch <-chan []string, others ...func()) []string {
		t.Helper()
		select {
		case c := <-ch:
			return c
		case <-time.After(20 * time.Second):
			for _, release := range others {
				release()
			}
			t.Fatalf("%s: its search did not run while another enrolment was between its search and its commit (a turn held around the search?)", what)
		}
		panic("unreachable")
	}
	caseOpen := func(t *testing.T, a, b string) bool {
		t.Helper()
		open := false
		if err := db.View(ctx, func(tx store.Tx) error {
			cs, err := tx.CasesOf(ctx, a)
			for _, c := range cs {
				if c.Status == store.CaseOpen && (c.PersonA == b || c.PersonB == b) {
					open = true
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return open
	}
	consentTo := func(t *testing.T, id, decision string) {
		t.Helper()
		if _, err := nodes[0].RecordConsent(ctx, pendingRegistrar, consent.Registration, id, registry.NewConsent{Category: "fingerprint", Purpose: "deduplication",
			Decision: decision, Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	hasDup := func(out registry.Enrolled, id string) bool {
		return slices.ContainsFunc(out.Duplicates, func(d registry.Duplicate) bool { return d.PersonID == id && d.CaseID != "" })
	}

	t.Run("search A, search B, commit A, commit B", func(t *testing.T) {
		f := synth.NewFinger(rng)
		a, b := person(t, "A"), person(t, "B")
		sa, releaseA := g.Hold(a)
		sb, releaseB := g.Hold(b)
		defer releaseA()
		defer releaseB()
		doneA := enrol(t, 0, a, f.Template())
		doneB := enrol(t, 1, b, f.Mate(rng))
		ca := searched(t, "A", sa, releaseA, releaseB)
		cb := searched(t, "B", sb, releaseA, releaseB)
		if slices.Contains(ca, b) || slices.Contains(cb, a) {
			t.Fatalf("a search found the other capture before either committed: %v %v", ca, cb)
		}
		releaseA()
		outA := wait(t, "A", doneA)
		if hasDup(outA, b) {
			t.Errorf("A committed first and names B, not committed yet: %+v", outA)
		}
		releaseB()
		outB := wait(t, "B", doneB)
		if !hasDup(outB, a) {
			t.Errorf("B, searched before A committed, does not name A: %+v", outB)
		}
		if !caseOpen(t, a, b) {
			t.Errorf("no open case for A and B")
		}
	})

	t.Run("a template whose consent stopped counting is not compared", func(t *testing.T) {
		f := synth.NewFinger(rng)
		c, d := person(t, "C"), person(t, "D")
		sd, releaseD := g.Hold(d)
		defer releaseD()
		doneD := enrol(t, 1, d, f.Template())
		searched(t, "D", sd, releaseD)
		// C is stored and numbered after D's search point, then withdraws
		// from deduplication (the template stays, for verification).
		outC := wait(t, "C", enrol(t, 0, c, f.Mate(rng)))
		if hasDup(outC, d) {
			t.Fatalf("C names D, not committed yet: %+v", outC)
		}
		consentTo(t, c, "withdrawn")
		releaseD()
		outD := wait(t, "D", doneD)
		if hasDup(outD, c) || caseOpen(t, c, d) {
			t.Errorf("D was compared with C, whose deduplication consent no longer counts: %+v", outD)
		}
	})

	t.Run("a template that counts again during the search is compared", func(t *testing.T) {
		f := synth.NewFinger(rng)
		e, h := person(t, "E"), person(t, "H")
		wait(t, "E", enrol(t, 0, e, f.Template()))
		consentTo(t, e, "withdrawn") // E leaves the gallery
		sh, releaseH := g.Hold(h)
		defer releaseH()
		doneH := enrol(t, 1, h, f.Mate(rng))
		if ch := searched(t, "H", sh, releaseH); slices.Contains(ch, e) {
			t.Fatalf("H's search found E, out of the gallery: %v", ch)
		}
		consentTo(t, e, "granted") // E counts again, after H's search point
		releaseH()
		outH := wait(t, "H", doneH)
		if !hasDup(outH, e) || !caseOpen(t, e, h) {
			t.Errorf("H does not name E, whose consent counts again since H's search: %+v", outH)
		}
	})
}
