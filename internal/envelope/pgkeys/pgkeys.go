// Package pgkeys is an envelope.KeyStore in a PostgreSQL database of its own,
// for deployments where several API nodes and gallery workers need the same
// data keys.
package pgkeys

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/assent-registry/assent/internal/envelope"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an envelope.KeyStore in a PostgreSQL database of its own, for
// deployments where several API nodes and gallery workers need the same data
// keys. It must be a different database (its own URL and credentials) from
// the one holding the data: a backup of the data then carries no key, which
// is what makes erasure by deleting a key (crypto-shredding) hold.
//
// What "forgetting" means here is weaker than in the SQLite key store, which
// overwrites freed bytes: a deleted row stays in its page until VACUUM makes
// the space reusable and a later write overwrites it, and it stays in the
// write-ahead log and in base backups of the key database until they are
// recycled. docs/keys.md says what an operator must do about that.
//
// A Store is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ envelope.KeyStore = (*Store)(nil)

// Options configure Open.
type Options struct {
	// Schema, when set, is the only schema on every connection's
	// search_path, created if missing (tests use a fresh one each). It must
	// be a lower-case identifier.
	Schema string
}

var pgIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

const pgKeyStoreSchema = `
CREATE TABLE IF NOT EXISTS wrapped_keys (
	owner     TEXT COLLATE "C" NOT NULL,
	name      TEXT COLLATE "C" NOT NULL,
	version   BIGINT  NOT NULL,
	master_id TEXT    NOT NULL,
	wrapped   BYTEA   NOT NULL,
	created   BIGINT  NOT NULL,
	PRIMARY KEY (owner, name)
)`

