package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/assent-registry/assent/internal/store"
)

// Backup writes a consistent copy of the data file in dir to out with
// VACUUM INTO: one read transaction, so it runs beside a live server (WAL
// readers do not block the writer) and the copy is a snapshot of one moment.
// It copies the data file only, never the key store or the master key: a
// backup holds sealed values whose keys live elsewhere, so a person erased
// after the backup stays erased when it is restored. out must not exist; it
// is written as out+".partial" with mode 0600, checked, synced and renamed.
func Backup(ctx context.Context, dir, out string) error {
	const op = "sqlite: backup"
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s: %s already exists", op, out)
	}
	src := filepath.Join(dir, FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+src+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer db.Close()
	tmp := out + ".partial"
	os.Remove(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := finishCopy(ctx, tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Restore replaces the data file in dir with the backup file (made by
// Backup). The caller must hold dir alone (no server running). The backup
// is checked first (an SQLite file whose integrity check passes, with an
// Assent schema this binary knows), then copied into a staging directory
// inside dir, where verify (if not nil) opens it as a store (Open on the
// staging directory) and checks it belongs here; only then is the live
// file's WAL dropped and the copy renamed over it, so a crash or a refusal
// leaves the old file.
func Restore(ctx context.Context, dir, file string, verify func(ctx context.Context, stageDir string) error) error {
	const op = "sqlite: restore"
	if err := checkBackup(ctx, file); err != nil {
		return fmt.Errorf("%s: %s: %w", op, file, err)
	}
	stage, err := os.MkdirTemp(dir, ".restore-")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer os.RemoveAll(stage)
	staged := filepath.Join(stage, FileName)
	if err := copyFile(file, staged); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if verify != nil {
		if err := verify(ctx, stage); err != nil {
			return fmt.Errorf("%s: %s: %w", op, file, err)
		}
		for _, ext := range []string{"-wal", "-shm"} {
			if _, err := os.Stat(staged + ext); err == nil {
				return fmt.Errorf("%s: the staged copy was left with a %s file (still open?)", op, ext)
			}
		}
	}
	dst := filepath.Join(dir, FileName)
	for _, ext := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	if err := finishCopy(ctx, staged, dst); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// checkBackup opens file read-only and checks it is an intact Assent data
// file of a schema this binary can use.
func checkBackup(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil {
		return fmt.Errorf("not an SQLite database: %w", err)
	}
	if ok != "ok" {
		return fmt.Errorf("integrity check failed: %s", ok)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return errors.New("not an Assent data file (no schema_migrations table)")
	}
	if v > LatestSchema() {
		return fmt.Errorf("schema %d, binary knows %d: %w", v, LatestSchema(), store.ErrSchemaTooNew)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// finishCopy makes tmp private, checks it, syncs it and renames it to dst,
// then syncs dst's directory so the rename survives a crash.
func finishCopy(ctx context.Context, tmp, dst string) error {
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := checkBackup(ctx, tmp); err != nil {
		return fmt.Errorf("the copy is not usable: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
