package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/postgres"
	"github.com/assent-registry/assent/internal/store/sqlite"
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
	ks    *envelope.SQLiteStore
	keys  *envelope.Keyring
	reg   *registry.Registry
	audit *audit.Log
	log   *slog.Logger
}

// masterKeyPath is ASSENT_MASTER_KEY_FILE, or master.key in dir.
func masterKeyPath(dir string) string {
	if p := os.Getenv("ASSENT_MASTER_KEY_FILE"); p != "" {
		return p
	}
	return filepath.Join(dir, masterKeyFile)
}

// openApp opens (creating on first use) the data directory dir: the SQLite
// data file, the key store and the master key.
// pgURL, when not empty, puts the data in PostgreSQL instead of the SQLite
// file; the key store and master key stay in dir, apart from the data.
func openApp(ctx context.Context, dir string, migrate bool, log *slog.Logger, pgURL ...string) (*app, error) {
	if dir == "" {
		return nil, errors.New("--data is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	ks, err := envelope.OpenSQLiteStore(ctx, filepath.Join(dir, keyStoreFile))
	if err != nil {
		return nil, err
	}
	// Complete a master-key rotation a crash interrupted, before the key is read.
	if done, err := envelope.FinishRotation(ctx, ks, masterKeyPath(dir)); err != nil {
		ks.Close()
		return nil, err
	} else if done {
		log.Warn("completed an interrupted master key rotation")
	}
	master, err := envelope.LoadOrCreateMasterKey(masterKeyPath(dir))
	var perm *envelope.PermissionError
	if errors.As(err, &perm) && master != nil {
		log.Warn("master key file is readable by group or others; restrict it to 0600", "path", masterKeyPath(dir))
	} else if err != nil {
		ks.Close()
		return nil, err
	}
	keys, err := envelope.NewKeyring(ctx, ks, master, envelope.Options{})
	if err != nil {
		ks.Close()
		return nil, err
	}
	var db store.Store
	if len(pgURL) > 0 && pgURL[0] != "" {
		db, err = postgres.Open(ctx, pgURL[0], postgres.Options{Migrate: migrate})
	} else {
		db, err = sqlite.Open(ctx, dir, sqlite.Options{Migrate: migrate})
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
	reg := registry.New(db, keys, registry.Options{Logger: log, Audit: alog, CareRetention: careRetentionOf(ctx)})
	return &app{dir: dir, db: db, ks: ks, keys: keys, reg: reg, audit: alog, log: log}, nil
}

func (a *app) Close() error {
	return errors.Join(a.db.Close(), a.ks.Close())
}
