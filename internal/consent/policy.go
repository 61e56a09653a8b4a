package consent

import "time"

// Request is one intended access to one category of one person's data.
type Request struct {
	Role         Role
	OperatorSite string // the operator's site; recorded in the audit log, not a basis for access
	// Purpose declared by the operator (Assent-Purpose). May be empty only for
	// role Subject.
	Purpose  Purpose
	PersonID string // whose data
	Category Category
	Action   Action
	// SubjectPersonID is the authenticated person for role Subject (from the
	// portal session); ignored for other roles.
	SubjectPersonID string
}

// Person is what the store knows about the person a request is about.
type Person struct {
	Exists    bool      // a record (or tombstone) with this id exists
	Erased    bool      // only a tombstone remains
	BirthDate time.Time // zero when unknown
	// CareRetainedUntil is, for an erased person, the end of the period
	// the programme keeps their care data for (zero: not kept). Until
	// then a care role may read it for care, and nothing else.
	CareRetainedUntil time.Time
}

// Facts are everything Decide looks at besides the request. The caller loads
// them; Decide trusts them.
type Facts struct {
	Person Person
	// Records are the person's consent records, all of them, in any order.
	// Records of another person (PersonID differs from the request's) are
	// ignored. To decide the creation of a person, pass the consent records
	// about to be stored with the new person.
	Records []Record
	Now     time.Time
	Config  Config
}

// Reason is the stable code explaining a Verdict. Deny codes are public (they
// are the problem+json `code`); allow codes go to the audit log.
type Reason string

// Allow reasons.
const (
	ReasonConsentGranted    Reason = "consent_granted"    // a counting consent covers the access
	ReasonCareRelationship  Reason = "care_relationship"  // purpose care; consent plays no part
	ReasonOwnRecord         Reason = "own_record"         // the subject reading or acting on their own data
	ReasonRemoval           Reason = "removal"            // deleting needs no consent, only the role and purpose
	ReasonSubjectRequest    Reason = "subject_request"    // export for the person who asked; needs no consent
	ReasonConsentManagement Reason = "consent_management" // recording or listing answers; needs no consent
	ReasonCareRetention     Reason = "care_retention"     // an erased person's care data read for care within the retention period
	ReasonRoleOperation     Reason = "role_operation"     // an operation on no person's data that the role is given (DecideOperation)
)

// Deny reasons, with the HTTP status the lead maps them to.
const (
	ReasonInvalidRequest    Reason = "invalid_request"     // 400: unknown role, purpose, category or action, or no person id
	ReasonRoleNotAllowed    Reason = "role_not_allowed"    // 403: the role may not use this purpose
	ReasonPurposeNotAllowed Reason = "purpose_not_allowed" // 403: the purpose does not cover this category or action for this role
	ReasonNotOwnRecord      Reason = "not_own_record"      // 403: a subject asking about someone else
	ReasonNotFound          Reason = "not_found"           // 404: no such person
	ReasonErased            Reason = "erased"              // 410: the person was erased
	ReasonConsentMissing    Reason = "consent_missing"     // 403: no counting consent; Detail says why
)

// Details of ReasonConsentMissing (Verdict.Detail), for the audit log.
const (
	DetailNoRecord               = "no_record"                // never asked
	DetailDeclined               = "declined"                 // latest answer is declined
	DetailWithdrawn              = "withdrawn"                // latest answer is withdrawn
	DetailExpired                = "expired"                  // granted, but ExpiresAt has passed
	DetailGuardianLapsed         = "guardian_consent_lapsed"  // granted by a guardian; the person is now of age and has not re-affirmed
	DetailGivenWhileMinor        = "given_while_minor"        // granted by the person while a minor, without a guardian
	DetailNoDeduplicationBasis   = "no_deduplication_consent" // identity for deduplication: no biometric deduplication consent counts
	DetailNoRegistrationBasis    = "no_registration_consent"  // another category: identity/registration does not count, so no record is held
	DetailCategoryOutsidePurpose = "category"                 // purpose_not_allowed: the category is outside the purpose
	DetailActionOutsidePurpose   = "action"                   // purpose_not_allowed: the action is not allowed to this role
)

