package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/assent-registry/assent/internal/dirlock"
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
then replaces DIR's data file with it, keeping DIR's key store and master key:
the live keys. People erased since the backup stay erased (their keys are
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
			if err := sqlite.Restore(cmd.Context(), dir, args[0]); err != nil {
				l.Close()
				return err
			}
			l.Close()
			// Open once (migrations, key store, audit chain) so a restore that
			// cannot serve is known now, not at the next start.
			quiet := slog.New(slog.DiscardHandler)
			o.Migrate = true
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
