package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/assent-registry/assent/internal/cluster"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store/postgres"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// newGalleryCmd is `assent gallery`: one replica of one gallery shard.
func newGalleryCmd() *cobra.Command {
	var natsURL, logFormat, snapDir string
	var shard, of, replicas int
	var snapEvery time.Duration
	cmd := &cobra.Command{
		Use:   "gallery",
		Short: "Run one replica of 1:N gallery shard I of N (PostgreSQL, the PostgreSQL key store, NATS JetStream)",
		Long: `Runs one replica of gallery shard --shard I of --of N: it loads the
deduplication templates of its people (hash of the person id mod N) from
PostgreSQL, opens them with the shared key store (--keys-postgres) and the
master key (ASSENT_MASTER_KEY_FILE), follows the gallery stream on NATS
JetStream from the point before its load, and answers the API nodes'
searches. More processes with the same --shard are replicas. It exits
non-zero when it cannot go on; restart it and it loads again.

--snapshot DIR keeps a sealed gallery snapshot of the shard in DIR
(created, 0700; one file per shard, each person's record sealed under
their own data key): a start loads it instead of PostgreSQL when it is
usable and the stream still holds the changes after it, then applies
them before answering. It is written after a load from PostgreSQL,
every --snapshot-every, and at a graceful stop (docs/scale.md, "Gallery
snapshots"). Replicas of one shard on one machine need a directory each.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), logFormat).With("component", "gallery")
			if snapEvery <= 0 || snapEvery > cluster.MaxAge/2 {
				return fmt.Errorf("--snapshot-every %s: want more than 0 and at most %s (half the stream's retention, so a snapshot's changes are still in the stream)", snapEvery, cluster.MaxAge/2)
			}
			pgURL, keysURL := pgFlag(cmd), keysPGFlag(cmd)
			if pgURL == "" || keysURL == "" || natsURL == "" {
				return errors.New("gallery needs --postgres (or ASSENT_DATABASE_URL), --keys-postgres (or ASSENT_KEYS_DATABASE_URL) and --nats")
			}
			if sameDatabase(pgURL, keysURL) {
				return errors.New("--keys-postgres names the data database: the key store must be a database of its own")
			}
			if of < 1 || shard < 0 || shard >= of {
				return fmt.Errorf("--shard %d --of %d: want 0 <= shard < of", shard, of)
			}
			mk := os.Getenv("ASSENT_MASTER_KEY_FILE")
			if mk == "" {
				return errors.New("gallery reads the master key from ASSENT_MASTER_KEY_FILE (the API nodes' master key file)")
			}
			if _, err := os.Stat(mk); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("ASSENT_MASTER_KEY_FILE %s does not exist; a gallery worker never makes a master key", mk)
				}
				return err
			}
			ctx := cmd.Context()
			ks, keys, err := openKeyring(ctx, "", keysURL, log)
			if err != nil {
				return err
			}
			defer ks.Close()
			db, err := postgres.Open(ctx, pgURL, postgres.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			nc, err := connectNATS(natsURL, "assent gallery", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			// A registry with no gallery of its own and no audit log: the
			// shard only reads what belongs in its gallery (LoadShard,
			// GalleryEntries); it serves no use case.
			reg := registry.New(db, keys, registry.Options{Logger: log})
			opt := cluster.ShardOptions{Index: shard, Of: of, StreamReplicas: streamReplicas(replicas, nc), Logger: log}
			if snapDir != "" {
				if err := os.MkdirAll(snapDir, 0o700); err != nil {
					return fmt.Errorf("--snapshot: %w", err)
				}
				opt.Snapshot = &cluster.SnapshotOptions{Dir: snapDir, Keys: keys, Every: snapEvery}
			}
			s, err := cluster.NewShard(nc, reg, opt)
			if err != nil {
				return err
			}
			return s.Run(ctx)
		},
	}
	addPostgresFlag(cmd.Flags())
	cmd.Flags().StringVar(&natsURL, "nats", "", "NATS server URL(s), comma-separated (nats://host:4222)")
	cmd.Flags().IntVar(&shard, "shard", 0, "this shard's index I (0 <= I < N)")
	cmd.Flags().IntVar(&of, "of", 1, "the number of shards N")
	cmd.Flags().IntVar(&replicas, "stream-replicas", 0, "copies of the gallery stream when it is created (0: 3, or fewer when the NATS cluster is smaller)")
	cmd.Flags().StringVar(&logFormat, "log", "json", "log format: json or text")
	cmd.Flags().StringVar(&snapDir, "snapshot", "", "keep a sealed gallery snapshot in this directory and start from it (default: none, every start loads from PostgreSQL)")
	cmd.Flags().DurationVar(&snapEvery, "snapshot-every", cluster.DefaultSnapshotEvery, "time between two snapshots (with --snapshot)")
	return cmd
}

// connectNATS connects to NATS, reconnecting for ever (a shard or an API
// node waits for NATS to come back rather than exiting).
func connectNATS(url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("--nats: %w", err)
	}
	return nc, nil
}

// streamReplicas is --stream-replicas, or 3 capped by the NATS servers
// known (one server in development).
func streamReplicas(flag int, nc *nats.Conn) int {
	if flag > 0 {
		return flag
	}
	return min(3, max(1, len(nc.Servers())))
}

// clusterClient connects an API node to the gallery shards (serve --nats):
// it makes sure the stream exists and returns the client; the caller gives
// it the registry as its outbox and runs its relay.
func clusterClient(ctx context.Context, natsURL string, shards, replicas int, log *slog.Logger) (*cluster.Client, *nats.Conn, error) {
	if shards < 1 {
		return nil, nil, errors.New("--nats needs --shards N (N >= 1)")
	}
	nc, err := connectNATS(natsURL, "assent serve", log)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cluster.EnsureStream(sctx, js, streamReplicas(replicas, nc)); err != nil {
		nc.Close()
		return nil, nil, err
	}
	c, err := cluster.NewClient(nc, cluster.ClientOptions{Shards: shards, Logger: log})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return c, nc, nil
}