// Verdict is the answer of Decide.
type Verdict struct {
	Allow  bool   `json:"allow"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// access is the role x purpose x category table: the actions a role may take
// on a category when it declares a purpose. A (role, purpose) absent from the
// table is role_not_allowed; a category or action absent under a present
// (role, purpose) is purpose_not_allowed. docs/consent.md shows it as a table.
var access = map[Role]map[Purpose]map[Category][]Action{
	Registrar: {
		Registration: {
			Identity:    {Read, Write, Delete, Export, ManageConsent},
			Face:        onRequest,
			Fingerprint: onRequest,
			Iris:        onRequest,
			BloodType:   onRequest,
			DNA:         onRequest,
			Health:      onRequest,
		},
		Verification:  {Face: readWriteDelete, Fingerprint: readWriteDelete, Iris: readWriteDelete},
		Deduplication: {Face: readWriteDelete, Fingerprint: readWriteDelete, Iris: readWriteDelete, Identity: readOnly},
	},
	Clinician: {
		Care: {Identity: readOnly, Health: readWriteDelete, BloodType: readWriteDelete, DNA: readWriteDelete},
	},
	Verifier: {
		Verification: {Face: readOnly, Fingerprint: readOnly, Iris: readOnly},
	},
	Adjudicator: {
		// Cases (listing, reading both records, deciding "same" or
		// "different") are the adjudicate action, which no other role has:
		// a registrar deduplicating at enrolment never reads a case.
		Deduplication: {Face: {Read, Adjudicate}, Fingerprint: {Read, Adjudicate}, Iris: readOnly, Identity: {Read, Adjudicate}},
	},
	Researcher: {
		Research: {Health: readOnly, BloodType: readOnly, DNA: readOnly},
	},
	// Admin, Auditor and Manager: no personal data for any purpose.
}

var (
	readOnly        = []Action{Read}
	readWriteDelete = []Action{Read, Write, Delete}
	// onRequest: a registrar records a person's answers about any category,
	// and exports everything held for the person who asks.
	onRequest = []Action{Export, ManageConsent}
)

// RolePurposes lists, in the order of Purposes, the purposes role may declare
// for personal data. Subject (whose portal routes take no purpose), Admin,
// Auditor and Manager get none.
func RolePurposes(role Role) []Purpose {
	var out []Purpose
	for _, p := range Purposes {
		if _, ok := access[role][p]; ok {
			out = append(out, p)
		}
	}
	return out
}

// ActionsFor returns the actions role may take on category c under purpose p,
// before consent is considered (nil when none).
func ActionsFor(role Role, p Purpose, c Category) []Action { return access[role][p][c] }

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	for _, b := range Actions {
		if a == b {
			return true
		}
	}
	return false
}

// Decide is the policy: the one function deciding every access to personal
// data. It is pure (no clock, no I/O), deterministic, and safe for concurrent
// use. The checks run in this order, the first failing one giving the reason:
//
//  1. the request is well formed (invalid_request);
//  2. a subject may act only on their own record (not_own_record), and then on
//     every category of it for any purpose (own_record), unless erased;
//  3. the role may declare the purpose (role_not_allowed), and the purpose
//     covers the category and action for that role (purpose_not_allowed);
//  4. the person exists (not_found) and is not erased (erased); the
//     exceptions are a registrar writing identity for registration of a
//     person not yet created, which is decided on the consents passed in
//     Facts, and an erased person's care data for care: read until
//     Person.CareRetainedUntil (care_retention), deleted at any time
//     (removal);
//  5. the basis: care rests on the care relationship and never on consent
//     (care_relationship); a delete (removal), an export for the person who
//     asked (subject_request) and recording or listing consent answers
//     (consent_management) need no consent; any other access needs a
//     counting consent (consent_granted or consent_missing).
//
// Role and purpose checks come before existence, so a caller without the
// right role learns nothing about whether a person exists.
//
// A consent counts for (c, p) when the latest record of that pair (State) is
// granted, not expired at Now, given by a guardian only while the person is a
// minor at Now, and, when given by the person, given when they were of age.
// Identity is covered by identity/registration; for deduplication it needs in
// addition at least one counting biometric deduplication consent. Every other
// category needs its own (category, purpose) consent and, in addition, a
// counting identity/registration: without it the registry holds no record of
// the person, whatever the store still says (defence in depth against an
// erasure not yet carried out).
func Decide(req Request, facts Facts) Verdict {
	if !req.Role.Valid() || !req.Category.Valid() || !req.Action.Valid() || req.PersonID == "" ||
		(req.Purpose != "" && !req.Purpose.Valid()) || (req.Purpose == "" && req.Role != Subject) {
		return deny(ReasonInvalidRequest, "")
	}
	if req.Role == Subject {
		if req.SubjectPersonID == "" || req.SubjectPersonID != req.PersonID {
			return deny(ReasonNotOwnRecord, "")
		}
		if v, ok := existence(facts.Person); !ok {
			return v
		}
		return allow(ReasonOwnRecord)
	}
	byPurpose, ok := access[req.Role][req.Purpose]
	if !ok {
		return deny(ReasonRoleNotAllowed, "")
	}
	actions, ok := byPurpose[req.Category]
	if !ok {
		return deny(ReasonPurposeNotAllowed, DetailCategoryOutsidePurpose)
	}
	if !hasAction(actions, req.Action) {
		return deny(ReasonPurposeNotAllowed, DetailActionOutsidePurpose)
	}
	creating := !facts.Person.Exists && !facts.Person.Erased && req.Role == Registrar &&
		req.Purpose == Registration && req.Category == Identity && req.Action == Write
	if !creating {
		if facts.Person.Erased && req.Purpose == Care && req.Category.IsCare() {
			// The care data of an erased person, kept for the retention
			// period: readable for care until it ends; removable always.
			switch {
			case req.Action == Delete:
				return allow(ReasonRemoval)
			case req.Action == Read && facts.Now.Before(facts.Person.CareRetainedUntil):
				return allow(ReasonCareRetention)
			}
		}
		if v, ok := existence(facts.Person); !ok {
			return v
		}
	}
	if req.Purpose == Care {
		return allow(ReasonCareRelationship)
	}
	switch req.Action {
	case Delete:
		return allow(ReasonRemoval)
	case Export:
		return allow(ReasonSubjectRequest)
	case ManageConsent:
		return allow(ReasonConsentManagement)
	}
	state := stateOf(facts.Records, req.PersonID, func(p Pair) bool {
		return p.Category == req.Category && p.Purpose == req.Purpose ||
			p == Pair{Identity, Registration} ||
			req.Category == Identity && p.Purpose == Deduplication
	})
	cfg := facts.Config.WithDefaults()
	birth := facts.Person.BirthDate
	if req.Category == Identity {
		if ok, d := Counts(state, Pair{Identity, Registration}, birth, facts.Now, cfg); !ok {
			return deny(ReasonConsentMissing, d)
		}
		if req.Purpose == Deduplication {
			for _, c := range BiometricCategories {
				if ok, _ := Counts(state, Pair{c, Deduplication}, birth, facts.Now, cfg); ok {
					return allow(ReasonConsentGranted)
				}
			}
			return deny(ReasonConsentMissing, DetailNoDeduplicationBasis)
		}
		return allow(ReasonConsentGranted)
	}
	if ok, _ := Counts(state, Pair{Identity, Registration}, birth, facts.Now, cfg); !ok {
		return deny(ReasonConsentMissing, DetailNoRegistrationBasis)
	}
	if ok, d := Counts(state, Pair{req.Category, req.Purpose}, birth, facts.Now, cfg); !ok {
		return deny(ReasonConsentMissing, d)
	}
	return allow(ReasonConsentGranted)
}

// Counts reports whether the consent state for pair p counts at now for a
// person born on birthDate, and if not, why (one of the Detail constants).
// See Decide for the rule. cfg zero fields mean the defaults.
func Counts(state map[Pair]Record, p Pair, birthDate, now time.Time, cfg Config) (bool, string) {
	cfg = cfg.WithDefaults()
	rec, ok := state[p]
	switch {
	case !ok:
		return false, DetailNoRecord
	case rec.Decision == Declined:
		return false, DetailDeclined
	case rec.Decision != Granted:
		return false, DetailWithdrawn
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt):
		return false, DetailExpired
	case rec.ByGuardian() && !IsMinor(birthDate, now, cfg.AgeOfMajority):
		return false, DetailGuardianLapsed
	case !rec.ByGuardian() && IsMinor(birthDate, rec.At, cfg.AgeOfMajority):
		return false, DetailGivenWhileMinor
	}
	return true, ""
}

// stateOf is State restricted to the records of personID whose pair is
// wanted: the few pairs one decision looks at.
func stateOf(records []Record, personID string, want func(Pair) bool) map[Pair]Record {
	out := make(map[Pair]Record, 4)
	for _, rec := range records {
		k := rec.Pair()
		if rec.PersonID != personID || !want(k) {
			continue
		}
		if cur, ok := out[k]; !ok || Later(rec, cur) {
			out[k] = rec
		}
	}
	return out
}

func existence(p Person) (Verdict, bool) {
	switch {
	case p.Erased:
		return deny(ReasonErased, ""), false
	case !p.Exists:
		return deny(ReasonNotFound, ""), false
	}
	return Verdict{}, true
}

func ownRecords(records []Record, personID string) []Record {
	for _, rec := range records {
		if rec.PersonID != personID {
			out := make([]Record, 0, len(records))
			for _, rec := range records {
				if rec.PersonID == personID {
					out = append(out, rec)
				}
			}
			return out
		}
	}
	return records
}

func hasAction(as []Action, a Action) bool {
	for _, b := range as {
		if a == b {
			return true
		}
	}
	return false
}

func allow(r Reason) Verdict               { return Verdict{Allow: true, Reason: r} }
func deny(r Reason, detail string) Verdict { return Verdict{Allow: false, Reason: r, Detail: detail} }
