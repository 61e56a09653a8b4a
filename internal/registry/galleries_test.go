package registry

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
)

// TestGalleriesLoadedAtStart: a registry opened on an existing store
// rebuilds its 1:N galleries from it, a page at a time: the deduplication
// templates of people whose deduplication consent counts, and no others
// (withdrawn, erased, verification-only); and they find duplicates as the
// galleries of the first registry did.
func TestGalleriesLoadedAtStart(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	c := &clock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	r := New(db, kr, Options{Clock: c.now})
	rng := rand.New(rand.NewPCG(3, 4))
	enrol := func(reg *Registry, name string, purpose consent.Purpose, t0 template) (string, []string) {
		t.Helper()
		p, err := reg.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: name, FamilyName: "Load", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
			Consent: &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []DecisionInput{
				{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}, {Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := reg.enrolTemplate(ctx, registrar, purpose, p.ID, consent.Fingerprint, Capture{Position: "right_index", Format: FormatImage}, t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, d := range out.Duplicates {
			found = append(found, d.PersonID)
		}
		return p.ID, found
	}
	fingers := map[string]synth.Finger{}
	ids := map[string]string{}
	for _, name := range []string{"kept1", "kept2", "kept3", "withdrawn", "erased", "verifyonly"} {
		fingers[name] = synth.NewFinger(rng)
		purpose := consent.Deduplication
		if name == "verifyonly" {
			purpose = consent.Verification
		}
		ids[name], _ = enrol(r, name, purpose, fingers[name].Template())
	}
	withdraw := func(id, category, purpose string) {
		t.Helper()
		if _, err := r.RecordConsent(ctx, registrar, consent.Registration, id, NewConsent{Category: category, Purpose: purpose, Decision: "withdrawn",
			Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	withdraw(ids["withdrawn"], "fingerprint", "deduplication")
	withdraw(ids["erased"], "identity", "registration")
	if got := r.GallerySizes()[consent.Fingerprint]; got != 3 {
		t.Fatalf("live gallery holds %d templates, want 3", got)
	}

	// A restart: a new registry on the same store, reading two at a time.
	r2 := New(db, kr, Options{Clock: c.now})
	r2.galleryPage = 2
	var progress []int
	st, err := r2.LoadGalleries(ctx, func(done int) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Templates[consent.Fingerprint] != 3 || st.Persons != 3 || r2.GallerySizes()[consent.Fingerprint] != 3 {
		t.Fatalf("loaded %+v (gallery %v), want the 3 templates of the 3 people whose deduplication consent counts", st, r2.GallerySizes())
	}
	if len(progress) < 3 {
		t.Errorf("progress reported %v: want a report per page", progress)
	}
	for name, f := range fingers {
		_, found := enrol(r2, "again-"+name, consent.Deduplication, f.Mate(rng))
		want := slices.Contains([]string{"kept1", "kept2", "kept3"}, name)
		if got := slices.Contains(found, ids[name]); got != want {
			t.Errorf("%s: a mate enrolled after the restart found %v (the person %s: %v, want %v)", name, found, ids[name], got, want)
		}
	}
}
