package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/cluster"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/fhir"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/opsmetrics"
	"github.com/assent-registry/assent/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var dir, addr, logFormat string
	var migrate bool
	var cpEvery time.Duration
	var cpEntries uint64
	var maintainEvery, pendingEvery time.Duration
	var tlsCert, tlsKey, metricsAddr string
	var proxies []string
	var retention careRetention
	var natsURL string
	var shards, replicas int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry API on a data directory (created on first run)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), logFormat)
			cfg := serveConfig{cpEvery: cpEvery, cpEntries: cpEntries, tlsCert: tlsCert, tlsKey: tlsKey, metricsAddr: metricsAddr, metrics: opsmetrics.New(log)}
			if err := cfg.parse(proxies); err != nil {
				return err
			}
			o := openOptions{CareRetention: time.Duration(retention), Migrate: migrate, Create: true, Lock: dirlock.Shared, Command: "assent serve", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd), Observer: cfg.metrics}
			var client *cluster.Client
			if natsURL != "" {
				// An API node with no gallery of its own: the shards
				// (assent gallery) hold them, and read the data and the
				// keys from the shared PostgreSQL databases.
				if o.Postgres == "" || o.KeysPostgres == "" {
					return errors.New("--nats needs --postgres and --keys-postgres: the gallery shards read the data and the keys from them")
				}
				c, nc, err := clusterClient(cmd.Context(), natsURL, shards, replicas, log)
				if err != nil {
					return err
				}
				defer nc.Close()
				client, o.Galleries = c, c
			} else if shards != 0 {
				return errors.New("--shards goes with --nats")
			}
			a, err := openDir(cmd.Context(), dir, log, o)
			if err != nil {
				return err
			}
			defer a.Close()
			if client != nil {
				client.UseOutbox(a.reg)
				go client.RunRelay(cmd.Context())
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			if err := loadGalleries(cmd.Context(), a, log, 10*time.Second); err != nil {
				return err
			}
			log.Info("serving", "addr", ln.Addr().String(), "data", dir, "tls", cfg.tlsCert != "")
			go maintainLoop(cmd.Context(), a, maintainEvery, log)
			go pendingLoop(cmd.Context(), a, pendingEvery, log)
			return serve(cmd.Context(), a, ln, log, cfg)
		},
	}
	cmd.Flags().DurationVar(&cpEvery, "checkpoint-every", time.Minute, "cut a signed audit checkpoint this often (when the log grew)")
	cmd.Flags().DurationVar(&maintainEvery, "maintain-every", time.Hour, "run maintenance (time-based erasure) this often; 0 disables")
	cmd.Flags().DurationVar(&pendingEvery, "complete-pending-every", 10*time.Second, "finish the deduplication searches a gallery shard left pending this often; 0 disables")
	cmd.Flags().Uint64Var(&cpEntries, "checkpoint-entries", 1000, "cut a signed audit checkpoint after this many new entries")
	cmd.Flags().StringVar(&dir, "data", "", "data directory (SQLite file, key store, master key); may be left out with --postgres, --keys-postgres and ASSENT_MASTER_KEY_FILE")
	addPostgresFlag(cmd.Flags())
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT")
	cmd.Flags().BoolVar(&migrate, "migrate", true, "apply pending schema migrations at start (else refuse a stale schema)")
	cmd.Flags().StringVar(&logFormat, "log", "json", "log format: json or text")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS (TLS 1.2+) with this PEM certificate chain (with --tls-key)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	cmd.Flags().StringSliceVar(&proxies, "trusted-proxy", nil, "CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve /metrics on this HOST:PORT only, not on --addr (e.g. 127.0.0.1:9090)")
	addCareRetentionFlag(cmd.Flags(), &retention)
	cmd.Flags().StringVar(&natsURL, "nats", "", "NATS server URL(s): run as an API node with no gallery of its own, searching the gallery shards (assent gallery) over NATS JetStream; needs --postgres, --keys-postgres and --shards")
	cmd.Flags().IntVar(&shards, "shards", 0, "the number of gallery shards N (with --nats)")
	cmd.Flags().IntVar(&replicas, "stream-replicas", 0, "copies of the gallery stream when it is created (0: 3, or fewer when the NATS cluster is smaller)")
	return cmd
}

