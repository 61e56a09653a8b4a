package sqlite

import (
	"context"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

var _ store.CaseCounter = (*tx)(nil)

// CountCases counts the cases with status (operational metrics).
func (t *tx) CountCases(ctx context.Context, status string) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE status = ?`, status).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count cases: %w", err)
	}
	return n, nil
}
