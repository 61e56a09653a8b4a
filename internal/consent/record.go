package consent

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Pair is one (category, purpose) question a person can be asked. It is the
// key of a consent state.
type Pair struct {
	Category Category `json:"category"`
	Purpose  Purpose  `json:"purpose"`
}

// String renders the pair as "category/purpose".
func (p Pair) String() string { return string(p.Category) + "/" + string(p.Purpose) }

// Pairs lists every valid consent pair in the stable order of Categories and
// PurposesFor.
func Pairs() []Pair {
	var out []Pair
	for _, c := range Categories {
		for _, p := range PurposesFor(c) {
			out = append(out, Pair{c, p})
		}
	}
	return out
}

// BiometricCategories are the categories holding biometric references.
var BiometricCategories = []Category{Face, Fingerprint, Iris}

// CareCategories are the categories a clinician writes under the care
// relationship. Their data is held for care whatever the person answered about
// research, so no consent answer ever erases them (see AfterWithdrawal).
var CareCategories = []Category{BloodType, DNA, Health}

// IsBiometric reports whether c is a biometric category.
func (c Category) IsBiometric() bool { return c == Face || c == Fingerprint || c == Iris }

// IsCare reports whether c is one of CareCategories.
func (c Category) IsCare() bool { return c == BloodType || c == DNA || c == Health }

// Sentinel errors of record validation. Validate wraps them in a *FieldError;
// test with errors.Is.
var (
	ErrUnknownCategory      = errors.New("unknown category")
	ErrUnknownPurpose       = errors.New("unknown purpose")
	ErrUnknownDecision      = errors.New("unknown decision")
	ErrInvalidPair          = errors.New("no consent can be recorded for this category and purpose")
	ErrMissingPersonID      = errors.New("person id is required")
	ErrMissingMethod        = errors.New("method is required")
	ErrMissingNoticeVersion = errors.New("notice version is required")
	ErrMissingLanguage      = errors.New("language is required")
	ErrMissingTime          = errors.New("time is required")
	ErrExpiryNotAfterTime   = errors.New("expiry must be after the time of the record")
	// ErrGuardianRequired: a consent given while the person is a minor names no
	// guardian. HTTP: 422 guardian_required.
	ErrGuardianRequired = errors.New("a consent given for a minor needs the guardian's person id")
	// ErrSelfGuardian: the guardian id is the person's own id.
	ErrSelfGuardian = errors.New("a person cannot be their own guardian")
)

// FieldError is a validation failure of one field of a Record. It wraps one
// of the sentinels above.
type FieldError struct {
	Field string // JSON name of the field, e.g. "notice_version"
	Value string // the offending value, for vocabulary errors; empty otherwise
	Err   error  // the sentinel
}

