package web

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/assent-registry/assent/internal/registry"
)

// resolve turns what an operator or person typed (a person number, with or
// without its spaces and dash, or an id) into the record id, through the
// registry; a mistyped digit comes back as invalid_person_number.
func (s *Server) resolve(ctx context.Context, ref string) (string, error) {
	return s.reg.ResolvePerson(ctx, strings.TrimSpace(ref))
}

// compactNumber is a person number's digits alone, as links carry it.
func compactNumber(n string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, n)
}

func isNotFound(err error) bool {
	return errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrErased)
}

func isLocked(err error) bool { return errors.Is(err, registry.ErrLocked) }

func isUnauthenticated(err error) bool { return errors.Is(err, registry.ErrUnauthenticated) }
