package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/envelope/pgkeys"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/postgres"
	"github.com/assent-registry/assent/internal/store/sqlite"
	"github.com/jackc/pgx/v5"
)

// Files in the data directory.
const (
	masterKeyFile = "master.key"
	keyStoreFile  = "keys.db"
)

// app is everything a command needs from a data directory, built once.
type app struct {
	dir   string
	db    store.Store
	ks    keyStore
	keys  *envelope.Keyring
	reg   *registry.Registry
	audit *audit.Log
	log   *slog.Logger
	locks []*dirlock.Lock // released by Close
}

// masterKeyPath is ASSENT_MASTER_KEY_FILE, or master.key in dir.
func masterKeyPath(dir string) string {
	if p := os.Getenv("ASSENT_MASTER_KEY_FILE"); p != "" {
		return p
	}
	return filepath.Join(dir, masterKeyFile)
}

// openApp opens (creating on first use) the data directory dir without a
// lock: for tests that build a registry in a temporary directory. Commands
// use openDir, which says whether they may create DIR and how they lock it.
func openApp(ctx context.Context, dir string, migrate bool, log *slog.Logger, pgURL ...string) (*app, error) {
	o := openOptions{Migrate: migrate, Create: true}
	if len(pgURL) > 0 {
		o.Postgres = pgURL[0]
	}
	return openDir(ctx, dir, log, o)
}

// openOptions says how a command opens its data directory.
type openOptions struct {
	Migrate bool
	// Create lets the command make a new registry (only serve and demo).
	Create bool
	// Lock is taken on DIR (and on the PostgreSQL database with Postgres)
	// before anything is read; 0 takes none. See package dirlock.
	Lock dirlock.Mode
	// Command names the command in a refusal ("assent import").
	Command string
	// Why an exclusive command cannot run beside a server, for its refusal.
	Why string
	// Postgres, when not empty, puts the data in PostgreSQL instead of the
	// SQLite file; the key store and master key stay in DIR, apart from it.
	Postgres string
	// KeysPostgres, when not empty, puts the wrapped data keys in a
	// PostgreSQL database of their own (envelope/pgkeys) instead of DIR's
	// keys.db, for several API nodes and gallery workers. It must not be
	// the data database; the master key stays in DIR (or
	// ASSENT_MASTER_KEY_FILE).
	KeysPostgres string
	// Observer is given to the registry (serve's operational metrics).
	Observer registry.Observer
	// CareRetention is --care-retention (registry.Options.CareRetention).
	CareRetention time.Duration
	// Galleries, when not nil, are the registry's 1:N galleries (serve
	// --nats: the gallery shards); nil keeps them in this process.
	Galleries registry.Galleries
}

// openDir opens the data directory dir: the SQLite data file (or the
// PostgreSQL database), the key store and the master key, under the lock
// o.Lock. A directory that holds no key store is refused unless o.Create.
// A master key file readable or writable by group or others is refused.
func openDir(ctx context.Context, dir string, log *slog.Logger, o openOptions) (_ *app, err error) {
	// With the data and the keys both in PostgreSQL and the master key in
	// ASSENT_MASTER_KEY_FILE, DIR holds nothing: an API node of several
	// machines may run without one (serve --postgres --keys-postgres).
	noDir := dir == "" && o.Postgres != "" && o.KeysPostgres != "" && os.Getenv("ASSENT_MASTER_KEY_FILE") != ""
	if dir == "" && !noDir {
		return nil, errors.New("--data is required (or --postgres, --keys-postgres and ASSENT_MASTER_KEY_FILE)")
	}
	if noDir {
		// nothing to create or check in DIR
	} else if o.Create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	} else if err := isRegistry(dir, o.KeysPostgres != ""); err != nil {
		return nil, err
	}
	var locks []*dirlock.Lock
	defer func() {
		if err != nil {
			for _, l := range locks {
				l.Close()
			}
		}
	}()
	if o.Lock != 0 {
		if !noDir {
			l, err := dirlock.Dir(dir, o.Lock)
			if err != nil {
				return nil, lockRefusal(err, dir, o)
			}
			locks = append(locks, l)
		}
		if o.Postgres != "" {
			l, err := dirlock.Postgres(ctx, o.Postgres, o.Lock)
			if err != nil {
				return nil, lockRefusal(err, "the PostgreSQL database", o)
			}
			locks = append(locks, l)
		}
	}
	if o.KeysPostgres != "" && o.Postgres != "" && sameDatabase(o.KeysPostgres, o.Postgres) {
		return nil, errors.New("--keys-postgres names the data database: the key store must be a database of its own (its own URL and credentials), or a backup of the data would carry the keys that erasure deletes")
	}
	ks, keys, err := openKeyring(ctx, dir, o.KeysPostgres, log)
	if err != nil {
		return nil, err
	}
	var db store.Store
	if o.Postgres != "" {
		db, err = postgres.Open(ctx, o.Postgres, postgres.Options{Migrate: o.Migrate})
	} else {
		db, err = sqlite.Open(ctx, dir, sqlite.Options{Migrate: o.Migrate})
	}
	if err != nil {
		ks.Close()
		return nil, err
	}
	alog, err := registry.NewAuditLog(ctx, db, keys, nil, log)
	if err != nil {
		db.Close()
		ks.Close()
		return nil, err
	}
	reg := registry.New(db, keys, registry.Options{Logger: log, Audit: alog, Observer: o.Observer, CareRetention: o.CareRetention, Galleries: o.Galleries})
	return &app{dir: dir, db: db, ks: ks, keys: keys, reg: reg, audit: alog, log: log, locks: locks}, nil
}

