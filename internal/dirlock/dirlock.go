// Package dirlock keeps offline commands away from a data directory (or a
// PostgreSQL database) that a running server uses.
//
// A server holds the lock shared: several `assent serve` processes may share
// one PostgreSQL database (API nodes), and commands that only add rows the
// server reads per request (keys create) hold it shared too. Commands that
// must be alone (master key rotation, maintenance, bulk import, restore) hold
// it exclusively. Every attempt is non-blocking: a command that cannot get
// the lock fails at once with ErrBusy rather than waiting behind a server
// that runs for months.
//
// On a directory the lock is flock(2) on the file LockFile in it; the kernel
// drops it when the process dies, so a crash never leaves a stale lock. In
// PostgreSQL it is a session-level advisory lock on one connection held for
// the life of the Lock; the server drops it when the connection closes.
package dirlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// LockFile is the name of the lock file in a data directory. Its content is
// empty; only its flock matters.
const LockFile = "assent.lock"

// Mode is how a lock is held.
type Mode int

const (
	Shared    Mode = iota + 1 // serve, and commands that may run beside it
	Exclusive                 // commands that must run alone
)

func (m Mode) String() string {
	if m == Exclusive {
		return "exclusive"
	}
	return "shared"
}

// ErrBusy: another process holds the lock in a conflicting mode.
var ErrBusy = errors.New("dirlock: held by another process")

// Lock is a held lock. Release it with Close; it is not safe for concurrent
// use.
type Lock struct {
	f    *os.File
	conn *pgx.Conn
}

// Dir takes the lock on directory dir (which must exist) in mode m without
// waiting. A conflicting holder gives an error wrapping ErrBusy.
func Dir(dir string, m Mode) (*Lock, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	how := syscall.LOCK_SH
	if m == Exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s lock on %s)", ErrBusy, m, f.Name())
		}
		return nil, fmt.Errorf("dirlock: flock %s: %w", f.Name(), err)
	}
	return &Lock{f: f}, nil
}

// Postgres takes the advisory lock of the database at url (of its current
// schema, so registries in separate schemas of one database do not block
// each other) in mode m without waiting, on a connection of its own that the
// Lock keeps open.
func Postgres(ctx context.Context, url string, m Mode) (*Lock, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("dirlock: the PostgreSQL URL does not parse")
	}
	cfg.RuntimeParams["application_name"] = "assent-lock"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("dirlock: connect: %w", err)
	}
	fn := "pg_try_advisory_lock_shared"
	if m == Exclusive {
		fn = "pg_try_advisory_lock"
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT "+fn+"(hashtextextended('assent:' || coalesce(current_schema(), ''), 0))").Scan(&ok); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("dirlock: %s: %w", fn, err)
	}
	if !ok {
		conn.Close(ctx)
		return nil, fmt.Errorf("%w (%s advisory lock in PostgreSQL)", ErrBusy, m)
	}
	return &Lock{conn: conn}, nil
}

// Close releases the lock. It is safe on a nil Lock.
func (l *Lock) Close() error {
	if l == nil {
		return nil
	}
	var err error
	if l.f != nil {
		err = l.f.Close() // closing the last descriptor drops the flock
		l.f = nil
	}
	if l.conn != nil {
		err = errors.Join(err, l.conn.Close(context.Background()))
		l.conn = nil
	}
	return err
}
