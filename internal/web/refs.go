package web

import (
	"errors"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// personRef turns what an operator or person typed (an id, or a person
// number with spaces or dashes) into the reference the registry takes.
func personRef(s string) string {
	return strings.TrimSpace(s)
}

func isNotFound(err error) bool {
	return errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrErased)
}

func isLocked(err error) bool { return errors.Is(err, registry.ErrLocked) }
