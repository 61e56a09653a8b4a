// Package cli holds the assent subcommands. Each file builds one command tree;
// root.go assembles them. Commands write results to stdout and diagnostics to
// stderr, and return errors instead of exiting so they can be tested.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Execute runs the command line args and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "assent:", err)
		var ec exitCoder
		if asExitCoder(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "assent",
		Short:         "Assent: a consent-first population registry",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)

	evalCmd := &cobra.Command{Use: "eval", Short: "Evaluate a biometric engine on a data set (FVC protocol)"}
	evalCmd.AddCommand(newEvalFingerprintCmd(), newEvalFingerprintIndexCmd(), newEvalIrisCmd())
	benchCmd := &cobra.Command{Use: "bench", Short: "Measure 1:N scan speed of a biometric engine"}
	benchCmd.AddCommand(newBenchFingerprintCmd(), newBenchIrisCmd(), newBenchEnrolCmd(), newBenchReportCmd())

	root.AddCommand(
		newVersionCmd(),
		newServeCmd(),
		newGalleryCmd(),
		newKeysCmd(),
		newDemoCmd(),
		newAuditCmd(),
		newMaintainCmd(),
		newReceiptCmd(),
		newImportCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newAreasCmd(),
		newReportCmd(),
		evalCmd,
		benchCmd,
	)
	return root
}

// exitCoder is an error that asks for a specific process exit code.
type exitCoder interface {
	error
	ExitCode() int
}

// addPostgresFlag gives a command that opens the data the --postgres flag.
func addPostgresFlag(fs *pflag.FlagSet) {
	fs.String("postgres", "", "keep the data in PostgreSQL at this URL instead of DIR's SQLite file (the key store stays in DIR); default $ASSENT_DATABASE_URL")
	fs.String("keys-postgres", "", "keep the wrapped data keys in this PostgreSQL database (never the data database) instead of DIR's keys.db; default $ASSENT_KEYS_DATABASE_URL")
}

// keysPGFlag is the --keys-postgres URL, or ASSENT_KEYS_DATABASE_URL when
// the flag is unset.
func keysPGFlag(cmd *cobra.Command) string {
	if v, _ := cmd.Flags().GetString("keys-postgres"); v != "" {
		return v
	}
	return os.Getenv("ASSENT_KEYS_DATABASE_URL")
}

// pgFlag is the --postgres URL, or ASSENT_DATABASE_URL when the flag is unset.
func pgFlag(cmd *cobra.Command) string {
	if v, _ := cmd.Flags().GetString("postgres"); v != "" {
		return v
	}
	return os.Getenv("ASSENT_DATABASE_URL")
}