// Open connects to the key database at url and creates its one
// table if needed.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	const op = "pgkeys.Open"
	if opt.Schema != "" && !pgIdent.MatchString(opt.Schema) {
		return nil, fmt.Errorf("%s: %w: schema %q", op, envelope.ErrInvalidArgument, opt.Schema)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", op, envelope.ErrInvalidArgument, err)
	}
	if opt.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opt.Schema
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "assent-keys"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx, opt.Schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context, schema string) error {
	// Several nodes may start at once: one lock serialises the creation.
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('assent.keystore.migrate'))`); err != nil {
			return err
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, pgKeyStoreSchema)
		return err
	})
}

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// Get implements envelope.KeyStore.
func (s *Store) Get(ctx context.Context, ref envelope.Ref) (envelope.WrappedKey, error) {
	const op = "pgkeys.Store.Get"
	wk := envelope.WrappedKey{Ref: ref}
	var version, created int64
	err := s.pool.QueryRow(ctx, "SELECT version, master_id, wrapped, created FROM wrapped_keys WHERE owner = $1 AND name = $2",
		ref.Owner, ref.Name).Scan(&version, &wk.MasterID, &wk.Wrapped, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return envelope.WrappedKey{}, fmt.Errorf("%s: %w", op, envelope.ErrNotFound)
	}
	if err != nil {
		return envelope.WrappedKey{}, fmt.Errorf("%s: %w", op, err)
	}
	wk.Version, wk.Created = uint32(version), time.Unix(created, 0).UTC()
	return wk, nil
}

// Create implements envelope.KeyStore.
func (s *Store) Create(ctx context.Context, wk envelope.WrappedKey) error {
	const op = "pgkeys.Store.Create"
	tag, err := s.pool.Exec(ctx, `INSERT INTO wrapped_keys (owner, name, version, master_id, wrapped, created)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, name) DO NOTHING`,
		wk.Ref.Owner, wk.Ref.Name, int64(wk.Version), wk.MasterID, wk.Wrapped, wk.Created.Unix())
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, envelope.ErrExists)
	}
	return nil
}

// Delete implements envelope.KeyStore.
func (s *Store) Delete(ctx context.Context, ref envelope.Ref) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM wrapped_keys WHERE owner = $1 AND name = $2", ref.Owner, ref.Name); err != nil {
		return fmt.Errorf("pgkeys.Store.Delete: %w", err)
	}
	return nil
}

// DeleteOwner implements envelope.KeyStore.
func (s *Store) DeleteOwner(ctx context.Context, owner string) (int, error) {
	const op = "pgkeys.Store.DeleteOwner"
	if owner == "" {
		return 0, fmt.Errorf("%s: %w: empty owner", op, envelope.ErrInvalidArgument)
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM wrapped_keys WHERE owner = $1", owner)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return int(tag.RowsAffected()), nil
}

// Rewrap implements envelope.KeyStore: one transaction that locks the table against
// writers, keys visited in (owner, name) order a batch at a time.
func (s *Store) Rewrap(ctx context.Context, fn func(envelope.WrappedKey) (envelope.WrappedKey, error)) error {
	const op = "pgkeys.Store.Rewrap"
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE wrapped_keys IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var after envelope.Ref
		first := true
		for {
			batch, err := pgReadBatch(ctx, tx, after, first)
			if err != nil {
				return err
			}
			for _, wk := range batch {
				nk, err := fn(wk)
				if err != nil {
					return err
				}
				if nk.Ref != wk.Ref {
					return fmt.Errorf("%w: fn changed the ref of a key", envelope.ErrInvalidArgument)
				}
				if _, err := tx.Exec(ctx, "UPDATE wrapped_keys SET version = $1, master_id = $2, wrapped = $3, created = $4 WHERE owner = $5 AND name = $6",
					int64(nk.Version), nk.MasterID, nk.Wrapped, nk.Created.Unix(), nk.Ref.Owner, nk.Ref.Name); err != nil {
					return err
				}
			}
			if len(batch) < rewrapBatch {
				return nil
			}
			after, first = batch[len(batch)-1].Ref, false
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// rewrapBatch is how many keys Rewrap reads at a time.
const rewrapBatch = 512

func pgReadBatch(ctx context.Context, tx pgx.Tx, after envelope.Ref, first bool) ([]envelope.WrappedKey, error) {
	q := "SELECT owner, name, version, master_id, wrapped, created FROM wrapped_keys"
	args := []any{}
	if !first {
		q += " WHERE (owner, name) > ($1, $2)"
		args = append(args, after.Owner, after.Name)
	}
	q += fmt.Sprintf(" ORDER BY owner, name LIMIT %d", rewrapBatch) // byte order: the columns are COLLATE "C"
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []envelope.WrappedKey
	for rows.Next() {
		var wk envelope.WrappedKey
		var version, created int64
		if err := rows.Scan(&wk.Ref.Owner, &wk.Ref.Name, &version, &wk.MasterID, &wk.Wrapped, &created); err != nil {
			return nil, err
		}
		wk.Version, wk.Created = uint32(version), time.Unix(created, 0).UTC()
		out = append(out, wk)
	}
	return out, rows.Err()
}

var _ envelope.BatchGetter = (*Store)(nil)

// GetMany implements envelope.BatchGetter: one query per key name among
// refs (a keyring asks for one name at a time: "data/" and a category),
// the owners passed as one array and looked up in the primary key (an
// index scan over the sorted array).
func (s *Store) GetMany(ctx context.Context, refs []envelope.Ref) ([]envelope.WrappedKey, error) {
	const op = "pgkeys.Store.GetMany"
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]envelope.WrappedKey, 0, len(refs))
	for name, owners := range envelope.OwnersByName(refs) {
		rows, err := s.pool.Query(ctx, getManyQuery, name, owners)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for rows.Next() {
			wk := envelope.WrappedKey{Ref: envelope.Ref{Name: name}}
			var version, created int64
			if err := rows.Scan(&wk.Ref.Owner, &version, &wk.MasterID, &wk.Wrapped, &created); err != nil {
				rows.Close()
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			wk.Version, wk.Created = uint32(version), time.Unix(created, 0).UTC()
			out = append(out, wk)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// getManyQuery reads the keys named $1 of the owners $2 (the columns are
// COLLATE "C", as the primary key; the array's texts take it).
const getManyQuery = `SELECT owner, version, master_id, wrapped, created FROM wrapped_keys
	WHERE name = $1 AND owner = ANY($2::text[])`

// Import stores the keys of wks not stored yet (as Create does each, an
// existing key left alone) in one transaction. It serves tools that copy
// a key store (assent bench enrol); a registry creates its keys through
// the keyring.
func (s *Store) Import(ctx context.Context, wks []envelope.WrappedKey) error {
	const op = "pgkeys.Store.Import"
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, wk := range wks {
			b.Queue(`INSERT INTO wrapped_keys (owner, name, version, master_id, wrapped, created)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, name) DO NOTHING`,
				wk.Ref.Owner, wk.Ref.Name, int64(wk.Version), wk.MasterID, wk.Wrapped, wk.Created.Unix())
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