func (a *app) Close() error {
	err := errors.Join(a.db.Close(), a.ks.Close())
	for _, l := range a.locks {
		err = errors.Join(err, l.Close())
	}
	return err
}

// openKeyring opens DIR's key store and master key (finishing a master key
// rotation a crash interrupted). A master key file that group or others can
// read is refused.
func openKeyring(ctx context.Context, dir, keysURL string, log *slog.Logger) (keyStore, *envelope.Keyring, error) {
	var ks keyStore
	var err error
	if keysURL != "" {
		ks, err = pgkeys.Open(ctx, keysURL, pgkeys.Options{})
	} else {
		ks, err = envelope.OpenSQLiteStore(ctx, filepath.Join(dir, keyStoreFile))
	}
	if err != nil {
		return nil, nil, err
	}
	// Complete a master-key rotation a crash interrupted, before the key is read.
	if done, err := envelope.FinishRotation(ctx, ks, masterKeyPath(dir)); err != nil {
		ks.Close()
		return nil, nil, err
	} else if done {
		log.Warn("completed an interrupted master key rotation")
	}
	master, err := envelope.LoadOrCreateMasterKey(masterKeyPath(dir))
	if err != nil {
		ks.Close()
		if errors.Is(err, envelope.ErrKeyFilePermissions) {
			return nil, nil, fmt.Errorf("%w; refusing to use it: run chmod 600 %s (and keep it readable only by the service user)", err, masterKeyPath(dir))
		}
		return nil, nil, err
	}
	// With the keys in PostgreSQL several nodes share them, and a node's
	// cache would keep a key another node shredded: no cache there.
	opts := envelope.Options{}
	if keysURL != "" {
		opts.CacheSize = -1
	}
	keys, err := envelope.NewKeyring(ctx, ks, master, opts)
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	return ks, keys, nil
}

// isRegistry refuses a directory that is not an Assent data directory (no
// key store in it): a mistyped --data must not start a new registry with a
// new master key.
func isRegistry(dir string, keysElsewhere bool) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("data directory %s does not exist; only `assent serve` creates one (check the --data path)", dir)
		}
		return fmt.Errorf("data dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	marker := keyStoreFile
	if keysElsewhere { // the keys live in PostgreSQL; the master key marks DIR
		marker = masterKeyFile
		if os.Getenv("ASSENT_MASTER_KEY_FILE") != "" {
			return nil
		}
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is not an Assent data directory (no %s in it); only `assent serve` creates one (check the --data path)", dir, marker)
		}
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}

// lockRefusal turns a lock that is held elsewhere into a message that says
// who holds it and why this command must wait.
func lockRefusal(err error, what string, o openOptions) error {
	if !errors.Is(err, dirlock.ErrBusy) {
		return err
	}
	if o.Lock == dirlock.Exclusive {
		msg := fmt.Sprintf("%s is in use by a running `assent serve` (or another command); stop the server before running %s", what, o.Command)
		if o.Why != "" {
			msg += ": " + o.Why
		}
		return fmt.Errorf("%s (%w)", msg, err)
	}
	return fmt.Errorf("%s is held by an offline command (keys rotate-master, maintain, import or restore); wait for it to finish before running %s (%w)", what, o.Command, err)
}

// keyStore is a key store the CLI opens and closes: DIR's keys.db or the
// PostgreSQL key database.
type keyStore interface {
	envelope.KeyStore
	Close() error
}

// sameDatabase reports whether two PostgreSQL URLs name the same database
// on the same server (an unreadable URL is left for the opener to refuse).
func sameDatabase(a, b string) bool {
	ca, err := pgx.ParseConfig(a)
	if err != nil {
		return false
	}
	cb, err := pgx.ParseConfig(b)
	if err != nil {
		return false
	}
	return ca.Host == cb.Host && ca.Port == cb.Port && ca.Database == cb.Database
}
