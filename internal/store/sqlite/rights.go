package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

func (t *tx) strings(ctx context.Context, op, q string, args ...any) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (t *tx) AliasesOf(ctx context.Context, id string) ([]string, error) {
	return t.strings(ctx, "aliases", `SELECT id FROM persons WHERE alias_of = ? AND status = ? ORDER BY id`, id, store.StatusActive)
}

func (t *tx) ErasePersonKeepCare(ctx context.Context, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE persons SET status = ?, area_code = '', household_id = '', relationship = '', guardian_id = '',
		identity_sealed = NULL, lookup_index = NULL, portal_code_mac = NULL, updated_at = ? WHERE id = ?`, store.StatusErased, ms(at), id)
	if err := mustAffect("sqlite: erase person", res, err); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM person_versions WHERE person_id = ?`,
		`DELETE FROM biometrics WHERE person_id = ?`,
		`DELETE FROM person_identifiers WHERE person_id = ?`,
		`UPDATE households SET head_id = '' WHERE head_id = ?`,
		`DELETE FROM sessions WHERE person_id = ?`, // the person's portal and web sessions end with them
	} {
		if _, err := t.tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("sqlite: erase person: %w", err)
		}
	}
	return nil
}

func (t *tx) DeleteCareData(ctx context.Context, personID string) error {
	for _, q := range []string{
		`DELETE FROM exams WHERE person_id = ?`,
		`DELETE FROM specimen_events WHERE person_id = ?`,
		`DELETE FROM specimens WHERE person_id = ?`,
	} {
		if _, err := t.tx.ExecContext(ctx, q, personID); err != nil {
			return fmt.Errorf("sqlite: delete care data: %w", err)
		}
	}
	return nil
}

func (t *tx) ErasedWithCareData(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return t.strings(ctx, "erased with care data", `SELECT id FROM persons p WHERE status = ? AND updated_at < ?
		AND (EXISTS (SELECT 1 FROM exams e WHERE e.person_id = p.id) OR EXISTS (SELECT 1 FROM specimens s WHERE s.person_id = p.id))
		ORDER BY id LIMIT ?`, store.StatusErased, ms(before), limit)
}
