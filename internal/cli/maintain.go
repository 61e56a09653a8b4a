package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/spf13/cobra"
)

func newMaintainCmd() *cobra.Command {
	var dir string
	var retention careRetention
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Apply time-based erasure (lapsed guardian consents after the grace period), finish interrupted shredding and pending deduplication searches",
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
			out := maintainOutput{MaintenanceReport: rep}
			if out.PendingDone, out.PendingLeft, err = completePendingOnce(cmd.Context(), a, log); err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(out)
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

// maintainOutput is what `assent maintain` prints: the registry's
// maintenance report and the pending deduplication searches it finished
// and left.
type maintainOutput struct {
	registry.MaintenanceReport
	PendingDone int `json:"pending_searches_completed"`
	PendingLeft int `json:"pending_searches_left"`
}

// completePendingOnce finishes the pending deduplication searches once.
// An in-process gallery service is loaded first, and only when there is
// something to finish (the load reads every template).
func completePendingOnce(ctx context.Context, a *app, log *slog.Logger) (done, still int, err error) {
	n, err := a.reg.PendingSearchCount(ctx)
	if err != nil || n == 0 {
		return 0, 0, err
	}
	if err := loadGalleries(ctx, a, log, 10*time.Second); err != nil {
		return 0, n, err
	}
	return a.reg.CompletePendingSearches(ctx)
}

// pendingLoop finishes pending deduplication searches every interval
// until ctx is done (serve starts it once its galleries are loaded).
func pendingLoop(ctx context.Context, a *app, every time.Duration, log *slog.Logger) {
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
			done, still, err := a.reg.CompletePendingSearches(ctx)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					log.Error("pending deduplication searches", "err", err)
				}
			case done > 0 || still > 0:
				log.Info("pending deduplication searches", "completed", done, "still_pending", still)
			}
		}
	}
}
