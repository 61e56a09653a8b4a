package sqlite

import (
	"context"

	"github.com/assent-registry/assent/internal/store"
)

// --- operator logins (user name and password hash) ---

func (t *tx) GetOperator(ctx context.Context, id string) (store.Operator, error) {
	o, err := scanOperator(t.tx.QueryRowContext(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, id))
	if err != nil {
		return o, notFound("sqlite: get operator", err)
	}
	return o, nil
}

func (t *tx) SetOperatorLogin(ctx context.Context, id, user string, hash []byte) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE operators SET user_name = ?, password_hash = ? WHERE id = ?`, user, hash, id)
	if err != nil {
		return conflictOr("sqlite: set operator login", err)
	}
	return mustAffect("sqlite: set operator login", res, nil)
}

func (t *tx) OperatorByUser(ctx context.Context, user string) (store.Operator, []byte, error) {
	var hash []byte
	row := t.tx.QueryRowContext(ctx, `SELECT `+operatorCols+`, password_hash FROM operators WHERE user_name = ? AND revoked_at IS NULL`, user)
	o, err := scanOperator(scanWith{row, &hash})
	if err != nil {
		return o, nil, notFound("sqlite: operator by user", err)
	}
	return o, hash, nil
}

// scanWith scans the operator's columns and then extra ones.
type scanWith struct {
	sc    interface{ Scan(...any) error }
	extra any
}

func (s scanWith) Scan(dest ...any) error { return s.sc.Scan(append(dest, s.extra)...) }
