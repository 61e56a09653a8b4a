// Package postgres is the store for more than one machine's load: PostgreSQL
// through pgx, with SQL kept portable to Postgres-wire distributed databases
// (CockroachDB, YugabyteDB): no SERIAL, BYTEA blobs and BIGINT
// Unix-millisecond times as in the SQLite store; the one advisory lock (a
// retried update's write lock, below) can be turned off with
// Options.NoWriteLock.
//
// Update runs fn in a SERIALIZABLE transaction and runs it again, a bounded
// number of times, when the database reports a serialization failure or a
// deadlock (SQLSTATE 40001, 40P01), so fn may run more than once: it must not
// keep effects outside the transaction from an earlier attempt (reset what
// it collects at its start). View runs fn in a REPEATABLE READ READ ONLY
// transaction (one consistent snapshot; PostgreSQL never aborts it, the same
// retry applies where a distributed database may).
//
// The audit log's idx is assigned as MAX(idx)+1 inside the writing
// transaction, with a primary key on idx; serializability makes two writers
// that read the same MAX collide (one retries), and a row visible only after
// every smaller idx is. Several API nodes over one database append to the
// same log this way: the database, not a node, orders the entries. A
// retried Update takes the write lock (Options.NoWriteLock) so that writers
// meeting at the log's tail stop aborting each other. docs/postgres.md
// explains the choice; docs/audit.md measures it with two nodes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/migrate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DefaultMaxRetries is Options.MaxRetries when it is zero.
const DefaultMaxRetries = 30

// Options configure Open. The zero value is valid.
type Options struct {
	// Migrate applies pending migrations (creating Schema first when it is
	// set). Without it, Open refuses a schema older than this binary with
	// store.ErrStaleSchema.
	Migrate bool
	// Schema, when set, is the only schema on every connection's
	// search_path: the store's tables live there. It must be a lower-case
	// identifier ([a-z_][a-z0-9_]*). Empty keeps the server's search_path.
	Schema string
	// MaxConns bounds open connections; 0 means max(4, GOMAXPROCS).
	MaxConns int
	// MaxRetries bounds how often one Update or View is run again after a
	// serialization failure; 0 means DefaultMaxRetries, negative never.
	MaxRetries int
	// AllowUnsafeDurability lets Open accept a server (or URL) with
	// fsync or synchronous_commit off, where a commit Update reported can
	// be lost in a crash. For throwaway test databases only.
	AllowUnsafeDurability bool
	// NoWriteLock turns off the write lock of retried updates: by default
	// an Update that PostgreSQL aborted for a conflict runs again holding
	// one PostgreSQL advisory lock, taken on its connection before BEGIN
	// and released after COMMIT, so retried writers run one at a time,
	// across every node over the database, each on a snapshot that sees
	// the one before. Without it, writers meeting at the audit log's tail
	// can abort each other until MaxRetries runs out (measured with two
	// API nodes, docs/audit.md). Set it for Postgres-wire databases
	// without advisory locks (CockroachDB, YugabyteDB); it turns off the
	// deduplication turns across nodes as well (LockDedup).
	NoWriteLock bool
}

// isIdentifier reports whether s is a lower-case SQL identifier that needs
// no quoting: [a-z_][a-z0-9_]*, at most 63 bytes.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (o Options) validate() error {
	if o.Schema != "" && !isIdentifier(o.Schema) {
		return fmt.Errorf("postgres: open: schema %q is not a lower-case identifier", o.Schema)
	}
	if o.MaxConns < 0 {
		return fmt.Errorf("postgres: open: MaxConns %d is negative", o.MaxConns)
	}
	return nil
}

// DB is the PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool       *connPool
	locks      *connPool // the deduplication turns' sessions (LockDedup)
	maxRetries int
	writeLock  bool // !Options.NoWriteLock
}

var _ store.Store = (*DB)(nil)

