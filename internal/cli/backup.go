package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/sqlite"
	"github.com/spf13/cobra"
)

// errPostgresBackup: the backup commands cover the SQLite data file; a
// PostgreSQL registry is backed up with PostgreSQL's own tools.
var errPostgresBackup = errors.New("the data is in PostgreSQL: back it up with pg_dump or pg_basebackup (docs/keys.md, \"Backups\"); never copy keys.db or the master key with it")

func newBackupCmd() *cobra.Command {
	var dir, out string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a consistent copy of DIR's data file (never the key store), also while serve runs",
		Long: `backup copies the SQLite data file of DIR to --out with VACUUM INTO, in one
read transaction: it runs beside a live server and the copy is one moment's
snapshot. It never copies keys.db or the master key: every personal value in
the copy is sealed under keys that stay in DIR, so a person erased after the
backup (their keys shredded) stays erased when it is restored. Keep the key
store and the master key on other media (docs/keys.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pgFlag(cmd) != "" {
				return errPostgresBackup
			}
			if err := isRegistry(dir); err != nil {
				return err
			}
			// Shared: beside serve, never beside a restore or a rotation.
			l, err := dirlock.Dir(dir, dirlock.Shared)
			if err != nil {
				return lockRefusal(err, dir, openOptions{Lock: dirlock.Shared, Command: "assent backup"})
			}
			defer l.Close()
			if err := sqlite.Backup(cmd.Context(), dir, out); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%d bytes; data only, no keys)\n", out, st.Size())
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory")
	cmd.Flags().StringVar(&out, "out", "", "file to write (must not exist)")
	addPostgresFlag(cmd.Flags())
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace DIR's data file with a backup, beside DIR's live key store (server stopped)",
		Long: `restore checks FILE (an intact Assent data file of a schema this binary knows),
verifies that its audit log was signed by DIR's key store (a backup of another
registry is refused), then replaces DIR's data file with it, keeping DIR's key
store and master key: the live keys. DIR's data file may be missing or
damaged. People erased since the backup stay erased (their keys are
gone); people registered since are lost and must be registered again. Stop the
server first; restore holds DIR alone.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pgFlag(cmd) != "" {
				return errPostgresBackup
			}
			if err := isRegistry(dir); err != nil {
				return err
			}
			o := openOptions{Lock: dirlock.Exclusive, Command: "assent restore", Why: "restore replaces the data file the server has open"}
			l, err := dirlock.Dir(dir, dirlock.Exclusive)
			if err != nil {
				return lockRefusal(err, dir, o)
			}
			defer l.Close()
			// This registry's audit key (in its key store) must have signed
			// the backup's checkpoints: a backup of another registry would
			// open, but none of its sealed values would. Only the key store
			// is read here: the data file may be the very thing lost.
			quiet := slog.New(slog.DiscardHandler)
			ks, keys, err := openKeyring(cmd.Context(), dir, quiet)
			if err != nil {
				return err
			}
			signer, err := registry.AuditSigner(cmd.Context(), keys)
			ks.Close()
			if err != nil {
				return err
			}
			key := signer.VerifierKey()
			o.Lock, o.Migrate = 0, true // the lock is held above
			if err := sqlite.Restore(cmd.Context(), dir, args[0], func(ctx context.Context, stage string) error {
				return verifyBackupLog(ctx, stage, key)
			}); err != nil {
				return err
			}
			// Open once (migrations, key store, audit chain) so a restore that
			// cannot serve is known now, not at the next start.
			a, err := openDir(cmd.Context(), dir, quiet, o)
			if err != nil {
				return fmt.Errorf("restored, but the data directory does not open: %w", err)
			}
			if err := a.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s\n", args[0], filepath.Join(dir, sqlite.FileName))
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory (its key store and master key are kept)")
	addPostgresFlag(cmd.Flags())
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// verifyBackupLog opens the staged backup in stage and verifies its audit
// log (every entry, every checkpoint) against key, this registry's audit
// verifier key.
func verifyBackupLog(ctx context.Context, stage, key string) error {
	db, err := sqlite.Open(ctx, stage, sqlite.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer db.Close()
	notes, err := registry.AuditCheckpointNotes(ctx, db)
	if err != nil {
		return err
	}
	if _, err := audit.Verify(ctx, registry.AuditRows(ctx, db), notes, key); err != nil {
		return fmt.Errorf("not a backup of this registry, or altered: its audit log does not verify with this key store's audit key (%w); nothing was changed", err)
	}
	return nil
}
