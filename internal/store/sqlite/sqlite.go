// Package sqlite is the embedded default store: one SQLite file in the data
// directory (modernc.org/sqlite, no cgo), WAL journal, synchronous=FULL so an
// acknowledged write survives a crash, one writer connection and a pool of
// readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"

	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/migrate"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// FileName is the data file inside the data directory.
const FileName = "assent.db"

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configure Open.
type Options struct {
	// Migrate applies pending migrations. Without it, Open refuses a schema
	// older than this binary with store.ErrStaleSchema.
	Migrate bool
	// MapBytes is how much of the database file the readers map (SQLite's
	// mmap_size): 0 for the default, DefaultMapBytes; negative for none.
	// Mapped pages count in the process's resident memory while they stay
	// in the page cache (assent bench enrol --sqlite-map).
	MapBytes int64
}

// DefaultMapBytes is how much of the database file the readers map unless
// Options.MapBytes says otherwise: 2 GiB (SQLite's own ceiling is lower on
// some builds; this is the largest it takes here).
const DefaultMapBytes = 2147418112

// DB is the SQLite store. It is safe for concurrent use.
type DB struct {
	w, r *sql.DB
	path string
	// hot are the frequent inserts, prepared once on the writer: their
	// triggers (the report counts, migration 0011) are compiled with them,
	// which costs more than running them.
	hot map[string]*sql.Stmt
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the store in dir.
func Open(ctx context.Context, dir string, opt Options) (*DB, error) {
	path := filepath.Join(dir, FileName)
	mapBytes := opt.MapBytes
	switch {
	case mapBytes == 0:
		mapBytes = DefaultMapBytes
	case mapBytes < 0:
		mapBytes = 0
	}
	dsn := func(readonly bool) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
			q.Add("_pragma", p)
		}
		if readonly {
			q.Add("_pragma", "query_only(ON)")
			// Readers map the file (up to 2 GiB): a gallery load reads every
			// template page once, and a mapped page costs no read(2) and copy.
			q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mapBytes))
		} else {
			q.Set("_txlock", "immediate")
			// The writer keeps its temporary b-trees in memory, and up to 64
			// MiB of pages: with SQLite's default 2 MiB, a large transaction
			// (a bulk write such as assent bench enrol's 2,000 persons) spills
			// dirty pages to the WAL before its commit, writing them again
			// later (docs/galleries.md, "The population writer").
			q.Add("_pragma", "temp_store(MEMORY)")
			q.Add("_pragma", "cache_size(-65536)")
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	db := &DB{w: w, path: path}
	if err := db.migrate(ctx, opt.Migrate); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.prepareHot(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	return db, nil
}

// Path is the data file's path.
func (db *DB) Path() string { return db.path }

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

func migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFS, "migrations") }

// LatestSchema is the highest migration this binary knows.
func LatestSchema() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

func (db *DB) migrate(ctx context.Context, apply bool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	cur, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur > len(ms) {
		return fmt.Errorf("sqlite: schema %d, binary knows %d: %w", cur, len(ms), store.ErrSchemaTooNew)
	}
	if cur < len(ms) && !apply {
		return fmt.Errorf("sqlite: schema %d, binary needs %d: %w", cur, len(ms), store.ErrStaleSchema)
	}
	for _, m := range ms[cur:] {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// SchemaVersion reports the highest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := db.w.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Update runs fn in a write transaction on the single writer connection.
func (db *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, db.w, false, fn)
}

// View runs fn in a read-only transaction on the reader pool.
func (db *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	return db.run(ctx, db.r, true, fn)
}

func (db *DB) run(ctx context.Context, pool *sql.DB, readonly bool, fn func(store.Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readonly})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	t := &tx{tx: sqlTx}
	if !readonly {
		t.hot = db.hot
	}
	if err := fn(t); err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// tx implements store.Tx over one *sql.Tx.
type tx struct {
	tx  *sql.Tx
	hot map[string]*sql.Stmt // the writer's prepared statements (nil when reading)
}

// Frequent inserts, prepared once (DB.hot).
const (
	insertPerson    = `INSERT INTO persons(` + personCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	insertConsent   = `INSERT INTO consents(person_id, category, purpose, decision, method, notice_version, language, operator_id, site, guardian_id, at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`
	insertExam      = `INSERT INTO exams(id, person_id, site, operator_id, findings_sealed, blood_type_sealed, at) VALUES (?,?,?,?,?,?,?)`
	insertBiometric = `INSERT INTO biometrics(` + biometricCols + `, dedup_seq) VALUES (?,?,?,?,?,?,?,?,?,?)`
	putPersonStats  = `INSERT INTO person_stats(person_id, area_code, birth_year, birth_estimated, sex, site, operator_id, registered_at, reproject)
		VALUES (?,?,?,?,?,?,?,?,0) ON CONFLICT(person_id) DO UPDATE SET area_code = excluded.area_code, birth_year = excluded.birth_year,
		birth_estimated = excluded.birth_estimated, sex = excluded.sex, site = excluded.site, operator_id = excluded.operator_id, registered_at = excluded.registered_at,
		reproject = 0`
	insertExclusionEvent = `INSERT INTO exclusion_events(site, category, kind, at) VALUES (?,?,?,?)`
)

// prepareHot prepares the frequent inserts on the writer's one connection.
func (db *DB) prepareHot(ctx context.Context) error {
	db.hot = map[string]*sql.Stmt{}
	for _, q := range []string{insertPerson, insertConsent, insertExam, insertBiometric, putPersonStats, insertExclusionEvent} {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		db.hot[q] = st
	}
	return nil
}

// exec runs q, through the writer's prepared statement when there is one.
func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st, ok := t.hot[q]; ok {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}
