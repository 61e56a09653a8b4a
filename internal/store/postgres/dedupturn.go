package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"
)

// dedupLockKey is the advisory lock key of deduplicating enrolments of
// one modality ("assent dedup <modality>", FNV-1a 64).
func dedupLockKey(modality string) int64 {
	h := fnv.New64a()
	h.Write([]byte("assent dedup " + modality))
	return int64(h.Sum64())
}

// dedupLockConns bounds the connections holding (or waiting for) a
// deduplication turn: one per modality in a process, with room for a
// second registry over the same DB (tests). They come from a pool of their
// own, so that a turn held never takes a connection the holder's search
// and transaction need.
const dedupLockConns = 4

// LockDedup makes additions to the 1:N gallery of modality take turns on
// every node over this database, around their commit (internal/registry,
// turns.go; the 1:N searches run without it): it holds the PostgreSQL
// session advisory lock of the modality on a connection of its own until
// unlock is called. ctx bounds
// the wait. unlock returns the connection to the pool; if the unlock
// fails, the connection is closed, which releases the lock as well, and a
// node that dies holding it loses its connection, which the server sees
// and releases the lock. The caller must hold at most one such lock per
// modality at a time in a process (the registry's in-process turn comes
// first): the turns' connections are a pool of dedupLockConns. With
// Options.NoWriteLock (databases without advisory locks) it holds nothing;
// the additions are then ordered by the counter row of migration 0015
// alone (NextDedupPoint; docs/scale.md).
func (db *DB) LockDedup(ctx context.Context, modality string) (unlock func(), err error) {
	if !db.writeLock {
		return func() {}, nil
	}
	key := dedupLockKey(modality)
	for i := 0; ; i++ {
		c, err := db.locks.acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("postgres: dedup lock: connect: %w", err)
		}
		if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			dead := c.Conn().IsClosed()
			db.locks.release(c)
			if !dead || i >= db.locks.size || ctx.Err() != nil {
				return nil, fmt.Errorf("postgres: dedup lock: %w", err)
			}
			continue // an idle connection the server had dropped
		}
		return func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := c.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				_ = c.Conn().Close(uctx)
			}
			db.locks.release(c)
		}, nil
	}
}
