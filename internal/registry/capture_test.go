package registry

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/imagefmt"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// fakeGalleries is a gallery service whose search answers are set by the
// test (a shard down: complete false).
type fakeGalleries struct {
	candidates []string
	complete   bool
	added      map[string]string // ref -> person
}

func (f *fakeGalleries) Search(context.Context, string, []byte, string) ([]string, bool, error) {
	return f.candidates, f.complete, nil
}
func (f *fakeGalleries) Add(_ context.Context, _, person, ref string, _ []byte) error {
	f.added[ref] = person
	return nil
}
func (f *fakeGalleries) Remove(_ context.Context, person, ref string) error {
	for r, p := range f.added {
		if p == person && (ref == "" || r == ref) {
			delete(f.added, r)
		}
	}
	return nil
}
func (f *fakeGalleries) Sizes() map[string]int { return map[string]int{"fingerprint": len(f.added)} }

func dedupPerson(t *testing.T, r *Registry, name string) string {
	t.Helper()
	p, err := r.CreatePerson(context.Background(), registrar, consent.Registration, NewPerson{GivenName: name, FamilyName: "Gal", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
		Consent: &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []DecisionInput{
			{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// TestDeduplicationOutcome: the capture answer says whether the 1:N search
// covered the whole gallery. A gallery that did not answer in full gives
// "pending" (never a bare "no duplicates"); the candidates it did find still
// open cases; a verification capture is "not_consented".
func TestDeduplicationOutcome(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	g := &fakeGalleries{added: map[string]string{}}
	r := New(db, kr, Options{Galleries: g})
	rng := rand.New(rand.NewPCG(1, 2))
	f := synth.NewFinger(rng)
	first := dedupPerson(t, r, "First")
	raw, err := f.Template().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	g.complete = true
	out, err := r.EnrolTemplate(ctx, registrar, consent.Deduplication, first, consent.Fingerprint, "right_index", raw)
	if err != nil {
		t.Fatal(err)
	}
	if out.Deduplication != DedupDone || len(out.Duplicates) != 0 || g.added[out.ReferenceID] != first {
		t.Fatalf("complete search: %+v, gallery %v", out, g.added)
	}
	second := dedupPerson(t, r, "Second")
	mate, _ := f.Mate(rng).MarshalBinary()
	g.candidates, g.complete = []string{first}, false
	out, err = r.EnrolTemplate(ctx, registrar, consent.Deduplication, second, consent.Fingerprint, "right_index", mate)
	if err != nil {
		t.Fatal(err)
	}
	if out.Deduplication != DedupPending || len(out.Duplicates) != 1 || out.Duplicates[0].PersonID != first {
		t.Fatalf("partial search: %+v", out)
	}
	out, err = r.EnrolTemplate(ctx, registrar, consent.Verification, second, consent.Fingerprint, "left_index", raw)
	if err != nil {
		t.Fatal(err)
	}
	if out.Deduplication != DedupNotConsented {
		t.Fatalf("verification capture: %+v", out)
	}
	// Erasure takes the person out of the gallery service.
	if _, err := r.RecordConsent(ctx, registrar, consent.Registration, first, NewConsent{Category: "identity", Purpose: "registration", Decision: "withdrawn",
		Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.added {
		if p == first {
			t.Fatalf("an erased person is still in the gallery service: %v", g.added)
		}
	}
}

// TestExtractionBusy: when every extraction slot stays taken, a capture
// waits at most ExtractionWait and is refused with ErrBusy (and the refusal
// is in the audit log); a refused policy never takes a slot.
func TestExtractionBusy(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	r := New(db, kr, Options{ExtractionSlots: 1, ExtractionWait: 20 * time.Millisecond})
	id := dedupPerson(t, r, "Busy")
	img, err := os.ReadFile(filepath.Join("..", "biometric", "imagefmt", "testdata", "tiny.png"))
	if err != nil {
		t.Fatal(err)
	}
	release, err := r.extraction.acquire(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	auditSize := func() uint64 {
		var n uint64
		if err := db.View(ctx, func(tx store.Tx) error { var err error; n, err = tx.AuditSize(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := auditSize()
	start := time.Now()
	_, err = r.EnrolBiometric(ctx, registrar, consent.Deduplication, id, Capture{Modality: "fingerprint", Position: "right_index", Data: img})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if auditSize() == before {
		t.Errorf("the busy refusal left no audit entry")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("busy after %v", d)
	}
	// An auditor is refused by the policy, not by the queue.
	_, err = r.EnrolBiometric(ctx, Actor{OperatorID: "aud", Role: consent.Auditor}, consent.Deduplication, id, Capture{Modality: "fingerprint", Position: "right_index", Data: img})
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("auditor: err = %v, want a policy denial", err)
	}
	release()
	_, err = r.EnrolBiometric(ctx, registrar, consent.Deduplication, id, Capture{Modality: "fingerprint", Position: "right_index", Data: img})
	if errors.Is(err, ErrBusy) {
		t.Fatalf("still busy after the slot was released")
	}
}

// FuzzExtractFace: a face photo is accepted only as a JPEG or PNG of 64 to
// 4000 pixels a side (from its header), never a panic.
func FuzzExtractFace(f *testing.F) {
	for _, n := range []string{"eye100.jpg", "eye100.png", "eye100.gif", "tiny.bmp", "tiny.tif", "stripes4000.png"} {
		if b, err := os.ReadFile(filepath.Join("..", "biometric", "imagefmt", "testdata", n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := extractFace(FormatImage, data)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Code != CodeInvalidCapture {
				t.Fatalf("err = %v, want invalid_capture", err)
			}
			return
		}
		if f := imagefmt.Sniff(data); f != imagefmt.JPEG && f != imagefmt.PNG {
			t.Fatalf("accepted a %q face photo", f)
		}
	})
}

// countingKeys counts the identities a registry opens.
type countingKeys struct {
	Keyring
	mu         sync.Mutex
	identities int
}

func (k *countingKeys) Open(ctx context.Context, personID, category, kind string, sealed []byte) ([]byte, error) {
	if kind == kindPerson {
		k.mu.Lock()
		k.identities++
		k.mu.Unlock()
	}
	return k.Keyring.Open(ctx, personID, category, kind, sealed)
}

// TestFindPersonsDecidesFirst: a role the policy refuses gets its refusal
// without a single candidate's identity being opened.
func TestFindPersonsDecidesFirst(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	keys := &countingKeys{Keyring: kr}
	r := New(db, keys, Options{})
	for range 3 {
		dedupPerson(t, r, "Same")
	}
	q := FindQuery{GivenName: "Same", FamilyName: "Gal", BirthDate: "1980-01-01"}
	keys.identities = 0
	_, err := r.FindPersons(ctx, Actor{OperatorID: "aud", Role: consent.Auditor}, consent.Registration, q)
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("auditor: err = %v, want a denial", err)
	}
	if keys.identities != 0 {
		t.Errorf("an auditor's refused search opened %d identities", keys.identities)
	}
	found, err := r.FindPersons(ctx, registrar, consent.Registration, q)
	if err != nil || len(found) != 3 {
		t.Fatalf("registrar: %d found, err %v", len(found), err)
	}
}
