package registry

import (
	"context"

	"github.com/assent-registry/assent/internal/consent"
)

// The operator-key use cases for an interface acting for a signed-in
// operator (the web admin pages): the same as CreateOperator,
// ListOperators and RevokeOperator, which the CLI runs with the data
// directory in hand, but only for an admin.

func adminOnly(actor Actor) error {
	if actor.Role != consent.Admin {
		return &DeniedError{Reason: string(consent.ReasonRoleNotAllowed)}
	}
	return nil
}

// CreateOperatorAs creates an operator key for an admin; the key is shown
// only in its answer.
func (r *Registry) CreateOperatorAs(ctx context.Context, actor Actor, in NewOperator) (OperatorView, string, error) {
	if err := adminOnly(actor); err != nil {
		return OperatorView{}, "", err
	}
	return r.CreateOperator(ctx, in)
}

// ListOperatorsAs lists every operator (never a key) for an admin.
func (r *Registry) ListOperatorsAs(ctx context.Context, actor Actor) ([]OperatorView, error) {
	if err := adminOnly(actor); err != nil {
		return nil, err
	}
	return r.ListOperators(ctx)
}

// RevokeOperatorAs revokes a key for an admin, at once.
func (r *Registry) RevokeOperatorAs(ctx context.Context, actor Actor, id string) error {
	if err := adminOnly(actor); err != nil {
		return err
	}
	return r.RevokeOperator(ctx, id)
}
