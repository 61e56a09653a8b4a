package registry

import "github.com/assent-registry/assent/internal/consent"

// operationAccess is an access to no person's data, decided on the role
// alone by consent.DecideOperation.
func operationAccess(actor Actor, op consent.Operation) access {
	return access{actor: actor, operation: op, action: consent.Action(op), categories: []consent.Category{}}
}
