package envelope

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLiteStore is the default KeyStore: a SQLite file of its own (DIR/keys.db
// by convention), separate from the data database and never part of a data
// backup.
//
// The file is opened with secure_delete=ON, so SQLite overwrites deleted
// cells and freed pages with zeros, and with the rollback journal in DELETE
// mode rather than WAL: a WAL file keeps every page image written since the
// last checkpoint (including a key that has since been deleted) as a readable
// file next to the database, while a rollback journal holds the pre-images of
// one transaction only and is unlinked when it commits. After a Delete or
// DeleteOwner has returned, no file of the store holds the wrapped key.
// (Blocks freed by the file system are another matter; see docs/keys.md.)
//
// One connection is used for everything: key operations are rare (the
// keyring caches unwrapped keys) and one writer avoids SQLITE_BUSY.
// SQLiteStore is safe for concurrent use.
type SQLiteStore struct {
	db *sql.DB
}

var _ KeyStore = (*SQLiteStore)(nil)

const keyStoreSchemaVersion = 1

const keyStoreSchema = `
CREATE TABLE IF NOT EXISTS wrapped_keys (
	owner     TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	version   INTEGER NOT NULL,
	master_id TEXT    NOT NULL,
	wrapped   BLOB    NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (owner, name)
) WITHOUT ROWID`

// OpenSQLiteStore opens (creating it with mode 0600 if needed) the key store
// file at path. It refuses a file whose schema is newer than this code.
func OpenSQLiteStore(ctx context.Context, path string) (*SQLiteStore, error) {
	const op = "envelope.OpenSQLiteStore"
	if strings.ContainsAny(path, "?#") || path == "" || path == ":memory:" {
		return nil, fmt.Errorf("%s: %w: key store path %q (a file path without ? or #)", op, ErrInvalidArgument, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	q := url.Values{}
	// mmap_size: reads map the file (a gallery load reads a key a person
	// and modality, GetMany) instead of a read(2) and a copy per page;
	// writes still go through the journal, and the file holds only wrapped
	// keys. 2 GiB less 64 KiB, SQLite's own ceiling (SQLITE_MAX_MMAP_SIZE):
	// a million people's keys.db is larger than the 256 MiB mapped before,
	// and every page past it was read with a system call.
	for _, p := range []string{"busy_timeout(10000)", "secure_delete(ON)", "journal_mode(DELETE)", "synchronous(FULL)", "mmap_size(2147418112)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &SQLiteStore{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s, nil
}

func (s *SQLiteStore) migrate(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "delete" {
		return fmt.Errorf("journal_mode is %q, want delete", mode)
	}
	var sd int
	if err := s.db.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&sd); err != nil {
		return err
	}
	if sd != 1 {
		return fmt.Errorf("secure_delete is %d, want 1", sd)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v > keyStoreSchemaVersion:
		return fmt.Errorf("key store schema version %d is newer than this program (%d)", v, keyStoreSchemaVersion)
	case v == keyStoreSchemaVersion:
		return nil
	}
	if _, err := tx.ExecContext(ctx, keyStoreSchema); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", keyStoreSchemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

// Get implements KeyStore.
func (s *SQLiteStore) Get(ctx context.Context, ref Ref) (WrappedKey, error) {
	const op = "envelope.SQLiteStore.Get"
	wk := WrappedKey{Ref: ref}
	var created int64
	err := s.db.QueryRowContext(ctx,
		"SELECT version, master_id, wrapped, created FROM wrapped_keys WHERE owner = ? AND name = ?",
		ref.Owner, ref.Name).Scan(&wk.Version, &wk.MasterID, &wk.Wrapped, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return WrappedKey{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err != nil {
		return WrappedKey{}, fmt.Errorf("%s: %w", op, err)
	}
	wk.Created = time.Unix(created, 0).UTC()
	return wk, nil
}

// Create implements KeyStore.
func (s *SQLiteStore) Create(ctx context.Context, wk WrappedKey) error {
	const op = "envelope.SQLiteStore.Create"
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO wrapped_keys (owner, name, version, master_id, wrapped, created)
		 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO NOTHING`,
		wk.Ref.Owner, wk.Ref.Name, wk.Version, wk.MasterID, wk.Wrapped, wk.Created.Unix())
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrExists)
	}
	return nil
}

// Delete implements KeyStore.
func (s *SQLiteStore) Delete(ctx context.Context, ref Ref) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM wrapped_keys WHERE owner = ? AND name = ?", ref.Owner, ref.Name); err != nil {
		return fmt.Errorf("envelope.SQLiteStore.Delete: %w", err)
	}
	return nil
}

// DeleteOwner implements KeyStore.
func (s *SQLiteStore) DeleteOwner(ctx context.Context, owner string) (int, error) {
	const op = "envelope.SQLiteStore.DeleteOwner"
	if owner == "" {
		return 0, fmt.Errorf("%s: %w: empty owner", op, ErrInvalidArgument)
	}
	res, err := s.db.ExecContext(ctx, "DELETE FROM wrapped_keys WHERE owner = ?", owner)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return int(n), nil
}

// rewrapBatch is how many rows Rewrap reads at a time, so that rotating a
// store of millions of keys does not hold them all in memory.
const rewrapBatch = 512

// Rewrap implements KeyStore: one IMMEDIATE transaction, keys visited in
// (owner, name) order a batch at a time.
func (s *SQLiteStore) Rewrap(ctx context.Context, fn func(WrappedKey) (WrappedKey, error)) error {
	const op = "envelope.SQLiteStore.Rewrap"
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer tx.Rollback()
	var after Ref
	first := true
	for {
		batch, err := s.readBatch(ctx, tx, after, first)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for _, wk := range batch {
			nk, err := fn(wk)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			if nk.Ref != wk.Ref {
				return fmt.Errorf("%s: %w: fn changed the ref of a key", op, ErrInvalidArgument)
			}
			if _, err := tx.ExecContext(ctx,
				"UPDATE wrapped_keys SET version = ?, master_id = ?, wrapped = ?, created = ? WHERE owner = ? AND name = ?",
				nk.Version, nk.MasterID, nk.Wrapped, nk.Created.Unix(), nk.Ref.Owner, nk.Ref.Name); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		if len(batch) < rewrapBatch {
			break
		}
		after, first = batch[len(batch)-1].Ref, false
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *SQLiteStore) readBatch(ctx context.Context, tx *sql.Tx, after Ref, first bool) ([]WrappedKey, error) {
	q := "SELECT owner, name, version, master_id, wrapped, created FROM wrapped_keys"
	args := []any{}
	if !first {
		q += " WHERE (owner, name) > (?, ?)"
		args = append(args, after.Owner, after.Name)
	}
	q += " ORDER BY owner, name LIMIT ?"
	args = append(args, rewrapBatch)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []WrappedKey
	for rows.Next() {
		var wk WrappedKey
		var created int64
		if err := rows.Scan(&wk.Ref.Owner, &wk.Ref.Name, &wk.Version, &wk.MasterID, &wk.Wrapped, &created); err != nil {
			return nil, err
		}
		wk.Created = time.Unix(created, 0).UTC()
		out = append(out, wk)
	}
	return out, rows.Err()
}

// GetMany implements BatchGetter: one query per key name among refs (a
// keyring asks for one name at a time: "data/" and a category), the
// owners (each once) passed as one JSON array of strings and each
// (owner, name) looked up in the primary key. The rows are read from the driver's
// connection directly (driver.Rows), not through database/sql's Scan:
// at a million keys a gallery load reads, Scan's conversions and copies
// cost more than the lookups (docs/galleries.md, "Ninth round").
func (s *SQLiteStore) GetMany(ctx context.Context, refs []Ref) ([]WrappedKey, error) {
	const op = "envelope.SQLiteStore.GetMany"
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]WrappedKey, 0, len(refs))
	for name, owners := range OwnersByName(refs) {
		arg, err := json.Marshal(distinct(owners))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if out, err = s.getNamed(ctx, out, name, string(arg)); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// distinct removes the repeated strings of ss, in place.
func distinct(ss []string) []string {
	seen := make(map[string]struct{}, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// getNamedQuery reads the keys named ?1 of the owners in the JSON array
// ?2 (no owner twice): a primary-key lookup per element, in the array's
// order (CROSS JOIN: the array is the outer loop; an IN (SELECT ...)
// would first copy it into a temporary b-tree).
const getNamedQuery = `SELECT k.owner, k.version, k.master_id, k.wrapped, k.created
	FROM json_each(?2) AS j CROSS JOIN wrapped_keys AS k
	WHERE k.owner = j.value AND k.name = ?1`

// getNamed appends to out the keys named name of the owners in the JSON
// array owners.
func (s *SQLiteStore) getNamed(ctx context.Context, out []WrappedKey, name, owners string) ([]WrappedKey, error) {
	err := s.rawRows(ctx, getNamedQuery, []driver.NamedValue{{Ordinal: 1, Value: name}, {Ordinal: 2, Value: owners}}, 5,
		func(row []driver.Value) error {
			wk := WrappedKey{Ref: Ref{Name: name}}
			var version, created int64
			var okOwner, okVersion, okMaster, okWrapped, okCreated bool
			wk.Ref.Owner, okOwner = row[0].(string)
			version, okVersion = row[1].(int64)
			wk.MasterID, okMaster = row[2].(string)
			wk.Wrapped, okWrapped = row[3].([]byte) // the driver's own copy
			created, okCreated = row[4].(int64)
			if !okOwner || !okVersion || !okMaster || !okWrapped || !okCreated || version < 0 || version > math.MaxUint32 {
				return fmt.Errorf("a key of %q has a column of the wrong type or range", name)
			}
			wk.Version, wk.Created = uint32(version), time.Unix(created, 0).UTC()
			out = append(out, wk)
			return nil
		})
	return out, err
}

// rawRows runs query on one connection of the store and calls fn with
// each row of width columns, read straight from the driver (no
// database/sql scanning: a load reads millions of keys). fn must not keep
// the row's values beyond the call, except those the driver copies
// ([]byte values are the driver's own copy). An error of fn stops the
// read and is returned.
func (s *SQLiteStore) rawRows(ctx context.Context, query string, args []driver.NamedValue, width int, fn func(row []driver.Value) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the sqlite driver's connection (%T) does not run queries", dc)
		}
		rows, err := qc.QueryContext(ctx, query, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, width)
		for {
			err := rows.Next(row)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := fn(row); err != nil {
				return err
			}
		}
	})
}

// Import stores the keys of wks not stored yet (as Create does each, an
// existing key left alone) in one transaction. It serves tools that copy
// a key store (assent bench enrol fills keys.db from the keys it made in
// memory); a registry creates its keys through the keyring.
func (s *SQLiteStore) Import(ctx context.Context, wks []WrappedKey) error {
	const op = "envelope.SQLiteStore.Import"
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO wrapped_keys (owner, name, version, master_id, wrapped, created)
		 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (owner, name) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer st.Close()
	for _, wk := range wks {
		if _, err := st.ExecContext(ctx, wk.Ref.Owner, wk.Ref.Name, wk.Version, wk.MasterID, wk.Wrapped, wk.Created.Unix()); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

var _ KeyScanner = (*SQLiteStore)(nil)

// CountKeys implements KeyScanner (SQLite counts a table's b-tree cells
// without reading the rows).
func (s *SQLiteStore) CountKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM wrapped_keys").Scan(&n); err != nil {
		return 0, fmt.Errorf("envelope.SQLiteStore.CountKeys: %w", err)
	}
	return n, nil
}

// ScanNamed implements KeyScanner: one pass over the table in its
// primary key's order (the file's order of a key store written in that
// order, as Import writes one), on the store's connection (other calls
// wait for it), names at most 8.
func (s *SQLiteStore) ScanNamed(ctx context.Context, names []string, masterID string, fn func(owner string, name int, version uint32, master bool, wrapped []byte) error) error {
	const op = "envelope.SQLiteStore.ScanNamed"
	if len(names) == 0 || len(names) > 8 {
		return fmt.Errorf("%s: %w: %d names", op, ErrInvalidArgument, len(names))
	}
	// Three columns (each column a Go value costs the driver two mutex
	// round trips): the owner, the wrapped bytes and one integer packing
	// the version (bits 4 up), whether masterID wrapped it (bit 3) and
	// the name's index (bits 0-2).
	var q strings.Builder
	q.WriteString("SELECT owner, (version << 4) | ((master_id = ?1) << 3) | (CASE name")
	args := []driver.NamedValue{{Ordinal: 1, Value: masterID}}
	for i, n := range names {
		fmt.Fprintf(&q, " WHEN ?%d THEN %d", i+2, i)
		args = append(args, driver.NamedValue{Ordinal: i + 2, Value: n})
	}
	q.WriteString(" END) AS p, wrapped FROM wrapped_keys WHERE p IS NOT NULL")
	err := s.rawRows(ctx, q.String(), args, 3, func(row []driver.Value) error {
		owner, ok1 := row[0].(string)
		p, ok2 := row[1].(int64)
		wrapped, ok3 := row[2].([]byte)
		n, version := int(p&7), p>>4
		if !ok1 || !ok2 || !ok3 || n >= len(names) || version < 0 || version > math.MaxUint32 {
			return fmt.Errorf("a key has a column of the wrong type or range")
		}
		return fn(owner, n, uint32(version), p&8 != 0, wrapped)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
