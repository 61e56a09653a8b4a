package postgres

import (
	"context"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

// --- operator TOTP second factor (sealed secret, last step used) ---

func (t *tx) SetOperatorTOTP(ctx context.Context, id string, sealed []byte, step int64) error {
	tag, err := t.tx.Exec(ctx, `UPDATE operators SET totp_sealed = $1, totp_step = $2 WHERE id = $3`, sealed, step, id)
	return t.affected("set operator totp", tag, err)
}

func (t *tx) OperatorTOTP(ctx context.Context, id string) ([]byte, int64, error) {
	var sealed []byte
	var step int64
	if err := t.tx.QueryRow(ctx, `SELECT totp_sealed, totp_step FROM operators WHERE id = $1`, id).Scan(&sealed, &step); err != nil {
		return nil, 0, t.fail("operator totp", err)
	}
	return sealed, step, nil
}

func (t *tx) UseOperatorTOTPStep(ctx context.Context, id string, step int64) error {
	tag, err := t.tx.Exec(ctx, `UPDATE operators SET totp_step = $1 WHERE id = $2 AND totp_step < $1`, step, id)
	if err != nil {
		return t.fail("use totp step", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: use totp step: %w", store.ErrConflict)
	}
	return nil
}
