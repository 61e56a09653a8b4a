package postgres

import (
	"context"

	"github.com/assent-registry/assent/internal/store"
)

// --- operator logins (user name and password hash) ---

func (t *tx) GetOperator(ctx context.Context, id string) (store.Operator, error) {
	o, err := scanOperator(t.tx.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = $1`, id))
	if err != nil {
		return o, t.fail("get operator", err)
	}
	return o, nil
}

func (t *tx) SetOperatorLogin(ctx context.Context, id, user string, hash []byte) error {
	tag, err := t.tx.Exec(ctx, `UPDATE operators SET user_name = $1, password_hash = $2 WHERE id = $3`, user, hash, id)
	if err != nil {
		return t.fail("set operator login", err)
	}
	return t.affected("set operator login", tag, nil)
}

func (t *tx) OperatorByUser(ctx context.Context, user string) (store.Operator, []byte, error) {
	var hash []byte
	o, err := scanOperator(scanWith{t.tx.QueryRow(ctx, `SELECT `+operatorCols+`, password_hash FROM operators WHERE user_name = $1 AND revoked_at IS NULL`, user), &hash})
	if err != nil {
		return o, nil, t.fail("operator by user", err)
	}
	return o, hash, nil
}

// scanWith scans the operator's columns and then extra ones.
type scanWith struct {
	row   interface{ Scan(...any) error }
	extra any
}

func (s scanWith) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }
