package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// --- shared state of several nodes: sessions, login counters, leases ---

func (t *tx) PutSession(ctx context.Context, s store.Session) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sessions(id, kind, operator_id, person_id, parent, role, purpose, method, expires_at)
		VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, operator_id = excluded.operator_id, person_id = excluded.person_id,
			parent = excluded.parent, role = excluded.role, purpose = excluded.purpose, method = excluded.method, expires_at = excluded.expires_at`,
		s.ID, s.Kind, s.OperatorID, s.PersonID, s.Parent, s.Role, s.Purpose, s.Method, ms(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: put session: %w", err)
	}
	return nil
}

func (t *tx) GetSession(ctx context.Context, id []byte, now time.Time) (store.Session, error) {
	s := store.Session{ID: id}
	var exp int64
	err := t.tx.QueryRowContext(ctx, `SELECT kind, operator_id, person_id, parent, role, purpose, method, expires_at FROM sessions
		WHERE id = ? AND expires_at > ?`, id, ms(now)).Scan(&s.Kind, &s.OperatorID, &s.PersonID, &s.Parent, &s.Role, &s.Purpose, &s.Method, &exp)
	if err != nil {
		return store.Session{}, notFound("sqlite: get session", err)
	}
	s.ExpiresAt = fromMS(exp)
	return s, nil
}

func (t *tx) DeleteSession(ctx context.Context, id []byte) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? OR parent = ?`, id, id); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

func (t *tx) GetCounter(ctx context.Context, key []byte) (store.Counter, error) {
	var c store.Counter
	var start, locked, exp int64
	err := t.tx.QueryRowContext(ctx, `SELECT n, start, locked_until, expires_at FROM login_counters WHERE key = ?`, key).
		Scan(&c.N, &start, &locked, &exp)
	if err != nil {
		return store.Counter{}, notFound("sqlite: get counter", err)
	}
	c.Start, c.LockedUntil, c.ExpiresAt = fromMSZero(start), fromMSZero(locked), fromMS(exp)
	return c, nil
}

func (t *tx) PutCounter(ctx context.Context, key []byte, c store.Counter) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO login_counters(key, n, start, locked_until, expires_at) VALUES (?,?,?,?,?)
		ON CONFLICT(key) DO UPDATE SET n = excluded.n, start = excluded.start, locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
		key, c.N, msZero(c.Start), msZero(c.LockedUntil), ms(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: put counter: %w", err)
	}
	return nil
}

func (t *tx) DeleteCounter(ctx context.Context, key []byte) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM login_counters WHERE key = ?`, key); err != nil {
		return fmt.Errorf("sqlite: delete counter: %w", err)
	}
	return nil
}

func (t *tx) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO leases(name, holder, expires_at) VALUES (?,?,?)
		ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`, name, holder, ms(until), ms(now))
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease: %w", err)
	}
	return n == 1, nil
}

func (t *tx) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease: %w", err)
	}
	return nil
}

func (t *tx) PruneShared(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ? LIMIT ?)`,
		`DELETE FROM login_counters WHERE key IN (SELECT key FROM login_counters WHERE expires_at <= ? LIMIT ?)`,
	} {
		res, err := t.tx.ExecContext(ctx, q, ms(now), limit)
		if err != nil {
			return total, fmt.Errorf("sqlite: prune shared state: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: prune shared state: %w", err)
		}
		total += int(n)
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
