package store

import "context"

// CaseCounter is an optional ability of a Tx: counting cases by status
// without reading them, for operational metrics (how many possible
// duplicates wait for an adjudicator). Both backends implement it.
type CaseCounter interface {
	CountCases(ctx context.Context, status string) (int, error)
}
