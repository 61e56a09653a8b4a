package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// recordingLoader is a GalleryLoader that only notes what the source keeps.
type recordingLoader struct {
	keep  map[string]bool // reference id -> kept
	pages int
}

func (l *recordingLoader) Load(ctx context.Context, src dedup.Source, _ func(int)) (dedup.Stats, error) {
	l.keep = map[string]bool{}
	err := src.Pages(ctx, dedup.Modalities(), func(p dedup.Page) error {
		l.pages++
		for i, e := range p.Entries {
			if _, dup := l.keep[e.Ref]; dup {
				return fmt.Errorf("reference %s offered twice", e.Ref)
			}
			l.keep[e.Ref] = p.Keep[i]
		}
		return nil
	})
	return dedup.Stats{}, err
}

// oneAtATimeRule is the decision a gallery load made before the reads of a
// page were batched, written out again on its own: per person, the record,
// the identity (for the birth date) and the consent history read and the
// consent policy asked for each biometric category.
func oneAtATimeRule(ctx context.Context, r *Registry, tx store.Tx, id string) (map[consent.Category]bool, error) {
	out := map[consent.Category]bool{}
	p, err := tx.GetPerson(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return out, nil
	}
	ident, err := r.openIdentity(ctx, p)
	if err != nil {
		return nil, err
	}
	hist, err := tx.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	facts := consent.Facts{Person: consent.Person{Exists: true, BirthDate: birthTime(ident.BirthDate)}, Records: toConsentRecords(hist), Now: r.clock(), Config: r.cfg}
	for _, c := range consent.BiometricCategories {
		out[c] = consent.Decide(consent.Request{Role: consent.Registrar, Purpose: consent.Deduplication, PersonID: id, Category: c, Action: consent.Read}, facts).Allow
	}
	return out, nil
}

// TestGalleryLoadKeepsTheConsentRule: the templates a load keeps (the
// page's persons and consent histories read in two queries, decided on
// every core) are exactly those the one-person-at-a-time rule keeps, over
// a random population of adults, minors and people who came of age
// recently, with their own and guardians' grants given before and after
// majority, withdrawals, declines, erasures, aliases and
// verification-only templates; for a whole load and for a shard's.
func TestGalleryLoadKeepsTheConsentRule(t *testing.T) {
	ctx := context.Background()
	db, kr := newTestStore(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	r := New(db, kr, Options{Clock: func() time.Time { return now }})
	r.galleryPage = 7
	rng := rand.New(rand.NewPCG(15, 5))
	births := []string{"1980-01-01", "2012-03-04", "2008-02-01", "2008-09-01", "2008-05-31", "2008-06-01", "2008", "2008-07", ""}
	pairs := [][2]string{{"identity", "registration"}, {"fingerprint", "deduplication"}, {"iris", "deduplication"}}
	decisions := []string{"granted", "granted", "granted", "withdrawn", "declined"}
	var ids []string
	if err := db.Update(ctx, func(tx store.Tx) error {
		for i := range 300 {
			id := uuid.NewString()
			ids = append(ids, id)
			p := store.Person{ID: id, Status: store.StatusActive, AreaCode: "A", Site: "s", Version: 1, CreatedAt: now, UpdatedAt: now}
			if err := SealIdentity(ctx, kr, &p, Identity{GivenName: fmt.Sprint("P", i), FamilyName: "Rule", BirthDate: births[rng.IntN(len(births))], Sex: "unknown"}); err != nil {
				return err
			}
			if i%13 == 5 && i > 0 {
				p.AliasOf = ids[0]
			}
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
			for _, pair := range pairs {
				for k := range rng.IntN(4) {
					rec := store.ConsentRecord{PersonID: id, Category: pair[0], Purpose: pair[1], Decision: decisions[rng.IntN(len(decisions))],
						Method: "paper", NoticeVersion: "1", Language: "en",
						At: now.Add(-time.Duration(rng.IntN(12*365*24)+k) * time.Hour)} // within twelve years before now
					if rng.IntN(3) == 0 {
						rec.GuardianID = "guardian"
					}
					if _, err := tx.AppendConsent(ctx, rec); err != nil {
						return err
					}
				}
			}
			for _, b := range []struct{ cat, pos string }{{"fingerprint", "right_index"}, {"fingerprint", "left_index"}, {"iris", "right_eye"}} {
				purpose := "deduplication"
				if rng.IntN(6) == 0 {
					purpose = "verification"
				}
				sealed, err := SealTemplate(ctx, kr, id, consent.Category(b.cat), []byte("not a template: never opened here"))
				if err != nil {
					return err
				}
				if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: uuid.NewString(), PersonID: id, Category: b.cat, Position: b.pos,
					Format: FormatImage, Purpose: purpose, TemplateSealed: sealed, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		for _, id := range ids[250:] {
			if err := tx.ErasePerson(ctx, id, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// The old rule, one person at a time, over every stored template.
	want := map[string]bool{}
	reasons := map[string]int{}
	if err := db.View(ctx, func(tx store.Tx) error {
		for _, id := range ids {
			c, err := oneAtATimeRule(ctx, r, tx, id)
			if err != nil {
				return err
			}
			bs, err := tx.ListBiometrics(ctx, id)
			if err != nil {
				return err
			}
			for _, b := range bs {
				want[b.ReferenceID] = b.Purpose == string(consent.Deduplication) && c[consent.Category(b.Category)]
				reasons[fmt.Sprint(b.Category, "/", b.Purpose, "/", c[consent.Category(b.Category)])]++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fingerprint/deduplication/true", "fingerprint/deduplication/false", "iris/deduplication/true", "iris/deduplication/false", "fingerprint/verification/true"} {
		if reasons[k] == 0 {
			t.Fatalf("the population has no %s template: %v", k, reasons)
		}
	}

	check := func(name string, l *recordingLoader, owns func(string) bool) {
		t.Helper()
		offered := map[string]bool{}
		if err := db.View(ctx, func(tx store.Tx) error {
			for _, m := range dedup.Modalities() {
				bs, err := tx.BiometricsPage(ctx, m, "", 1_000_000)
				if err != nil {
					return err
				}
				for _, b := range bs {
					offered[b.ReferenceID] = owns == nil || owns(b.PersonID)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(l.keep) != len(offered) || l.pages < 10 {
			t.Fatalf("%s: %d references offered in %d pages, want %d in pages of 7", name, len(l.keep), l.pages, len(offered))
		}
		kept := 0
		for ref, got := range l.keep {
			w := want[ref] && offered[ref]
			if got != w {
				t.Errorf("%s: reference %s kept %v, the one-at-a-time rule says %v", name, ref, got, w)
			}
			if got {
				kept++
			}
		}
		if kept == 0 || kept == len(l.keep) {
			t.Errorf("%s: %d of %d kept: the population does not test the rule", name, kept, len(l.keep))
		}
	}
	var all recordingLoader
	if _, err := r.LoadShard(ctx, &all, nil, nil); err != nil {
		t.Fatal(err)
	}
	check("whole load", &all, nil)
	owns := func(id string) bool { return id[0] < '8' }
	var shard recordingLoader
	if _, err := r.LoadShard(ctx, &shard, owns, nil); err != nil {
		t.Fatal(err)
	}
	check("shard load", &shard, owns)
}
