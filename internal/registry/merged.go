package registry

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/assent-registry/assent/internal/store"
)

// Merged records: after an adjudicator decides that two records are the
// same person, the newer one is an alias of the older (the survivor). New
// data goes to the survivor only: a write to the alias is refused with 409
// merged_record, whose detail names the survivor. The care history is one
// history: listing exams of either record for care lists both records'
// exams, each read audited against the record it was written under.

// CodeMergedRecord (409): the record was merged into another; the detail
// names the surviving record.
const CodeMergedRecord = "merged_record"

// refuseMerged refuses a write to an alias.
func refuseMerged(p store.Person) error {
	if p.AliasOf == "" {
		return nil
	}
	return &InputError{Code: CodeMergedRecord, Field: "id", Detail: "this record was merged into " + p.AliasOf + " (the same person); use that record"}
}

// mergedRecords returns the surviving record of id and every record merged
// into it, the survivor first. An unknown id is returned alone (the gate
// answers for it).
func (r *Registry) mergedRecords(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := r.store.View(ctx, func(tx store.Tx) error {
		p, err := tx.GetPerson(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			out = []string{id}
			return nil
		}
		if err != nil {
			return err
		}
		root := cmp.Or(p.AliasOf, id)
		aliases, err := tx.AliasesOf(ctx, root)
		if err != nil {
			return err
		}
		out = append([]string{root}, slices.DeleteFunc(aliases, func(a string) bool { return a == root })...)
		return nil
	})
	return out, err
}