// Open connects to the database named by url (a libpq URL or key=value
// string, e.g. postgres://user@host:5432/db?sslmode=verify-full), checks the
// schema version and, with opt.Migrate, applies pending migrations. The
// returned DB must be closed.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: open: the connection URL does not parse")
	}
	if opt.Schema != "" {
		cfg.RuntimeParams["search_path"] = opt.Schema
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "assent"
	}
	conns := opt.MaxConns
	if conns == 0 {
		conns = max(4, runtime.GOMAXPROCS(0))
	}
	retries := opt.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	pool, err := newConnPool(cfg, conns)
	if err != nil {
		return nil, err
	}
	locks, err := newConnPool(cfg.Copy(), dedupLockConns)
	if err != nil {
		pool.close()
		return nil, err
	}
	db := &DB{pool: pool, locks: locks, maxRetries: retries, writeLock: !opt.NoWriteLock}
	if !opt.AllowUnsafeDurability {
		if err := db.checkDurability(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.migrate(ctx, opt); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkDurability refuses settings under which a reported commit may be
// lost: fsync off, or synchronous_commit off (on the server or in the URL).
// A setting the database does not have (a distributed database) is not an
// error.
func (db *DB) checkDurability(ctx context.Context) error {
	return db.withConn(ctx, func(c *pgx.Conn) error {
		for _, name := range []string{"fsync", "synchronous_commit"} {
			var v *string
			if err := c.QueryRow(ctx, `SELECT current_setting($1, true)`, name).Scan(&v); err != nil {
				return fmt.Errorf("postgres: open: read %s: %w", name, err)
			}
			if v != nil && *v == "off" {
				return fmt.Errorf("postgres: open: %s is off, so a commit could be lost in a crash; turn it on (or set AllowUnsafeDurability for a throwaway database)", name)
			}
		}
		return nil
	})
}

// Close closes the connections. Transactions running keep theirs until they
// end; later calls fail.
func (db *DB) Close() error {
	db.pool.close()
	db.locks.close()
	return nil
}

// --- migrations ---

func migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFS, "migrations") }

// LatestSchema is the highest migration this binary knows.
func LatestSchema() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// migrate checks the version and applies what is missing. Each migration
// runs in its own SERIALIZABLE transaction that first re-reads the version,
// so servers starting together apply each migration once: the loser of a
// race fails to commit (or collides on the version's key or a table name)
// and, on its retry, finds the migration applied.
func (db *DB) migrate(ctx context.Context, opt Options) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if opt.Migrate {
		if err := db.bootstrap(ctx, opt.Schema); err != nil {
			return err
		}
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur > len(ms) {
		return fmt.Errorf("postgres: schema %d, binary knows %d: %w", cur, len(ms), store.ErrSchemaTooNew)
	}
	if cur < len(ms) && !opt.Migrate {
		return fmt.Errorf("postgres: schema %d, binary needs %d: %w", cur, len(ms), store.ErrStaleSchema)
	}
	for _, m := range ms[cur:] {
		if err := db.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// bootstrap creates the schema (when named) and the migrations table if
// they are missing. IF NOT EXISTS still fails when another server creates
// the same object at the same moment; then it tries again.
func (db *DB) bootstrap(ctx context.Context, schema string) error {
	for attempt := 0; ; attempt++ {
		err := db.withConn(ctx, func(c *pgx.Conn) error {
			if schema != "" {
				if _, err := c.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
					return err
				}
			}
			_, err := c.Exec(ctx, createMigrationsTable)
			return err
		})
		if err == nil {
			return nil
		}
		if attempt >= 5 || !isCode(err, codeUniqueViolation, codeDuplicateTable, codeDuplicateSchema, codeDuplicateObject, codeDuplicateColumn) {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		if err := sleep(ctx, attempt+3); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
}

func (db *DB) applyMigration(ctx context.Context, m migrate.Migration) error {
	for attempt := 0; ; attempt++ {
		err := db.withConn(ctx, func(c *pgx.Conn) error {
			return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(t pgx.Tx) error {
				var cur int
				if err := t.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
					return err
				}
				if cur >= m.Version {
					return nil // applied by a concurrent Open
				}
				if _, err := t.Exec(ctx, m.SQL); err != nil {
					return err
				}
				_, err := t.Exec(ctx, `INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)`,
					m.Version, m.Name, time.Now().UnixMilli())
				return err
			})
		})
		if err == nil {
			return nil
		}
		if attempt >= 5 || !isCode(err, codeSerialization, codeDeadlock, codeUniqueViolation, codeDuplicateTable, codeDuplicateObject, codeDuplicateColumn) {
			return fmt.Errorf("postgres: migrate %s: %w", m.Name, err)
		}
		if err := sleep(ctx, attempt); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", m.Name, err)
		}
	}
}

// SchemaVersion reports the highest applied migration (0 on an empty
// database).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	})
	if isCode(err, codeUndefinedTable) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

func (db *DB) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer db.pool.release(c)
	return fn(c.Conn())
}

// --- transactions ---

// Update runs fn in a SERIALIZABLE read-write transaction and commits it;
// the commit is flushed to the WAL before Update returns (Open refuses fsync
// or synchronous_commit off unless AllowUnsafeDurability). On a serialization
// failure or deadlock the whole transaction, fn included, runs again after
// a short random backoff, at most Options.MaxRetries more times.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite}, fn)
}

