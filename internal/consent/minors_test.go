package consent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestIsMinor(t *testing.T) {
	tests := []struct {
		name     string
		birth    time.Time
		now      time.Time
		majority int
		want     bool
	}{
		{"day before 18th birthday", day(2008, 5, 4), day(2026, 5, 3).Add(23 * time.Hour), 18, true},
		{"on 18th birthday", day(2008, 5, 4), day(2026, 5, 4), 18, false},
		{"default majority is 18", day(2008, 5, 4), day(2026, 5, 3), 0, true},
		{"majority 16", day(2008, 5, 4), day(2024, 5, 4), 16, false},
		{"born 29 February, 28 February of a common year", day(2008, 2, 29), day(2026, 2, 28), 18, true},
		{"born 29 February, 1 March of a common year", day(2008, 2, 29), day(2026, 3, 1), 18, false},
		{"birth date with a time of day", time.Date(2008, 5, 4, 22, 30, 0, 0, time.UTC), day(2026, 5, 4), 18, false},
		{"unknown birth date counts as adult", time.Time{}, day(2026, 5, 4), 18, false},
		{"a 12-year-old", day(2014, 1, 1), day(2026, 11, 22), 18, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsMinor(tt.birth, tt.now, tt.majority); got != tt.want {
				t.Errorf("IsMinor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDueForErasure(t *testing.T) {
	birth := day(2008, 1, 1) // of age on 2026-01-01; grace ends 2026-06-30 with 180 days
	majority := day(2026, 1, 1)
	graceEnd := majority.Add(DefaultGracePeriod)
	person := Person{Exists: true, BirthDate: birth}
	g := func(c Category, p Purpose) Record {
		r := byGuardian(rec(c, p, Granted, 0), "guardian-1")
		r.At = day(2020, 6, 1)
		return r
	}
	own := func(c Category, p Purpose, d Decision) Record {
		r := rec(c, p, d, 0)
		r.At = majority.AddDate(0, 0, 10)
		return r
	}
	tests := []struct {
		name    string
		person  Person
		records []Record
		now     time.Time
		cfg     Config
		want    []Category
	}{
		{"still a minor", person, []Record{g(Fingerprint, Deduplication)}, majority.Add(-time.Second), Config{}, nil},
		{"within the grace period", person, []Record{g(Fingerprint, Deduplication)}, graceEnd.Add(-time.Second), Config{}, nil},
		{"grace period over", person, []Record{g(Fingerprint, Deduplication)}, graceEnd, Config{}, []Category{Fingerprint}},
		{"shorter grace period", person, []Record{g(Fingerprint, Deduplication)}, majority.AddDate(0, 0, 30), Config{GracePeriod: 30 * 24 * time.Hour}, []Category{Fingerprint}},
		{"majority at 21", person, []Record{g(Fingerprint, Deduplication)}, graceEnd, Config{AgeOfMajority: 21}, nil},
		{"re-affirmed one purpose keeps the category", person,
			[]Record{g(Face, Verification), g(Face, Deduplication), own(Face, Verification, Granted)}, graceEnd, Config{}, nil},
		{"re-affirmation declined", person,
			[]Record{g(Face, Verification), own(Face, Verification, Declined)}, graceEnd, Config{}, nil},
		{"several categories", person,
			[]Record{g(Iris, Verification), g(Face, Deduplication), own(Fingerprint, Verification, Granted)}, graceEnd, Config{},
			[]Category{Face, Iris}},
		{"care categories are kept", person,
			[]Record{g(Health, Research), g(DNA, Research), g(BloodType, Research)}, graceEnd, Config{}, nil},
		{"guardian registration not re-affirmed erases the person", person,
			[]Record{g(Identity, Registration), g(Iris, Verification)}, graceEnd, Config{}, Categories},
		{"erased person", Person{Exists: true, Erased: true, BirthDate: birth}, []Record{g(Iris, Verification)}, graceEnd, Config{}, nil},
		{"unknown birth date", Person{Exists: true}, []Record{g(Iris, Verification)}, graceEnd, Config{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DueForErasure(Facts{Person: tt.person, Records: tt.records, Now: tt.now, Config: tt.cfg})
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("DueForErasure (-want +got):\n%s", d)
			}
		})
	}
}
