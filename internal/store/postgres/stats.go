package postgres

import (
	"context"

	"github.com/assent-registry/assent/internal/store"
)

var _ store.CaseCounter = (*tx)(nil)

// CountCases counts the cases with status (operational metrics).
func (t *tx) CountCases(ctx context.Context, status string) (int, error) {
	var n int
	if err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM cases WHERE status = $1`, status).Scan(&n); err != nil {
		return 0, t.fail("count cases", err)
	}
	return n, nil
}
