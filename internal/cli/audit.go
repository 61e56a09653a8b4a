package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/spf13/cobra"
)

// exitError carries an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) ExitCode() int { return e.code }
func (e *exitError) Unwrap() error { return e.err }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check the tamper-evident audit log"}
	var dir, key string
	var asJSON bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit Merkle tree from the stored events and check every signed checkpoint",
		Long: `verify reads every stored audit event, recomputes the RFC 6962 tree and checks
every checkpoint's signature, its root, and the consistency between successive
checkpoints. Exit 0 when intact; exit 2 naming the first bad entry otherwise.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			vkey := key
			if vkey == "" {
				vkey = a.audit.VerifierKey()
			}
			notes, err := registry.AuditCheckpointNotes(cmd.Context(), a.db)
			if err != nil {
				return err
			}
			rep, verr := audit.Verify(cmd.Context(), registry.AuditRows(cmd.Context(), a.db), notes, vkey)
			out := cmd.OutOrStdout()
			if asJSON {
				res := map[string]any{"ok": verr == nil, "entries": rep.Entries, "checkpoints": rep.Checkpoints, "latest_checkpoint": rep.LatestCheckpoint, "problems": rep.Problems}
				if err := json.NewEncoder(out).Encode(res); err != nil {
					return err
				}
			}
			var te *audit.TamperError
			if errors.As(verr, &te) {
				if !asJSON {
					fmt.Fprintf(out, "audit log TAMPERED: first bad entry %d: %v\n", te.Index, te)
					for _, p := range rep.Problems {
						fmt.Fprintf(out, "  entry %d: %v\n", p.Index, &p)
					}
				}
				return &exitError{code: 2, err: fmt.Errorf("audit log tampered at entry %d", te.Index)}
			}
			if verr != nil {
				return verr
			}
			if !asJSON {
				fmt.Fprintf(out, "audit log intact: %d entries, %d signed checkpoints (latest covers %d)\n", rep.Entries, rep.Checkpoints, rep.LatestCheckpoint)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(verify.Flags())
	verify.Flags().StringVar(&key, "key", "", "verifier key to trust (default: this registry's own, from its key store)")
	verify.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = verify.MarkFlagRequired("data")
	cmd.AddCommand(verify)
	return cmd
}
