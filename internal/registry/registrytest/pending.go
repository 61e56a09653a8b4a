package registrytest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
)

// ShardDown is a gallery service with a switch: while Down, every search
// answers as if the shard holding the candidates did not answer (no
// candidates, complete false); otherwise it is the in-process service. Add
// and Remove always reach it (a shard catching up from durable state).
// Searches counts the searches asked. Safe for concurrent use.
type ShardDown struct {
	Local    *dedup.Local
	Down     atomic.Bool
	Searches atomic.Int64
}

// NewShardDown returns a ShardDown over an empty in-process service, up.
func NewShardDown() *ShardDown { return &ShardDown{Local: dedup.NewLocal()} }

func (g *ShardDown) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	g.Searches.Add(1)
	if g.Down.Load() {
		return nil, false, nil
	}
	return g.Local.Search(ctx, modality, probe, exclude)
}

func (g *ShardDown) Add(ctx context.Context, modality, personID, ref string, template []byte) error {
	return g.Local.Add(ctx, modality, personID, ref, template)
}

func (g *ShardDown) Remove(ctx context.Context, personID, ref string) error {
	return g.Local.Remove(ctx, personID, ref)
}

func (g *ShardDown) Sizes() map[string]int { return g.Local.Sizes() }

var (
	pendingRegistrar   = registry.Actor{OperatorID: "op-reg", Role: consent.Registrar, Site: "s1"}
	pendingAdjudicator = registry.Actor{OperatorID: "op-adj", Role: consent.Adjudicator, Site: "s1"}
)

