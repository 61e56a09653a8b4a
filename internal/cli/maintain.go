package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/spf13/cobra"
)

func newMaintainCmd() *cobra.Command {
	var dir string
	var retention careRetention
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Apply time-based erasure (lapsed guardian consents after the grace period) and finish interrupted shredding",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), "text")
			a, err := openDir(cmd.Context(), dir, log, openOptions{CareRetention: time.Duration(retention), Migrate: true, Lock: dirlock.Exclusive, Command: "assent maintain",
				Why: "the server runs maintenance itself (--maintain-every)", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := a.reg.Maintain(cmd.Context())
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(cmd.Flags())
	addCareRetentionFlag(cmd.Flags(), &retention)
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// maintainLoop runs maintenance every interval until ctx is done.
func maintainLoop(ctx context.Context, a *app, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rep, err := a.reg.Maintain(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("maintenance failed", "err", err)
				}
				continue
			}
			log.Info("maintenance", "checked", rep.Checked, "erased_persons", rep.ErasedPersons, "erased_categories", rep.ErasedData, "shredded_tombstones", rep.ShreddedPersons, "care_data_erased", rep.CareDataErased, "sessions_and_counters_pruned", rep.SharedPruned)
		}
	}
}
