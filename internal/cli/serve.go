package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/web"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var dir, addr, logFormat string
	var migrate bool
	var cpEvery time.Duration
	var cpEntries uint64
	var maintainEvery time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry API on a data directory (created on first run)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), logFormat)
			a, err := openApp(cmd.Context(), dir, migrate, log, pgFlag(cmd))
			if err != nil {
				return err
			}
			defer a.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			st, err := a.reg.LoadGalleries(cmd.Context(), func(done int) { log.Info("loading 1:N galleries", "templates_read", done) })
			if err != nil {
				return err
			}
			log.Info("galleries loaded", "persons", st.Persons, "fingerprint", st.Templates["fingerprint"], "iris", st.Templates["iris"], "skipped", st.Skipped, "ms", st.Duration.Milliseconds())
			log.Info("serving", "addr", ln.Addr().String(), "data", dir)
			go maintainLoop(cmd.Context(), a, maintainEvery, log)
			return serve(cmd.Context(), a, ln, log, cpEvery, cpEntries)
		},
	}
	cmd.Flags().DurationVar(&cpEvery, "checkpoint-every", time.Minute, "cut a signed audit checkpoint this often (when the log grew)")
	cmd.Flags().DurationVar(&maintainEvery, "maintain-every", time.Hour, "run maintenance (time-based erasure) this often; 0 disables")
	cmd.Flags().Uint64Var(&cpEntries, "checkpoint-entries", 1000, "cut a signed audit checkpoint after this many new entries")
	cmd.Flags().StringVar(&dir, "data", "", "data directory (SQLite file, key store, master key)")
	addPostgresFlag(cmd.Flags())
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT")
	cmd.Flags().BoolVar(&migrate, "migrate", true, "apply pending schema migrations at start (else refuse a stale schema)")
	cmd.Flags().StringVar(&logFormat, "log", "json", "log format: json or text")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func newLogger(w interface{ Write([]byte) (int, error) }, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// serve runs the API on ln until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully: in-flight requests finish (up to 15 s), and the
// background jobs stop.
func serve(ctx context.Context, a *app, ln net.Listener, log *slog.Logger, cpEvery time.Duration, cpEntries uint64) error {
	api := httpapi.New(a.reg, httpapi.Options{Logger: log})
	ui, err := web.New(a.reg, web.Options{Logger: log, API: api})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ui, // the web UI at /, /ui/, /portal; everything else to the API
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	bg, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		if err := a.audit.Run(bg, cpEvery, cpEntries); err != nil {
			log.Error("audit checkpoints stopped", "err", err)
		}
	}()
	defer func() {
		stopBG()
		<-bgDone
		// The final checkpoint covers every entry written before shutdown.
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if cp, err := a.audit.Checkpoint(fctx); err != nil {
			log.Error("final audit checkpoint", "err", err)
		} else {
			log.Info("final audit checkpoint", "size", cp.Size)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
