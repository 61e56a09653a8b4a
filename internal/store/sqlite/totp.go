package sqlite

import (
	"context"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

// --- operator TOTP second factor (sealed secret, last step used) ---

func (t *tx) SetOperatorTOTP(ctx context.Context, id string, sealed []byte, step int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE operators SET totp_sealed = ?, totp_step = ? WHERE id = ?`, sealed, step, id)
	return mustAffect("sqlite: set operator totp", res, err)
}

func (t *tx) OperatorTOTP(ctx context.Context, id string) ([]byte, int64, error) {
	var sealed []byte
	var step int64
	err := t.tx.QueryRowContext(ctx, `SELECT totp_sealed, totp_step FROM operators WHERE id = ?`, id).Scan(&sealed, &step)
	if err != nil {
		return nil, 0, notFound("sqlite: operator totp", err)
	}
	return sealed, step, nil
}

func (t *tx) UseOperatorTOTPStep(ctx context.Context, id string, step int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE operators SET totp_step = ? WHERE id = ? AND totp_step < ?`, step, id, step)
	if err != nil {
		return fmt.Errorf("sqlite: use totp step: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("sqlite: use totp step: %w", store.ErrConflict)
	}
	return nil
}
