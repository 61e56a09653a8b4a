package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/benchpop"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/envelope/pgkeys"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/postgres"
	"github.com/assent-registry/assent/internal/store/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
)

func newBenchEnrolCmd() *cobra.Command {
	var people, probes int
	var seed uint64
	var asJSON, snapshot, populateOnly bool
	var profile, keyStore, traceFile string
	var populate, data, pgURL, pgSchema string
	var sqliteMap int64
	cmd := &cobra.Command{
		Use:   "enrol",
		Short: "Enrolment with 1:N deduplication against a synthetic population (two fingers, two irises each)",
		Long: `enrol writes --people synthetic persons (sealed templates, deduplication
consents) into a temporary SQLite store, rebuilds the 1:N galleries as a
server start does (time and memory per person), then enrols --probes new
people through the enrolment path (half of them mates of enrolled people) and
reports latency percentiles and how many mates were found. Templates are
synthetic, so extraction time is not included; the data keys are held in
memory (not keys.db) to make the population quickly.

--populate fast (the default) writes the population's rows straight through
the store and the keyring on every core (no 1:N search at write time, no
audit entries); --populate usecase enrols every person through the
registry's use cases (60-110 people a second). --data DIR keeps the store,
its master key and the bench's key file in DIR: a later run with the same
DIR and --seed measures that population again without writing it, or with
more --people writes only the persons it lacks (docs/galleries.md,
"Benchmark code").

--keys sqlite (a keys.db, with the keyring's default cache, as a server) or
--keys postgres://... (a key database, no cache, as a server with
--keys-postgres; the keys go into a schema of their own, dropped at the
end) copies the population's keys into a real key store before the load;
--keys mem (the default) loads with them in memory.

--snapshot writes a sealed gallery snapshot (docs/scale.md, "Gallery
snapshots") after the probes, into the bench directory, then loads it
into a fresh gallery and reports its write and load (wall, CPU, peak
resident memory) apart. With --data, a later run over the same
population starts from that snapshot instead of the store
(gallery_load_source "snapshot"), as a gallery shard does.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			switch {
			case people < 1:
				return fmt.Errorf("bench enrol: --people %d: want at least 1", people)
			case probes < 0:
				return fmt.Errorf("bench enrol: --probes %d: want 0 or more", probes)
			case populate != benchpop.PopulateFast && populate != benchpop.PopulateUseCase:
				return fmt.Errorf("bench enrol: --populate %q: want %s or %s", populate, benchpop.PopulateFast, benchpop.PopulateUseCase)
			}
			if populate == benchpop.PopulateUseCase && data != "" {
				return fmt.Errorf("bench enrol: --data keeps populations written fast only (the use cases choose the record ids, so a later run could not draw the mates)")
			}
			if sqliteMap < 0 {
				return fmt.Errorf("bench enrol: --sqlite-map %d: give MiB, 0 or more (0: no map)", sqliteMap)
			}
			if populateOnly && (data == "" || snapshot) {
				return fmt.Errorf("bench enrol: --populate-only needs --data DIR and no --snapshot")
			}
			if pgURL != "" && data == "" {
				return fmt.Errorf("bench enrol: --postgres needs --data DIR (the population's keys and bench.json; drop the schema yourself when done)")
			}
			where := "sqlite"
			if pgURL != "" {
				where = "postgres:" + pgSchema
			}
			dir, bench, err := benchDataDir(data, people, seed, where)
			if err != nil {
				return err
			}
			if data == "" {
				defer os.RemoveAll(dir)
			}
			db, err := benchStore(ctx, dir, pgURL, pgSchema, sqliteMap<<20)
			if err != nil {
				return err
			}
			defer db.Close()
			kr, kf, src, m, err := benchKeyring(ctx, data)
			if err != nil {
				return err
			}
			loadKeys, closeKeys, err := benchKeyStore(keyStore, src, m)
			if err != nil {
				return err
			}
			defer closeKeys()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			alog, err := registry.NewAuditLog(ctx, db, kr, nil, quiet)
			if err != nil {
				return err
			}
			snapPath := ""
			if snapshot {
				snapPath = dedup.SnapshotPath(dir, 0, 1)
			}
			last := time.Now()
			rep, err := benchpop.Run(ctx, db, kr, registry.Options{Logger: quiet, Audit: alog}, benchpop.Options{People: people, Probes: probes, Seed: seed, LoadKeys: loadKeys,
				Populate: populate, Kept: bench.People, ProbeSeed: uint64(bench.Runs), Snapshot: snapPath, PopulateOnly: populateOnly, Trace: traceFile,
				Progress: func(stage string, done, total int) {
					if time.Since(last) > 2*time.Second || done == total {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d/%d\n", stage, done, total)
						last = time.Now()
					}
				}})
			if err != nil {
				return err
			}
			if data != "" { // keep the population, its keys and the probes for the next run
				if err := kf.Save(); err != nil {
					return err
				}
				bench.People = people
				if !populateOnly { // no probes were enrolled
					bench.Runs++
				}
				if err := bench.save(dir); err != nil {
					return err
				}
			}
			if populateOnly && !asJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "population:        %d people, %d templates (written %s in %.1f s, %.1f s of CPU: %.0f people/s); not loaded (--populate-only)\n",
					rep.People, rep.Templates, rep.Populate, rep.PopulateSeconds, rep.PopulateCPUSeconds, rep.PopulatePerSecond)
				return nil
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			w := cmd.OutOrStdout()
			if rep.Populate == "existing" {
				fmt.Fprintf(w, "population:        %d people, %d templates (kept from an earlier run)\n", rep.People, rep.Templates)
			} else {
				fmt.Fprintf(w, "population:        %d people, %d templates (written %s in %.1f s, %.1f s of CPU: %.0f people/s)\n",
					rep.People, rep.Templates, rep.Populate, rep.PopulateSeconds, rep.PopulateCPUSeconds, rep.PopulatePerSecond)
			}
			fmt.Fprintf(w, "gallery load:      %.2f s (%.2f s of CPU), %.0f bytes per person in memory\n", rep.LoadSeconds, rep.LoadCPUSeconds, rep.BytesPerPerson)
			fmt.Fprintf(w, "  resident memory: peak %d MB during the load (%d MB of it anonymous: the heap without mapped files), %d MB before\n",
				rep.LoadPeakRSS>>20, rep.LoadPeakRSSAnon>>20, rep.LoadRSSBefore>>20)
			fmt.Fprintf(w, "  of which:        fingerprint cylinders %.0f, fingerprint index %.0f, iris %.0f, keys and the rest %.0f\n",
				rep.FingerCylinderBytes, rep.FingerIndexBytes, rep.IrisBytes, rep.OtherBytes)
			fmt.Fprintf(w, "enrolment (4 captures, dedup): p50 %.1f ms, p95 %.1f ms, max %.1f ms over %d people\n", rep.EnrolP50MS, rep.EnrolP95MS, rep.EnrolMaxMS, rep.Probes)
			fmt.Fprintf(w, "one capture:       fingerprint p50 %.1f ms, p95 %.1f ms; iris p50 %.1f ms, p95 %.1f ms\n",
				rep.FingerCaptureP50MS, rep.FingerCaptureP95MS, rep.IrisCaptureP50MS, rep.IrisCaptureP95MS)
			fmt.Fprintf(w, "mates found:       %d of %d; false candidates: %d\n", rep.DuplicatesFound, rep.DuplicatesExpected, rep.FalseCandidates)
			if snapshot {
				fmt.Fprintf(w, "gallery from:      %s\n", rep.LoadSource)
				fmt.Fprintf(w, "snapshot write:    %.2f s (%.2f s of CPU), %d bytes\n", rep.SnapshotWriteSeconds, rep.SnapshotWriteCPUSeconds, rep.SnapshotBytes)
				fmt.Fprintf(w, "snapshot load:     %.2f s (%.2f s of CPU, %.1f us a person), %d people, %d templates, %d records skipped\n",
					rep.SnapshotLoadSeconds, rep.SnapshotLoadCPUSeconds, rep.SnapshotLoadCPUPerPerson, rep.SnapshotPersons, rep.SnapshotTemplates, rep.SnapshotSkipped)
				fmt.Fprintf(w, "  memory:          peak resident %d MB (%d MB before), gallery %d MB\n", rep.SnapshotPeakRSS>>20, rep.SnapshotRSSBefore>>20, rep.SnapshotGalleryBytes>>20)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&people, "people", 10000, "enrolled population")
	cmd.Flags().IntVar(&probes, "probes", 200, "enrolments to measure")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic data")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&snapshot, "snapshot", false, "write a gallery snapshot after the probes and measure its load (with --data, start later runs from it)")
	cmd.Flags().BoolVar(&populateOnly, "populate-only", false, "with --data: write the population (or the persons it lacks) and stop, without loading or probing it")
	cmd.Flags().Int64Var(&sqliteMap, "sqlite-map", sqlite.DefaultMapBytes>>20, "MiB of the SQLite database file its readers map (0: none); mapped pages count in the resident memory")
	cmd.Flags().StringVar(&keyStore, "keys", "mem", "where the load reads the data keys: mem, sqlite (keys.db) or a postgres:// URL")
	cmd.Flags().StringVar(&populate, "populate", benchpop.PopulateFast, "population writer: fast (store and keyring, every core) or usecase (the registry's use cases)")
	cmd.Flags().StringVar(&data, "data", "", "keep the population in this directory and measure it again on later runs (default: a temporary directory)")
	cmd.Flags().StringVar(&pgURL, "postgres", "", "write the population to this PostgreSQL database (default: SQLite in the bench directory)")
	cmd.Flags().StringVar(&pgSchema, "postgres-schema", "assent_bench", "with --postgres, the schema of the bench's tables (created if missing, kept: drop it with psql when done)")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	cmd.Flags().StringVar(&traceFile, "trace", "", "with --snapshot: write an execution trace of each snapshot load (go tool trace): the start's to this file, the reload's to FILE.reload")
	return cmd
}

// startCPUProfile starts a CPU profile written to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// benchState is what a kept bench directory (--data) records about its
// population, in bench.json.
type benchState struct {
	People int    `json:"people"`
	Seed   uint64 `json:"seed"`
	Store  string `json:"store"` // sqlite, or postgres:SCHEMA
	Runs   int    `json:"runs"`  // finished runs: their probes are enrolled too
}

func (b benchState) save(dir string) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.json"), raw, 0o600)
}

// benchDataDir returns the directory of the bench's store: a new temporary
// one when data is empty; else data, created if missing, with its
// bench.json (People and Runs 0 for a new one). A kept population is
// measured again, or extended to more --people, only with the --seed and
// store (where) that wrote it.
func benchDataDir(data string, people int, seed uint64, where string) (string, benchState, error) {
	st := benchState{Seed: seed, Store: where}
	if data == "" {
		dir, err := os.MkdirTemp("", "assent-bench-")
		return dir, st, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", st, err
	}
	raw, err := os.ReadFile(filepath.Join(data, "bench.json"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(data, "assent.db")); err == nil {
			return "", st, fmt.Errorf("bench enrol: %s holds a store but no bench.json (a run that did not finish?): use an empty directory", data)
		}
		return data, st, nil
	}
	if err != nil {
		return "", st, err
	}
	var kept benchState
	if err := json.Unmarshal(raw, &kept); err != nil {
		return "", st, fmt.Errorf("bench enrol: %s/bench.json: %w", data, err)
	}
	if kept.Store == "" {
		kept.Store = "sqlite" // written before bench.json named the store
	}
	if kept.People > people || kept.Seed != seed || kept.Store != where {
		return "", st, fmt.Errorf("bench enrol: %s holds %d people of seed %d in %s: run with --seed %d, --people %d or more, and that store", data, kept.People, kept.Seed, kept.Store, kept.Seed, kept.People)
	}
	return data, kept, nil
}

// benchKeyring is the bench's keyring: keys in memory, or for a kept
// directory in its key file, under its master key file; with the key store
// it reads and that master key.
func benchKeyring(ctx context.Context, data string) (*envelope.Keyring, *benchpop.KeyFile, envelope.KeyStore, *envelope.MasterKey, error) {
	if data == "" {
		m, err := envelope.GenerateMasterKey()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		mem := &envelope.MemStore{}
		kr, err := envelope.NewKeyring(ctx, mem, m, envelope.Options{CacheSize: -1})
		return kr, nil, mem, m, err
	}
	m, err := envelope.LoadOrCreateMasterKey(filepath.Join(data, "master.key"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	kf, err := benchpop.OpenKeyFile(filepath.Join(data, "bench-keys.gob"))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	kr, err := envelope.NewKeyring(ctx, kf, m, envelope.Options{CacheSize: -1})
	return kr, kf, kf, m, err
}

// benchStore opens the bench's store: SQLite in dir, or with pgURL the
// PostgreSQL schema given (created and migrated).
func benchStore(ctx context.Context, dir, pgURL, schema string, mapBytes int64) (store.Store, error) {
	if pgURL == "" {
		if mapBytes == 0 {
			mapBytes = -1 // --sqlite-map 0: no map
		}
		return sqlite.Open(ctx, dir, sqlite.Options{Migrate: true, MapBytes: mapBytes})
	}
	return postgres.Open(ctx, pgURL, postgres.Options{Migrate: true, Schema: schema})
}

// benchKeyStore returns what assent bench enrol --keys asks for: nil for
// mem (the keys stay where the population's keyring holds them), else a
// function copying the keys of src into a new keys.db (in a temporary
// directory) or a PostgreSQL key database (a schema of its own) and
// returning a keyring over it as a server opens one; close releases the
// store (and removes the file or drops the schema).
func benchKeyStore(kind string, src envelope.KeyStore, m *envelope.MasterKey) (load func(context.Context) (registry.Keyring, error), close func(), err error) {
	var all []envelope.WrappedKey
	collect := func(ctx context.Context) error {
		rw, ok := src.(interface {
			Rewrap(context.Context, func(envelope.WrappedKey) (envelope.WrappedKey, error)) error
		})
		if !ok {
			return fmt.Errorf("--keys: the population's key store cannot list its keys")
		}
		return rw.Rewrap(ctx, func(wk envelope.WrappedKey) (envelope.WrappedKey, error) {
			all = append(all, wk)
			return wk, nil
		})
	}
	switch {
	case kind == "mem":
		return nil, func() {}, nil
	case kind == "sqlite":
		var ks *envelope.SQLiteStore
		dir, err := os.MkdirTemp("", "assent-bench-keys-")
		if err != nil {
			return nil, nil, err
		}
		load = func(ctx context.Context) (registry.Keyring, error) {
			var err error
			if ks, err = envelope.OpenSQLiteStore(ctx, filepath.Join(dir, keyStoreFile)); err != nil {
				return nil, err
			}
			if err := collect(ctx); err != nil {
				return nil, err
			}
			if err := ks.Import(ctx, all); err != nil {
				return nil, err
			}
			all = nil // (3 keys a person, 4 pointers a key: every collection of the load would mark them)
			return envelope.NewKeyring(ctx, ks, m, envelope.Options{})
		}
		return load, func() {
			if ks != nil {
				ks.Close()
			}
			os.RemoveAll(dir)
		}, nil
	case strings.HasPrefix(kind, "postgres://") || strings.HasPrefix(kind, "postgresql://"):
		schema := fmt.Sprintf("bench_keys_%d", os.Getpid())
		var ks *pgkeys.Store
		load = func(ctx context.Context) (registry.Keyring, error) {
			var err error
			if ks, err = pgkeys.Open(ctx, kind, pgkeys.Options{Schema: schema}); err != nil {
				return nil, err
			}
			if err := collect(ctx); err != nil {
				return nil, err
			}
			if err := ks.Import(ctx, all); err != nil {
				return nil, err
			}
			all = nil
			return envelope.NewKeyring(ctx, ks, m, envelope.Options{CacheSize: -1})
		}
		return load, func() {
			if ks == nil {
				return
			}
			ks.Close()
			ctx := context.Background()
			if c, err := pgx.Connect(ctx, kind); err == nil {
				_, _ = c.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
				c.Close(ctx)
			}
		}, nil
	}
	return nil, nil, fmt.Errorf("--keys %q: want mem, sqlite or a postgres:// URL", kind)
}