// PendingSearches is the lifecycle of a pending deduplication search, run
// on any store (SQLite and PostgreSQL call it): with a shard down a capture
// answers "pending" and its row exists; the completion job run while the
// shard is still down keeps it; once the shard is back it opens the case
// (one, by the system actor, audited) and deletes the row; an erased
// person's, a withdrawn consent's and a merged record's rows go with no
// case. newRegistry builds a registry over one shared store (called once
// per node; two nodes run the job at once at the end).
func PendingSearches(t *testing.T, db store.Store, newRegistry func(g registry.Galleries) *registry.Registry) {
	t.Helper()
	ctx := context.Background()
	g := NewShardDown()
	r := newRegistry(g)
	if _, err := r.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(15, 2))
	person := func(name string) string {
		t.Helper()
		p, err := r.CreatePerson(ctx, pendingRegistrar, consent.Registration, registry.NewPerson{GivenName: name, FamilyName: "Pending", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []registry.DecisionInput{
				{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	enrol := func(id, position string, tpl interface{ MarshalBinary() ([]byte, error) }, want string) registry.Enrolled {
		t.Helper()
		raw, err := tpl.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.EnrolTemplate(ctx, pendingRegistrar, consent.Deduplication, id, consent.Fingerprint, position, raw)
		if err != nil {
			t.Fatal(err)
		}
		if out.Deduplication != want {
			t.Fatalf("capture of %s: deduplication %q, want %q (%+v)", position, out.Deduplication, want, out)
		}
		return out
	}
	rows := func() map[string]store.PendingSearch {
		t.Helper()
		out := map[string]store.PendingSearch{}
		if err := db.View(ctx, func(tx store.Tx) error {
			ps, err := tx.ListPendingSearches(ctx, 100)
			for _, p := range ps {
				out[p.ReferenceID] = p
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	cases := func() []store.Case {
		t.Helper()
		var cs []store.Case
		if err := db.View(ctx, func(tx store.Tx) error {
			var err error
			cs, err = tx.ListCases(ctx, store.CaseOpen, 100)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	job := func(r *registry.Registry, wantDone, wantStill int) {
		t.Helper()
		done, still, err := r.CompletePendingSearches(ctx)
		if err != nil || done != wantDone || still != wantStill {
			t.Fatalf("CompletePendingSearches = %d done, %d still, %v; want %d, %d", done, still, err, wantDone, wantStill)
		}
	}

	f := synth.NewFinger(rng)
	a := person("A")
	enrol(a, "right_index", f.Template(), registry.DedupDone)

	// A shard down: the mate's capture is stored, answered "pending" (not
	// "no duplicates"), and its row exists before the answer.
	g.Down.Store(true)
	b := person("B")
	outB := enrol(b, "right_index", f.Mate(rng), registry.DedupPending)
	if len(outB.Duplicates) != 0 {
		t.Fatalf("the shard holding A is down, yet %v", outB.Duplicates)
	}
	if p, ok := rows()[outB.ReferenceID]; !ok || p.PersonID != b || p.Modality != "fingerprint" || p.Since.IsZero() {
		t.Fatalf("no pending row for B's capture: %+v", rows())
	}
	if n, err := r.PendingSearchCount(ctx); err != nil || n != 1 {
		t.Fatalf("PendingSearchCount = %d, %v; want 1", n, err)
	}
	if st, err := r.OpsStats(ctx); err != nil || st.PendingSearches != 1 {
		t.Fatalf("OpsStats.PendingSearches = %d, %v; want 1", st.PendingSearches, err)
	}

	// Three more pending captures whose rows must go without a case: an
	// erased person, a withdrawn deduplication consent, a merged record.
	c := person("C")
	enrol(c, "right_index", f.Mate(rng), registry.DedupPending)
	d := person("D")
	enrol(d, "right_index", f.Mate(rng), registry.DedupPending)
	h := synth.NewFinger(rng)
	e, e2 := person("E"), person("E2")
	g.Down.Store(false)
	enrol(e, "left_index", h.Template(), registry.DedupDone)
	dupE := enrol(e2, "left_index", h.Mate(rng), registry.DedupDone)
	if len(dupE.Duplicates) != 1 || dupE.Duplicates[0].PersonID != e {
		t.Fatalf("E2's mate of E found %v", dupE.Duplicates)
	}
	g.Down.Store(true)
	enrol(e2, "right_index", f.Mate(rng), registry.DedupPending)
	if n := len(rows()); n != 4 {
		t.Fatalf("%d pending rows, want 4 (B, C, D, E2)", n)
	}

	// The job while the shard is still down keeps every row and opens
	// nothing; after the first partial search (B's, the oldest) the other
	// rows wait for the next run unsearched.
	openBefore := len(cases())
	searches := g.Searches.Load()
	job(r, 0, 4)
	if n := g.Searches.Load() - searches; n != 1 {
		t.Errorf("a run with the shard down searched %d times, want 1", n)
	}
	if got := rows(); len(got) != 4 || got[outB.ReferenceID].Attempts != 1 || got[outB.ReferenceID].TriedAt.IsZero() || got[outB.ReferenceID].LastError == "" {
		t.Fatalf("after a run with the shard down: %+v", got)
	}
	if n := len(cases()); n != openBefore {
		t.Fatalf("a run with the shard down opened %d cases", n-openBefore)
	}

	// C is erased: the row goes with the template.
	if _, err := r.RecordConsent(ctx, pendingRegistrar, consent.Registration, c, registry.NewConsent{Category: "identity", Purpose: "registration", Decision: "withdrawn",
		Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range rows() {
		if p.PersonID == c {
			t.Fatalf("an erased person's pending row survives: %+v", p)
		}
	}
	// D withdraws deduplication (verification still counts: the template stays).
	if _, err := r.RecordConsent(ctx, pendingRegistrar, consent.Registration, d, registry.NewConsent{Category: "fingerprint", Purpose: "deduplication", Decision: "withdrawn",
		Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	// E2 is merged into E.
	if _, err := r.DecideCase(ctx, pendingAdjudicator, consent.Deduplication, dupE.Duplicates[0].CaseID, registry.CaseDecision{Decision: "same"}); err != nil {
		t.Fatal(err)
	}

	// The shard is back: two nodes run the job at once. B's case opens
	// once; D's and E2's rows go with no case.
	g.Down.Store(false)
	r2 := newRegistry(g)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done, still int
	for _, node := range []*registry.Registry{r, r2} {
		wg.Go(func() {
			dn, st, err := node.CompletePendingSearches(ctx)
			if err != nil {
				t.Errorf("CompletePendingSearches: %v", err)
			}
			mu.Lock()
			done, still = done+dn, still+st
			mu.Unlock()
		})
	}
	wg.Wait()
	if done != 3 || still != 0 {
		t.Errorf("two nodes finished %d and left %d, want 3 (B, D, E2) and 0", done, still)
	}
	if got := rows(); len(got) != 0 {
		t.Fatalf("rows left after the shard came back: %+v", got)
	}
	var ab []store.Case
	for _, cs := range cases() {
		ids := []string{cs.PersonA, cs.PersonB}
		if slices.Contains(ids, d) || slices.Contains(ids, c) || (slices.Contains(ids, e2) && !slices.Contains(ids, e)) {
			t.Errorf("a case for a person who can no longer be deduplicated: %+v", cs)
		}
		if slices.Contains(ids, b) {
			ab = append(ab, cs)
		}
	}
	if len(ab) != 1 || ab[0].PersonA != a || ab[0].PersonB != b || ab[0].Score < registry.VerifyMinEvidence {
		t.Fatalf("B's completed search: cases %+v, want one open case (A, B)", ab)
	}
	// One allowed event by the system for B's completed search.
	var sys []audit.Event
	if err := db.View(ctx, func(tx store.Tx) error {
		rs, err := tx.AuditRowsForPerson(ctx, b, 1000)
		for _, row := range rs {
			ev, err := audit.DecodeEvent(row.Data)
			if err != nil {
				return err
			}
			if ev.OperatorID == "system:deduplication" {
				sys = append(sys, ev)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(sys) != 1 || sys[0].Outcome != audit.Allow || sys[0].Purpose != "deduplication" || !slices.Equal(sys[0].Categories, []string{"fingerprint"}) {
		t.Fatalf("audit events of the completion for B: %+v, want one allowed deduplication write", sys)
	}

	// Idempotent: nothing left to do, nothing opened again.
	open := len(cases())
	job(r, 0, 0)
	job(r2, 0, 0)
	if n := len(cases()); n != open {
		t.Fatalf("a run with nothing pending opened %d cases", n-open)
	}
}
