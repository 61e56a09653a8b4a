package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/benchpop"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/envelope/pgkeys"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
)

func newBenchEnrolCmd() *cobra.Command {
	var people, probes int
	var seed uint64
	var asJSON bool
	var profile, keyStore string
	cmd := &cobra.Command{
		Use:   "enrol",
		Short: "Enrolment with 1:N deduplication against a synthetic population (two fingers, two irises each)",
		Long: `enrol writes --people synthetic persons (sealed templates, deduplication
consents) into a temporary SQLite store, rebuilds the 1:N galleries as a
server start does (time and memory per person), then enrols --probes new
people through the enrolment path (half of them mates of enrolled people) and
reports latency percentiles and how many mates were found. Templates are
synthetic, so extraction time is not included. The data keys are made in
memory to write the population quickly; --keys sqlite (a keys.db, with the
keyring's default cache, as a server) or --keys postgres://... (a key
database, no cache, as a server with --keys-postgres; the keys go into a
schema of their own, dropped at the end) copies them into a real key store
before the load.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if profile != "" {
				stop, err := startCPUProfile(profile)
				if err != nil {
					return err
				}
				defer stop()
			}
			dir, err := os.MkdirTemp("", "assent-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			db, err := sqlite.Open(ctx, dir, sqlite.Options{Migrate: true})
			if err != nil {
				return err
			}
			defer db.Close()
			m, err := envelope.GenerateMasterKey()
			if err != nil {
				return err
			}
			mem := &envelope.MemStore{}
			kr, err := envelope.NewKeyring(ctx, mem, m, envelope.Options{CacheSize: -1})
			if err != nil {
				return err
			}
			loadKeys, closeKeys, err := benchKeyStore(keyStore, dir, mem, m)
			if err != nil {
				return err
			}
			defer closeKeys()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			alog, err := registry.NewAuditLog(ctx, db, kr, nil, quiet)
			if err != nil {
				return err
			}
			last := time.Now()
			rep, err := benchpop.Run(ctx, db, kr, registry.Options{Logger: quiet, Audit: alog}, benchpop.Options{People: people, Probes: probes, Seed: seed, LoadKeys: loadKeys,
				Progress: func(stage string, done, total int) {
					if time.Since(last) > 2*time.Second || done == total {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d/%d\n", stage, done, total)
						last = time.Now()
					}
				}})
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "population:        %d people, %d templates (written in %.1f s)\n", rep.People, rep.Templates, rep.PopulateSeconds)
			fmt.Fprintf(w, "gallery load:      %.2f s (%.2f s of CPU), %.0f bytes per person in memory\n", rep.LoadSeconds, rep.LoadCPUSeconds, rep.BytesPerPerson)
			fmt.Fprintf(w, "  of which:        fingerprint cylinders %.0f, fingerprint index %.0f, iris %.0f, keys and the rest %.0f\n",
				rep.FingerCylinderBytes, rep.FingerIndexBytes, rep.IrisBytes, rep.OtherBytes)
			fmt.Fprintf(w, "enrolment (4 captures, dedup): p50 %.1f ms, p95 %.1f ms, max %.1f ms over %d people\n", rep.EnrolP50MS, rep.EnrolP95MS, rep.EnrolMaxMS, rep.Probes)
			fmt.Fprintf(w, "one capture:       fingerprint p50 %.1f ms, p95 %.1f ms; iris p50 %.1f ms, p95 %.1f ms\n",
				rep.FingerCaptureP50MS, rep.FingerCaptureP95MS, rep.IrisCaptureP50MS, rep.IrisCaptureP95MS)
			fmt.Fprintf(w, "mates found:       %d of %d; false candidates: %d\n", rep.DuplicatesFound, rep.DuplicatesExpected, rep.FalseCandidates)
			return nil
		},
	}
	cmd.Flags().IntVar(&people, "people", 10000, "enrolled population")
	cmd.Flags().IntVar(&probes, "probes", 200, "enrolments to measure")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic data")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&keyStore, "keys", "mem", "where the load reads the data keys: mem, sqlite (keys.db) or a postgres:// URL")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
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

// benchKeyStore returns what assent bench enrol --keys asks for: nil for
// mem (the keys stay in memory), else a function copying the keys of mem
// into a keys.db in dir or a PostgreSQL key database (a schema of its own)
// and returning a keyring over it as a server opens one; close releases
// the store (and drops the schema).
func benchKeyStore(kind, dir string, mem *envelope.MemStore, m *envelope.MasterKey) (load func(context.Context) (registry.Keyring, error), close func(), err error) {
	var all []envelope.WrappedKey
	collect := func(ctx context.Context) error {
		return mem.Rewrap(ctx, func(wk envelope.WrappedKey) (envelope.WrappedKey, error) {
			all = append(all, wk)
			return wk, nil
		})
	}
	switch {
	case kind == "mem":
		return nil, func() {}, nil
	case kind == "sqlite":
		var ks *envelope.SQLiteStore
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
			return envelope.NewKeyring(ctx, ks, m, envelope.Options{})
		}
		return load, func() {
			if ks != nil {
				ks.Close()
			}
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
