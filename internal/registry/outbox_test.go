package registry

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
	"github.com/assent-registry/assent/internal/store"
)

// outboxFake is a Galleries fed through the outbox (like cluster.Client):
// a Local answers the searches, and Flush counts the calls.
type outboxFake struct {
	*dedup.Local
	mu      sync.Mutex
	flushes int
}

func (o *outboxFake) Flush(context.Context) error {
	o.mu.Lock()
	o.flushes++
	o.mu.Unlock()
	return nil
}

func pendingChanges(t *testing.T, r *Registry) []store.GalleryChange {
	t.Helper()
	var out []store.GalleryChange
	if err := r.store.Update(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = tx.PendingGalleryChanges(context.Background(), 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGalleryOutbox: with galleries fed through the outbox, every change
// that must reach them leaves a row written with it (a deduplication
// template stored, a consent change, a merge, an erasure), the registry
// flushes after the commit, RelayGalleryChanges hands the rows over in
// order and deletes them (and keeps them when publishing fails),
// GalleryEntries lists what belongs; with the in-process galleries no row
// is written.
func TestGalleryOutbox(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	c := &clock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	fake := &outboxFake{Local: dedup.NewLocal()}
	r := New(db, kr, Options{Clock: c.now, Galleries: fake})
	adjudicator := Actor{OperatorID: "op-adj", Role: consent.Adjudicator, Site: "s1"}
	rng := rand.New(rand.NewPCG(5, 6))
	enrol := func(reg *Registry, name string, f synth.Finger) (string, Enrolled) {
		t.Helper()
		p, err := reg.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: name, FamilyName: "Outbox", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
			Consent: &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []DecisionInput{
				{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := f.Template().MarshalBinary()
		e, err := reg.EnrolTemplate(ctx, registrar, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw)
		if err != nil {
			t.Fatal(err)
		}
		return p.ID, e
	}
	f1 := synth.NewFinger(rng)
	a, ea := enrol(r, "A", f1)
	got := pendingChanges(t, r)
	if len(got) != 1 || got[0].Op != store.GalleryAdd || got[0].PersonID != a || got[0].Ref != ea.ReferenceID || got[0].Modality != "fingerprint" {
		t.Fatalf("after a capture: %+v, want one add of %s/%s", got, a, ea.ReferenceID)
	}
	if fake.flushes == 0 {
		t.Error("no flush after the capture's commit")
	}
	es, err := r.GalleryEntries(ctx, a)
	if err != nil || len(es) != 1 || es[0].Ref != ea.ReferenceID || len(es[0].Template) == 0 {
		t.Errorf("gallery entries of A: %+v %v", es, err)
	}

	// A relay that fails keeps the rows; one that succeeds gets them in
	// order and deletes them.
	if _, err := r.RelayGalleryChanges(ctx, 10, func(context.Context, []store.GalleryChange) error { return context.DeadlineExceeded }); err == nil {
		t.Error("a failed publish did not fail the relay")
	}
	var relayed []store.GalleryChange
	n, err := r.RelayGalleryChanges(ctx, 10, func(_ context.Context, cs []store.GalleryChange) error { relayed = append(relayed, cs...); return nil })
	if err != nil || n != 1 || len(relayed) != 1 || relayed[0].Seq != got[0].Seq {
		t.Fatalf("relay: %d %v %+v", n, err, relayed)
	}
	if left := pendingChanges(t, r); len(left) != 0 {
		t.Fatalf("relayed rows left: %+v", left)
	}

	// A duplicate B, merged into A: B leaves the galleries.
	b, eb := enrol(r, "B", f1)
	if len(eb.Duplicates) != 1 {
		t.Fatalf("B's duplicates: %+v", eb)
	}
	pendingOps := func() []string {
		var ops []string
		for _, ch := range pendingChanges(t, r) {
			ops = append(ops, ch.Op+":"+ch.PersonID)
		}
		return ops
	}
	if _, err := r.DecideCase(ctx, adjudicator, consent.Deduplication, eb.Duplicates[0].CaseID, CaseDecision{Decision: "same"}); err != nil {
		t.Fatal(err)
	}
	if ops := pendingOps(); !slices.Equal(ops, []string{"add:" + b, "remove:" + b}) {
		t.Errorf("after B's capture and merge: %v", ops)
	}
	if es, err := r.GalleryEntries(ctx, b); err != nil || len(es) != 0 {
		t.Errorf("gallery entries of the alias B: %+v %v", es, err)
	}

	// A consent change of A: sync; A's erasure: remove.
	clearOutbox := func() {
		if _, err := r.RelayGalleryChanges(ctx, 100, func(context.Context, []store.GalleryChange) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	clearOutbox()
	record := func(id, category, purpose, decision string) {
		t.Helper()
		if _, err := r.RecordConsent(ctx, registrar, consent.Registration, id, NewConsent{Category: category, Purpose: purpose, Decision: decision,
			Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	record(a, "fingerprint", "verification", "granted")
	if ops := pendingOps(); !slices.Equal(ops, []string{"sync:" + a}) {
		t.Errorf("after a fingerprint consent change: %v", ops)
	}
	clearOutbox()
	record(a, "identity", "registration", "withdrawn")
	if ops := pendingOps(); !slices.Equal(ops, []string{"remove:" + a}) {
		t.Errorf("after the erasure: %v", ops)
	}
	if es, err := r.GalleryEntries(ctx, a); err != nil || len(es) != 0 {
		t.Errorf("gallery entries of an erased person: %+v %v", es, err)
	}

	// In-process galleries: no outbox rows.
	clearOutbox()
	local := New(db, kr, Options{Clock: c.now})
	enrol(local, "C", synth.NewFinger(rng))
	if left := pendingChanges(t, local); len(left) != 0 {
		t.Errorf("in-process galleries wrote outbox rows: %+v", left)
	}
}
