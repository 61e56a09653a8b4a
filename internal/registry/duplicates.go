package registry

import (
	"cmp"
	"slices"
	"strings"
)

// sortDuplicates orders the possible duplicates of a capture: the strongest
// evidence first, equal scores by person id, so that the answer is the same
// whatever order the galleries answered in. (The comparator is a total
// order: it returns 0 only for the same person and score.)
func sortDuplicates(dups []Duplicate) {
	slices.SortFunc(dups, func(x, y Duplicate) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), strings.Compare(x.PersonID, y.PersonID))
	})
}
