package consent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAfterWithdrawal(t *testing.T) {
	type result struct {
		Erase  []Category
		Person bool
	}
	tests := []struct {
		name    string
		records []Record
		next    Record
		want    result
	}{
		{"a grant erases nothing", []Record{rec(Face, Verification, Withdrawn, 0)}, rec(Face, Verification, Granted, 1), result{}},
		{"last purpose withdrawn", []Record{rec(Face, Verification, Granted, 0)}, rec(Face, Verification, Withdrawn, 1),
			result{Erase: []Category{Face}}},
		{"another purpose still granted", []Record{rec(Face, Verification, Granted, 0), rec(Face, Deduplication, Granted, 0)},
			rec(Face, Verification, Withdrawn, 1), result{}},
		{"the other purpose was withdrawn before", []Record{
			rec(Iris, Verification, Granted, 0), rec(Iris, Deduplication, Granted, 0), rec(Iris, Deduplication, Withdrawn, 1)},
			rec(Iris, Verification, Withdrawn, 2), result{Erase: []Category{Iris}}},
		{"a decline after a grant also removes the basis", []Record{rec(Fingerprint, Deduplication, Granted, 0)},
			rec(Fingerprint, Deduplication, Declined, 1), result{Erase: []Category{Fingerprint}}},
		{"other categories untouched", []Record{rec(Face, Verification, Granted, 0), rec(Iris, Verification, Granted, 0)},
			rec(Face, Verification, Withdrawn, 1), result{Erase: []Category{Face}}},
		{"withdrawing registration erases the person", []Record{rec(Identity, Registration, Granted, 0), rec(Face, Verification, Granted, 0)},
			rec(Identity, Registration, Withdrawn, 1), result{Erase: Categories, Person: true}},
		{"research withdrawal keeps care data", []Record{rec(Health, Research, Granted, 0)},
			rec(Health, Research, Withdrawn, 1), result{}},
		{"a stale withdrawal changes nothing", []Record{rec(Face, Verification, Granted, 5)},
			rec(Face, Verification, Withdrawn, 1), result{}},
		{"a stale registration withdrawal changes nothing", []Record{rec(Identity, Registration, Granted, 5)},
			rec(Identity, Registration, Withdrawn, 1), result{}},
		{"another person's grant does not keep the category", []Record{
			func() Record { r := rec(Face, Deduplication, Granted, 0); r.PersonID = "other"; return r }(),
			rec(Face, Verification, Granted, 0)},
			rec(Face, Verification, Withdrawn, 1), result{Erase: []Category{Face}}},
		{"invalid pair", nil, rec(Face, Care, Withdrawn, 1), result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Record(nil), tt.records...)
			erase, person := AfterWithdrawal(in, tt.next)
			if d := cmp.Diff(tt.want, result{erase, person}); d != "" {
				t.Errorf("AfterWithdrawal (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.records, in); d != "" {
				t.Errorf("records were changed:\n%s", d)
			}
		})
	}
}