func newLogger(w interface{ Write([]byte) (int, error) }, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// serveConfig is what serve needs beyond the app and the listener.
type serveConfig struct {
	cpEvery         time.Duration
	cpEntries       uint64
	tlsCert, tlsKey string
	trustedProxies  []netip.Prefix
	metricsAddr     string
	cert            *tls.Certificate    // loaded by parse
	metrics         *opsmetrics.Metrics // the registry's observer; nil: gauges only
}

// parse loads the TLS certificate and parses the trusted proxies, so a
// mistake is reported before the data directory is opened.
func (c *serveConfig) parse(proxies []string) error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		c.cert = &cert
	}
	for _, p := range proxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("--trusted-proxy %q: not a CIDR (10.0.0.0/8) or an address", p)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.trustedProxies = append(c.trustedProxies, pfx.Masked())
	}
	return nil
}

// serve runs the API on ln until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully: in-flight requests finish (up to 15 s), and the
// background jobs stop. With cfg.tlsCert it serves TLS 1.2 or later; with
// cfg.metricsAddr, /metrics is served there and not on ln.
func serve(ctx context.Context, a *app, ln net.Listener, log *slog.Logger, cfg serveConfig) error {
	m := cfg.metrics
	if m == nil {
		m = opsmetrics.New(log)
	}
	m.Watch(a.reg)
	prom := prometheus.NewRegistry()
	prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := m.Register(prom); err != nil {
		return err
	}
	api := httpapi.New(a.reg, httpapi.Options{Logger: log, Registry: prom, TrustedProxies: cfg.trustedProxies, SeparateMetrics: cfg.metricsAddr != ""})
	fhir.Mount(api, a.reg, fhir.Options{})
	ui, err := web.New(a.reg, web.Options{Logger: log, API: api, Secure: cfg.tlsCert != ""})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           httpapi.SecurityHeaders(ui), // the web UI at /, /ui/, /portal; everything else to the API
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.tlsCert != "" {
		if cfg.cert == nil {
			if err := cfg.parse(nil); err != nil {
				return err
			}
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cfg.cert}}
	}
	if cfg.metricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		msrv := &http.Server{Handler: api.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: srv.ErrorLog}
		log.Info("serving metrics", "addr", mln.Addr().String())
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // HTTP/2 and HTTP/1.1 over the configured certificate
			return
		}
		errc <- srv.Serve(ln)
	}()
	bg, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		if err := a.audit.Run(bg, cfg.cpEvery, cfg.cpEntries); err != nil {
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

// loadGalleries loads the 1:N galleries, logging "loading 1:N galleries"
// once at the start, progress at most every progressEvery (a load of
// millions of templates takes minutes), and "1:N galleries loaded" with the
// templates per modality, the persons, the skipped templates and the time.
func loadGalleries(ctx context.Context, a *app, log *slog.Logger, progressEvery time.Duration) error {
	log.Info("loading 1:N galleries")
	last := time.Now()
	st, err := a.reg.LoadGalleries(ctx, func(done int) {
		if time.Since(last) >= progressEvery {
			log.Info("1:N gallery load progress", "templates_read", done)
			last = time.Now()
		}
	})
	if err != nil {
		return err
	}
	attrs := append(modalityAttrs(a.reg.GallerySizes()), "persons", st.Persons, "skipped", st.Skipped, "ms", st.Duration.Milliseconds())
	log.Info("1:N galleries loaded", attrs...)
	return nil
}

// modalityAttrs is one log attribute per modality, in a stable order.
func modalityAttrs[K ~string](counts map[K]int) []any {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, string(k))
	}
	slices.Sort(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		attrs = append(attrs, k, counts[K(k)])
	}
	return attrs
}