func (e *FieldError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("consent: validate: %s %q: %v", e.Field, e.Value, e.Err)
	}
	return fmt.Sprintf("consent: validate: %s: %v", e.Field, e.Err)
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// Record is one consent answer. Records are facts: they are appended, never
// changed; the latest record of a (category, purpose) is its state (see State).
//
// Record holds no personal data beyond ids: names and notices live elsewhere.
type Record struct {
	PersonID      string    `json:"person_id"`
	Category      Category  `json:"category"`
	Purpose       Purpose   `json:"purpose"`
	Decision      Decision  `json:"decision"`
	Method        string    `json:"method"`                // how the answer was collected, e.g. "paper", "verbal", "portal"
	NoticeVersion string    `json:"notice_version"`        // version of the information notice the person was given
	Language      string    `json:"language"`              // language of that notice (BCP 47 tag)
	OperatorID    string    `json:"operator_id"`           // who recorded it; empty when the subject did through the portal
	Site          string    `json:"site"`                  // where; empty for the portal
	GuardianID    string    `json:"guardian_id,omitempty"` // person id of the guardian who answered; empty when the person answered
	At            time.Time `json:"at"`
	// ExpiresAt is when a granted answer stops counting; the zero time means
	// never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Pair returns the record's (category, purpose).
func (r Record) Pair() Pair { return Pair{r.Category, r.Purpose} }

// ByGuardian reports whether a guardian gave this answer.
func (r Record) ByGuardian() bool { return r.GuardianID != "" }

// Validate checks a record on its own: closed vocabularies, a valid pair and
// the required fields. It returns nil or every problem found, joined; each is a
// *FieldError wrapping a sentinel (errors.Is(err, ErrInvalidPair), ...).
// Whether a guardian is needed depends on the person's age: see CheckGuardian.
func (r Record) Validate() error {
	var errs []error
	bad := func(field, value string, err error) { errs = append(errs, &FieldError{field, value, err}) }
	if strings.TrimSpace(r.PersonID) == "" {
		bad("person_id", "", ErrMissingPersonID)
	}
	catOK, purOK := r.Category.Valid(), r.Purpose.Valid()
	if !catOK {
		bad("category", string(r.Category), ErrUnknownCategory)
	}
	if !purOK {
		bad("purpose", string(r.Purpose), ErrUnknownPurpose)
	}
	if catOK && purOK && !ValidPair(r.Category, r.Purpose) {
		bad("purpose", string(r.Purpose), ErrInvalidPair)
	}
	if !r.Decision.Valid() {
		bad("decision", string(r.Decision), ErrUnknownDecision)
	}
	if strings.TrimSpace(r.Method) == "" {
		bad("method", "", ErrMissingMethod)
	}
	if strings.TrimSpace(r.NoticeVersion) == "" {
		bad("notice_version", "", ErrMissingNoticeVersion)
	}
	if strings.TrimSpace(r.Language) == "" {
		bad("language", "", ErrMissingLanguage)
	}
	if r.At.IsZero() {
		bad("at", "", ErrMissingTime)
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(r.At) {
		bad("expires_at", "", ErrExpiryNotAfterTime)
	}
	if r.GuardianID != "" && r.GuardianID == r.PersonID {
		bad("guardian_id", "", ErrSelfGuardian)
	}
	return errors.Join(errs...)
}

// CheckGuardian checks the age rule for a record about to be stored: a person
// who is a minor at r.At (see IsMinor) answers through a guardian, so
// r.GuardianID must be set (else ErrGuardianRequired). The caller must check
// separately that the guardian is a registered, living, adult person; this
// package has no store. An adult may still be answered for by a guardian (legal
// incapacity), but the policy does not count such answers once the person is
// an adult (see Decide).
func CheckGuardian(r Record, birthDate time.Time, ageOfMajority int) error {
	if IsMinor(birthDate, r.At, ageOfMajority) && r.GuardianID == "" {
		return &FieldError{Field: "guardian_id", Err: ErrGuardianRequired}
	}
	return nil
}

// Later reports whether a is the later of two records of the same pair, that
// is whether a supersedes b. The order is total and does not depend on input
// order: first At; at equal times the more protective decision wins (withdrawn,
// then declined, then granted); then an answer by the person over one by a
// guardian; then the remaining fields compared as strings. Two records equal
// in every field are interchangeable.
func Later(a, b Record) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	if ra, rb := decisionRank(a.Decision), decisionRank(b.Decision); ra != rb {
		return ra > rb
	}
	if a.ByGuardian() != b.ByGuardian() {
		return !a.ByGuardian()
	}
	return tieKey(a) > tieKey(b)
}

func decisionRank(d Decision) int {
	switch d {
	case Withdrawn:
		return 3
	case Declined:
		return 2
	case Granted:
		return 1
	}
	return 0
}

func tieKey(r Record) string {
	exp := ""
	if !r.ExpiresAt.IsZero() {
		exp = r.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return strings.Join([]string{string(r.Decision), r.GuardianID, r.PersonID, r.Method,
		r.NoticeVersion, r.Language, r.OperatorID, r.Site, exp}, "\x00")
}

// State returns the current state: for each (category, purpose) that has at
// least one record, the latest record by Later. Records are taken as they are
// (validate them before storing); the result does not depend on their order.
// Pass the records of one person: State does not look at PersonID.
func State(records []Record) map[Pair]Record {
	out := make(map[Pair]Record)
	for _, r := range records {
		k := r.Pair()
		if cur, ok := out[k]; !ok || Later(r, cur) {
			out[k] = r
		}
	}
	return out
}
