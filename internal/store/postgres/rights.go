package postgres

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

func (t *tx) AliasesOf(ctx context.Context, id string) ([]string, error) {
	out, err := collect(ctx, t, "aliases", `SELECT id FROM persons WHERE alias_of = $1 AND status = $2 ORDER BY id`, scanString, id, store.StatusActive)
	if out == nil {
		out = []string{}
	}
	return out, err
}

func (t *tx) ErasePersonKeepCare(ctx context.Context, id string, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE persons SET status = $1, area_code = '', household_id = '', relationship = '', guardian_id = '',
		identity_sealed = NULL, lookup_index = NULL, portal_code_mac = NULL, updated_at = $2 WHERE id = $3`, store.StatusErased, ms(at), id)
	if err := t.affected("erase person", tag, err); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM person_versions WHERE person_id = $1`,
		`DELETE FROM biometrics WHERE person_id = $1`,
		`DELETE FROM person_identifiers WHERE person_id = $1`,
		`UPDATE households SET head_id = '' WHERE head_id = $1`,
		`DELETE FROM sessions WHERE person_id = $1`, // the person's portal and web sessions end with them
	} {
		if _, err := t.tx.Exec(ctx, q, id); err != nil {
			return t.fail("erase person", err)
		}
	}
	return nil
}

func (t *tx) DeleteCareData(ctx context.Context, personID string) error {
	for _, q := range []string{
		`DELETE FROM exams WHERE person_id = $1`,
		`DELETE FROM specimen_events WHERE person_id = $1`,
		`DELETE FROM specimens WHERE person_id = $1`,
	} {
		if _, err := t.tx.Exec(ctx, q, personID); err != nil {
			return t.fail("delete care data", err)
		}
	}
	return nil
}

func (t *tx) ErasedWithCareData(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return collect(ctx, t, "erased with care data", `SELECT id FROM persons p WHERE status = $1 AND updated_at < $2
		AND (EXISTS (SELECT 1 FROM exams e WHERE e.person_id = p.id) OR EXISTS (SELECT 1 FROM specimens s WHERE s.person_id = p.id))
		ORDER BY id LIMIT $3`, scanString, store.StatusErased, ms(before), limit)
}
