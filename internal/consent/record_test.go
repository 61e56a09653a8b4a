package consent

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	ok := rec(Fingerprint, Verification, Granted, 0)
	tests := []struct {
		name   string
		mutate func(*Record)
		want   []error
	}{
		{"valid", func(*Record) {}, nil},
		{"valid with guardian and expiry", func(r *Record) { r.GuardianID = "g"; r.ExpiresAt = r.At.Add(time.Hour) }, nil},
		{"unknown category", func(r *Record) { r.Category = "ethnicity" }, []error{ErrUnknownCategory}},
		{"unknown purpose", func(r *Record) { r.Purpose = "marketing" }, []error{ErrUnknownPurpose}},
		{"unknown decision", func(r *Record) { r.Decision = "maybe" }, []error{ErrUnknownDecision}},
		{"care is not a consent pair", func(r *Record) { r.Purpose = Care }, []error{ErrInvalidPair}},
		{"identity for research is not a pair", func(r *Record) { r.Category = Identity; r.Purpose = Research }, []error{ErrInvalidPair}},
		{"missing method", func(r *Record) { r.Method = " " }, []error{ErrMissingMethod}},
		{"missing notice version", func(r *Record) { r.NoticeVersion = "" }, []error{ErrMissingNoticeVersion}},
		{"missing language", func(r *Record) { r.Language = "" }, []error{ErrMissingLanguage}},
		{"missing person", func(r *Record) { r.PersonID = "" }, []error{ErrMissingPersonID}},
		{"missing time", func(r *Record) { r.At = time.Time{} }, []error{ErrMissingTime}},
		{"expiry before time", func(r *Record) { r.ExpiresAt = r.At }, []error{ErrExpiryNotAfterTime}},
		{"own guardian", func(r *Record) { r.GuardianID = r.PersonID }, []error{ErrSelfGuardian}},
		{"several at once", func(r *Record) { r.Method = ""; r.Language = ""; r.Decision = "" },
			[]error{ErrUnknownDecision, ErrMissingMethod, ErrMissingLanguage}},
	}
	all := []error{ErrUnknownCategory, ErrUnknownPurpose, ErrUnknownDecision, ErrInvalidPair, ErrMissingPersonID,
		ErrMissingMethod, ErrMissingNoticeVersion, ErrMissingLanguage, ErrMissingTime, ErrExpiryNotAfterTime, ErrSelfGuardian}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mutate(&r)
			err := r.Validate()
			var got []error
			for _, s := range all {
				if errors.Is(err, s) {
					got = append(got, s)
				}
			}
			if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b error) bool { return a == b })); d != "" {
				t.Errorf("errors (-want +got):\n%s\nerr: %v", d, err)
			}
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field == "" {
					t.Errorf("error %v is not a *FieldError with a field", err)
				}
			}
		})
	}
}

func TestCheckGuardian(t *testing.T) {
	born := time.Date(2014, 6, 1, 0, 0, 0, 0, time.UTC) // 11 at t0
	tests := []struct {
		name     string
		r        Record
		birth    time.Time
		majority int
		want     error
	}{
		{"minor without guardian", rec(Identity, Registration, Granted, 0), born, 18, ErrGuardianRequired},
		{"minor with guardian", byGuardian(rec(Identity, Registration, Granted, 0), "g"), born, 18, nil},
		{"adult without guardian", rec(Identity, Registration, Granted, 0), adult().BirthDate, 18, nil},
		{"of age under a lower majority", rec(Identity, Registration, Granted, 0), born, 11, nil},
		{"minor under default majority", rec(Identity, Registration, Granted, 0), born, 0, ErrGuardianRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckGuardian(tt.r, tt.birth, tt.majority)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("CheckGuardian = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStateLatestWins(t *testing.T) {
	tests := []struct {
		name    string
		records []Record
		want    map[Pair]Record
	}{
		{"empty", nil, map[Pair]Record{}},
		{"later withdrawal wins", []Record{
			rec(Face, Verification, Granted, 0), rec(Face, Verification, Withdrawn, 1),
		}, map[Pair]Record{{Face, Verification}: rec(Face, Verification, Withdrawn, 1)}},
		{"later grant wins", []Record{
			rec(Face, Verification, Declined, 0), rec(Face, Verification, Granted, 2),
		}, map[Pair]Record{{Face, Verification}: rec(Face, Verification, Granted, 2)}},
		{"pairs are independent", []Record{
			rec(Face, Verification, Granted, 3), rec(Face, Deduplication, Declined, 1),
		}, map[Pair]Record{
			{Face, Verification}:  rec(Face, Verification, Granted, 3),
			{Face, Deduplication}: rec(Face, Deduplication, Declined, 1),
		}},
		{"tie: withdrawn beats granted", []Record{
			rec(Iris, Deduplication, Withdrawn, 0), rec(Iris, Deduplication, Granted, 0),
		}, map[Pair]Record{{Iris, Deduplication}: rec(Iris, Deduplication, Withdrawn, 0)}},
		{"tie: declined beats granted", []Record{
			rec(Iris, Deduplication, Granted, 0), rec(Iris, Deduplication, Declined, 0),
		}, map[Pair]Record{{Iris, Deduplication}: rec(Iris, Deduplication, Declined, 0)}},
		{"tie: the person beats a guardian", []Record{
			rec(Iris, Deduplication, Granted, 0), byGuardian(rec(Iris, Deduplication, Granted, 0), "g"),
		}, map[Pair]Record{{Iris, Deduplication}: rec(Iris, Deduplication, Granted, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 4 {
				rs := append([]Record(nil), tt.records...)
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				rng.Shuffle(len(rs), func(a, b int) { rs[a], rs[b] = rs[b], rs[a] })
				if d := cmp.Diff(tt.want, State(rs)); d != "" {
					t.Fatalf("order %v: state (-want +got):\n%s", rs, d)
				}
			}
		})
	}
}

func TestLaterIsATotalOrder(t *testing.T) {
	a := rec(Face, Verification, Granted, 0)
	variants := []Record{a}
	for _, m := range []func(*Record){
		func(r *Record) { r.Site = "site-b" },
		func(r *Record) { r.OperatorID = "op-2" },
		func(r *Record) { r.Method = "verbal" },
		func(r *Record) { r.ExpiresAt = r.At.Add(time.Hour) },
		func(r *Record) { r.Decision = Declined },
		func(r *Record) { r.GuardianID = "g" },
	} {
		r := a
		m(&r)
		variants = append(variants, r)
	}
	for i, x := range variants {
		for j, y := range variants {
			if i == j {
				if Later(x, y) {
					t.Errorf("Later(x, x) for %v", x)
				}
				continue
			}
			if Later(x, y) == Later(y, x) {
				t.Errorf("records %d and %d are not ordered: %v / %v", i, j, x, y)
			}
		}
	}
}

func TestPairsAreTheValidPairs(t *testing.T) {
	n := 0
	for _, c := range Categories {
		for _, p := range Purposes {
			if ValidPair(c, p) {
				n++
			}
		}
	}
	if got := len(Pairs()); got != n {
		t.Errorf("Pairs() has %d pairs, ValidPair accepts %d", got, n)
	}
}
