package postgres

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// --- shared state of several nodes: sessions, login counters, leases ---
//
// Every read-modify-write here runs in Update's SERIALIZABLE transaction:
// two nodes that count the same login at once conflict, and Update runs the
// loser again on the winner's row, so no count is lost.

func (t *tx) PutSession(ctx context.Context, s store.Session) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO sessions(id, kind, operator_id, person_id, parent, role, purpose, method, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, operator_id = excluded.operator_id, person_id = excluded.person_id,
			parent = excluded.parent, role = excluded.role, purpose = excluded.purpose, method = excluded.method, expires_at = excluded.expires_at`,
		s.ID, s.Kind, s.OperatorID, s.PersonID, s.Parent, s.Role, s.Purpose, s.Method, ms(s.ExpiresAt))
	if err != nil {
		return t.fail("put session", err)
	}
	return nil
}

func (t *tx) GetSession(ctx context.Context, id []byte, now time.Time) (store.Session, error) {
	s := store.Session{ID: id}
	var exp int64
	err := t.tx.QueryRow(ctx, `SELECT kind, operator_id, person_id, parent, role, purpose, method, expires_at FROM sessions
		WHERE id = $1 AND expires_at > $2`, id, ms(now)).Scan(&s.Kind, &s.OperatorID, &s.PersonID, &s.Parent, &s.Role, &s.Purpose, &s.Method, &exp)
	if err != nil {
		return store.Session{}, t.fail("get session", err)
	}
	s.ExpiresAt = fromMS(exp)
	return s, nil
}

func (t *tx) DeleteSession(ctx context.Context, id []byte) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1 OR parent = $1`, id); err != nil {
		return t.fail("delete session", err)
	}
	return nil
}

func (t *tx) GetCounter(ctx context.Context, key []byte) (store.Counter, error) {
	var c store.Counter
	var n, start, locked, exp int64
	err := t.tx.QueryRow(ctx, `SELECT n, start, locked_until, expires_at FROM login_counters WHERE key = $1`, key).
		Scan(&n, &start, &locked, &exp)
	if err != nil {
		return store.Counter{}, t.fail("get counter", err)
	}
	c.N, c.Start, c.LockedUntil, c.ExpiresAt = int(n), fromMSZero(start), fromMSZero(locked), fromMS(exp)
	return c, nil
}

func (t *tx) PutCounter(ctx context.Context, key []byte, c store.Counter) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO login_counters(key, n, start, locked_until, expires_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (key) DO UPDATE SET n = excluded.n, start = excluded.start, locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
		key, int64(c.N), msZero(c.Start), msZero(c.LockedUntil), ms(c.ExpiresAt))
	if err != nil {
		return t.fail("put counter", err)
	}
	return nil
}

func (t *tx) DeleteCounter(ctx context.Context, key []byte) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM login_counters WHERE key = $1`, key); err != nil {
		return t.fail("delete counter", err)
	}
	return nil
}

func (t *tx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO leases(name, holder, expires_at) VALUES ($1,$2,$3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`, name, holder, ms(until), ms(now))
	if err != nil {
		return false, t.fail("acquire lease", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return t.fail("release lease", err)
	}
	return nil
}

func (t *tx) PruneShared(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2)`,
		`DELETE FROM login_counters WHERE key IN (SELECT key FROM login_counters WHERE expires_at <= $1 LIMIT $2)`,
	} {
		tag, err := t.tx.Exec(ctx, q, ms(now), limit)
		if err != nil {
			return total, t.fail("prune shared state", err)
		}
		total += int(tag.RowsAffected())
	}
	return total, nil
}

// msZero stores the zero time as 0, so it reads back as the zero time.
func msZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func fromMSZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}
