package store

import (
	"context"
	"time"
)

// PersonIdentifier is an identifier another system (an EMR, a laboratory)
// gave a person, attached for cross-referencing (IHE PIXm). System is the
// assigning system's URI, kept in the clear (it names a system, not a
// person); the value is sealed under the person's identity key, and Lookup
// is a keyed digest of (system, value) so a value can be found without
// storing it in the clear. Erasing the person deletes the rows.
type PersonIdentifier struct {
	PersonID   string
	System     string
	Lookup     []byte
	Sealed     []byte
	OperatorID string
	Site       string
	At         time.Time
}

// Identifiers keeps the identifiers other systems gave persons.
type Identifiers interface {
	// AddIdentifier attaches id; ErrConflict if (System, Lookup) is already
	// attached, to this person or another.
	AddIdentifier(ctx context.Context, id PersonIdentifier) error
	// PersonByIdentifier returns the person (System, lookup) is attached to,
	// or ErrNotFound.
	PersonByIdentifier(ctx context.Context, system string, lookup []byte) (string, error)
	// ListIdentifiers lists a person's identifiers in the order attached.
	ListIdentifiers(ctx context.Context, personID string) ([]PersonIdentifier, error)
}
