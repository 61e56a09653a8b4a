package registry

import (
	"context"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// The operator-key use cases for an interface acting for a signed-in
// operator (the web admin pages): the same as CreateOperator,
// ListOperators and RevokeOperator, which the CLI runs with the data
// directory in hand, but decided by the policy (manage_operators, admins
// only) through the gate, which records each attempt.

func (r *Registry) manageOperators(ctx context.Context, actor Actor) error {
	return r.guard(ctx, operationAccess(actor, consent.ManageOperators), func(store.Tx, map[string]*facts) error { return nil })
}

// CreateOperatorAs creates an operator key for an admin; the key is shown
// only in its answer.
func (r *Registry) CreateOperatorAs(ctx context.Context, actor Actor, in NewOperator) (OperatorView, string, error) {
	if err := r.manageOperators(ctx, actor); err != nil {
		return OperatorView{}, "", err
	}
	return r.CreateOperator(ctx, in)
}

// ListOperatorsAs lists every operator (never a key) for an admin.
func (r *Registry) ListOperatorsAs(ctx context.Context, actor Actor) ([]OperatorView, error) {
	if err := r.manageOperators(ctx, actor); err != nil {
		return nil, err
	}
	return r.ListOperators(ctx)
}

// RevokeOperatorAs revokes a key for an admin, at once.
func (r *Registry) RevokeOperatorAs(ctx context.Context, actor Actor, id string) error {
	if err := r.manageOperators(ctx, actor); err != nil {
		return err
	}
	return r.RevokeOperator(ctx, id)
}