// View runs fn in a REPEATABLE READ READ ONLY transaction: one snapshot.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(store.Tx) error) error {
	for attempt := 0; ; attempt++ {
		retry, err := db.attempt(ctx, opts, db.writeLock && opts.AccessMode == pgx.ReadWrite && attempt > 0, fn)
		if !retry {
			return err
		}
		if attempt >= db.maxRetries {
			return fmt.Errorf("postgres: gave up after %d attempts: %w", attempt+1, err)
		}
		if serr := sleep(ctx, attempt); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// attempt runs fn once and says whether a retry may succeed: only when the
// server itself aborted the transaction for a conflict, never when the
// outcome of a commit is unknown (a lost connection).
func (db *DB) attempt(ctx context.Context, opts pgx.TxOptions, lock bool, fn func(store.Tx) error) (retry bool, err error) {
	c, ptx, err := db.begin(ctx, opts, lock)
	if err != nil {
		return false, err
	}
	defer func() {
		if lock {
			db.unlockWrites(ctx, c)
		}
		db.pool.release(c)
	}()
	t := &tx{tx: ptx}
	if err := fn(t); err != nil {
		// A rollback that fails leaves the connection inside a
		// transaction; release then drops it.
		if rbErr := ptx.Rollback(ctx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
		}
		return t.retry || retryable(err), err
	}
	if err := ptx.Commit(ctx); err != nil {
		// ErrTxCommitRollback: fn swallowed a failed statement; retry if
		// that failure was a conflict.
		return retryable(err) || (t.retry && errors.Is(err, pgx.ErrTxCommitRollback)), fmt.Errorf("postgres: commit: %w", err)
	}
	return false, nil
}

// begin starts a transaction on a pooled connection. An idle connection
// the server has dropped (a restart, a fail-over, an idle timeout) fails at
// BEGIN, before anything of fn ran; begin then drops it and tries another,
// up to one more than the pool holds, so the caller does not see it.
func (db *DB) begin(ctx context.Context, opts pgx.TxOptions, lock bool) (*pgxpool.Conn, pgx.Tx, error) {
	for i := 0; ; i++ {
		c, err := db.pool.acquire(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: connect: %w", err)
		}
		if lock {
			if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, writeLockKey); err != nil {
				dead := c.Conn().IsClosed()
				db.pool.release(c)
				if !dead || i >= db.pool.size || ctx.Err() != nil {
					return nil, nil, fmt.Errorf("postgres: write lock: %w", err)
				}
				continue
			}
		}
		ptx, err := c.BeginTx(ctx, opts)
		if err == nil {
			return c, ptx, nil
		}
		if lock {
			db.unlockWrites(ctx, c)
		}
		dead := c.Conn().IsClosed()
		db.pool.release(c)
		if !dead || i >= db.pool.size || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("postgres: begin: %w", err)
		}
	}
}

// writeLockKey is the advisory lock key of retried updates (Options.NoWriteLock),
// "assent" in ASCII.
const writeLockKey int64 = 0x617373656e74

// unlockWrites releases the write lock of c (deferred after its commit or
// rollback, so it runs before the connection goes back to the pool). If
// that fails the connection is closed, which releases it too.
func (db *DB) unlockWrites(ctx context.Context, c *pgxpool.Conn) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.Exec(uctx, `SELECT pg_advisory_unlock($1)`, writeLockKey); err != nil {
		_ = c.Conn().Close(uctx)
	}
}

// sleep waits a random time that grows with attempt (1 ms .. 128 ms cap).
func sleep(ctx context.Context, attempt int) error {
	d := time.Millisecond << min(attempt, 7)
	d = d/2 + rand.N(d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SQLSTATE codes the store acts on.
const (
	codeSerialization   = "40001"
	codeDeadlock        = "40P01"
	codeUniqueViolation = "23505"
	codeUndefinedTable  = "42P01"
	codeDuplicateTable  = "42P07"
	codeDuplicateSchema = "42P06"
	// codeDuplicateObject: a table's row type collides in pg_type when two
	// sessions create the same table at once ("type ... already exists").
	codeDuplicateObject = "42710"
	// codeDuplicateColumn: two sessions add the same column at once.
	codeDuplicateColumn = "42701"
)

func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && slices.Contains(codes, pe.Code)
}

func retryable(err error) bool { return isCode(err, codeSerialization, codeDeadlock) }
