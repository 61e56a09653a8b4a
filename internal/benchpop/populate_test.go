package benchpop

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/personnumber"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/postgres"
	"github.com/assent-registry/assent/internal/store/sqlite"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// backends opens one empty store per backend: SQLite always, PostgreSQL
// when ASSENT_POSTGRES_URL is set.
func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	t.Helper()
	out := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	if url := os.Getenv("ASSENT_POSTGRES_URL"); url != "" {
		out["postgres"] = func(t *testing.T) store.Store {
			ctx := context.Background()
			b := make([]byte, 6)
			crand.Read(b)
			schema := "benchpop_" + hex.EncodeToString(b)
			t.Cleanup(func() {
				c, err := pgx.Connect(ctx, url)
				if err != nil {
					t.Errorf("drop schema %s: %v", schema, err)
					return
				}
				defer c.Close(ctx)
				if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
					t.Errorf("drop schema %s: %v", schema, err)
				}
			})
			db, err := postgres.Open(ctx, url, postgres.Options{Migrate: true, Schema: schema, AllowUnsafeDurability: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	}
	return out
}

func newKeys(t *testing.T, ks envelope.KeyStore) *envelope.Keyring {
	t.Helper()
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(context.Background(), ks, m, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// enrolled is what the registry's use cases show of a person: the record,
// the consents, and the templates a gallery load puts in the galleries
// (modality and opened bytes), with what differs by construction between
// two writers (record ids, numbers, times, references) left out.
type enrolled struct {
	Person    registry.PersonView
	Consents  []registry.ConsentView
	Templates []registry.GalleryEntry
}

func showPerson(t *testing.T, ctx context.Context, reg *registry.Registry, id string) enrolled {
	t.Helper()
	admin := registry.Actor{OperatorID: "test", Role: consent.Registrar, Site: benchSite, Route: "test"}
	var e enrolled
	var err error
	if e.Person, err = reg.GetPerson(ctx, admin, consent.Registration, id); err != nil {
		t.Fatal(err)
	}
	if e.Consents, err = reg.Consents(ctx, admin, consent.Registration, id, true); err != nil {
		t.Fatal(err)
	}
	if e.Templates, err = reg.GalleryEntries(ctx, id); err != nil {
		t.Fatal(err)
	}
	e.Person.ID, e.Person.PersonNumber = "", ""
	e.Person.CreatedAt, e.Person.UpdatedAt = e.Person.CreatedAt.UTC().Truncate(0), e.Person.UpdatedAt.UTC().Truncate(0)
	for i := range e.Consents {
		e.Consents[i].Seq, e.Consents[i].At = 0, time.Time{}
	}
	for i := range e.Templates {
		e.Templates[i].Ref = ""
	}
	slices.SortFunc(e.Templates, func(a, b registry.GalleryEntry) int { return bytes.Compare(a.Template, b.Template) })
	return e
}

// TestFastPopulationIsAnEnrolledOne: a population the fast writer wrote is
// what the registry would have stored through its use cases. Person by
// person, the record, identity, consents and the templates a gallery load
// takes are the same as the use-case writer's for the same synthetic
// person; the person number resolves; a name search finds the person; the
// statistics projection counts everyone; the gallery loads every template;
// and the bench's mates are found, with no false candidate.
func TestFastPopulationIsAnEnrolledOne(t *testing.T) {
	const people, seed = 40, 7
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fastDB, useDB := open(t), open(t)
			fastKeys, useKeys := newKeys(t, &envelope.MemStore{}), newKeys(t, &envelope.MemStore{})
			if err := putArea(ctx, fastDB); err != nil {
				t.Fatal(err)
			}
			if err := putArea(ctx, useDB); err != nil {
				t.Fatal(err)
			}
			n, err := populateFast(ctx, fastDB, fastKeys, seed, 0, people, nil)
			if err != nil || n != 4*people {
				t.Fatalf("populateFast: %d templates, %v", n, err)
			}
			useReg := registry.New(useDB, useKeys, registry.Options{Galleries: dedup.NewLocal()})
			ids, n, err := populateUseCase(ctx, useReg, seed, people, nil)
			if err != nil || n != 4*people {
				t.Fatalf("populateUseCase: %d templates, %v", n, err)
			}
			fastReg := registry.New(fastDB, fastKeys, registry.Options{Galleries: dedup.NewLocal()})
			for i := range people {
				p := drawPerson(seed, i)
				got, want := showPerson(t, ctx, fastReg, p.id), showPerson(t, ctx, useReg, ids[i])
				// Times differ by construction (the writers ran at different moments).
				got.Person.CreatedAt, got.Person.UpdatedAt = want.Person.CreatedAt, want.Person.UpdatedAt
				if d := gocmp.Diff(want, got); d != "" {
					t.Fatalf("person %d: fast writer vs use cases (-want +got):\n%s", i, d)
				}
				if len(got.Templates) != 4 {
					t.Fatalf("person %d: %d templates for the galleries, want 4", i, len(got.Templates))
				}
				if id, err := fastReg.ResolvePerson(ctx, personnumber.Format(p.number)); err != nil || id != p.id {
					t.Fatalf("person %d: number %s resolves to %q, %v", i, p.number, id, err)
				}
			}
			admin := registry.Actor{OperatorID: "test", Role: consent.Registrar, Site: benchSite, Route: "test"}
			p := drawPerson(seed, people/2)
			found, err := fastReg.FindPersons(ctx, admin, consent.Registration, registry.FindQuery{GivenName: p.ident.GivenName, FamilyName: p.ident.FamilyName, BirthDate: p.ident.BirthDate})
			if err != nil || len(found) != 1 || found[0].ID != p.id {
				t.Fatalf("FindPersons: %+v, %v", found, err)
			}
			// The statistics projection and the report counts the database
			// keeps: the same aggregates as the use cases', and consistent
			// (a rebuild corrects nothing).
			counts := func(db store.Store) (out [][]store.StatsCount) {
				t.Helper()
				p := store.Period{To: time.Now().Add(time.Hour)}
				if err := db.View(ctx, func(tx store.Tx) error {
					out = nil
					for _, f := range []func(context.Context, store.Period) ([]store.StatsCount, error){tx.CountRegistered, tx.CountEnrolled, tx.CountAreaAnswers, tx.CountSiteAnswers} {
						cs, err := f(ctx, p)
						if err != nil {
							return err
						}
						slices.SortFunc(cs, func(a, b store.StatsCount) int { return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
						out = append(out, cs)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			if d := gocmp.Diff(counts(useDB), counts(fastDB)); d != "" {
				t.Errorf("report aggregates, use cases vs fast writer (-want +got):\n%s", d)
			}
			total := 0
			for _, c := range counts(fastDB)[0] {
				total += c.N
			}
			if total != people {
				t.Errorf("statistics projection counts %d people, want %d", total, people)
			}
			var fixed int
			if err := fastDB.Update(ctx, func(tx store.Tx) error { fixed, err = tx.RebuildStatsCounts(ctx); return err }); err != nil || fixed != 0 {
				t.Errorf("rebuild of the report counts corrected %d rows (%v), want 0", fixed, err)
			}
			st, err := fastReg.LoadGalleries(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.Templates[consent.Fingerprint] != 2*people || st.Templates[consent.Iris] != 2*people {
				t.Fatalf("gallery load: %+v", st.Templates)
			}
		})
	}
}

// TestRunKeptPopulation: a population written with its keys in a KeyFile
// is extended by a second run (only the persons it lacks) and measured
// again by a third, each on a new keyring over the saved file; every run's
// mates are found with no false candidate although the earlier runs'
// probes are enrolled too.
func TestRunKeptPopulation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := envelope.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "keys.gob")
	snap := filepath.Join(dir, "gallery.snapshot")
	kept := 0
	// With a snapshot: the first two runs write the population and start
	// from the store; the third starts from the snapshot the second wrote
	// after its probes (which it holds too).
	for run, people := range []int{120, 200, 200} {
		kf, err := OpenKeyFile(keys)
		if err != nil {
			t.Fatal(err)
		}
		kr, err := envelope.NewKeyring(ctx, kf, m, envelope.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(ctx, db, kr, registry.Options{}, Options{People: people, Probes: 6, Seed: 5, Kept: kept, ProbeSeed: uint64(run), Snapshot: snap})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "snapshot", false: "store"}[run == 2]; rep.LoadSource != want {
			t.Errorf("run %d: gallery from %s, want %s", run, rep.LoadSource, want)
		}
		if rep.SnapshotPersons != people+6*(run+1) || rep.SnapshotTemplates != 4*rep.SnapshotPersons || rep.SnapshotSkipped != 0 || rep.SnapshotBytes == 0 {
			t.Errorf("run %d: snapshot of %d persons, %d templates, %d skipped", run, rep.SnapshotPersons, rep.SnapshotTemplates, rep.SnapshotSkipped)
		}
		if rep.Templates != 4*people || rep.DuplicatesExpected != 3 || rep.DuplicatesFound != 3 || rep.FalseCandidates != 0 || rep.DedupPending != 0 {
			t.Fatalf("run %d: %+v", run, rep)
		}
		if err := kf.Save(); err != nil {
			t.Fatal(err)
		}
		var persons int
		if err := db.View(ctx, func(tx store.Tx) error {
			cs, err := tx.CountRegistered(ctx, store.Period{To: time.Now().Add(time.Hour)})
			persons = 0
			for _, c := range cs {
				persons += c.N
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := people + 6*(run+1); persons != want { // the population and every run's probes
			t.Fatalf("run %d: %d persons registered, want %d", run, persons, want)
		}
		kept = people
	}
}

// TestFieldIsSynthField: the writer's iris field is iris.Synth.Field's, bit
// for bit, so that its eyes are the synthetic eyes the iris engine was
// calibrated on.
func TestFieldIsSynthField(t *testing.T) {
	for seed := range uint64(4) {
		want := eyeSynth.Field(rand.New(rand.NewPCG(seed, 1)))
		got := field(rand.New(rand.NewPCG(seed, 1)))
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: field differs from iris.Synth.Field", seed)
		}
	}
}

func BenchmarkPrepare(b *testing.B) {
	ctx := context.Background()
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{CacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	i := 0
	for b.Loop() {
		if _, err := prepare(ctx, kr, 1, i, now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
