package consent

// The closed vocabularies of DESIGN.md. Every value that crosses the API is
// checked against these lists; nothing else is accepted.

// Category is a kind of personal data.
type Category string

const (
	Identity    Category = "identity"
	Face        Category = "face"
	Fingerprint Category = "fingerprint"
	Iris        Category = "iris"
	BloodType   Category = "blood_type"
	DNA         Category = "dna"
	Health      Category = "health"
)

// Categories lists every category in a stable order.
var Categories = []Category{Identity, Face, Fingerprint, Iris, BloodType, DNA, Health}

// Purpose is why personal data is read or written.
type Purpose string

const (
	Registration  Purpose = "registration"
	Care          Purpose = "care"
	Verification  Purpose = "verification"
	Deduplication Purpose = "deduplication"
	Research      Purpose = "research"
)

// Purposes lists every purpose in a stable order.
var Purposes = []Purpose{Registration, Care, Verification, Deduplication, Research}

// Decision is a person's answer for one (category, purpose).
type Decision string

const (
	Granted   Decision = "granted"
	Declined  Decision = "declined"
	Withdrawn Decision = "withdrawn"
)

// Role is an operator's (or the subject's) role.
type Role string

const (
	Admin       Role = "admin"
	Registrar   Role = "registrar"
	Clinician   Role = "clinician"
	Verifier    Role = "verifier"
	Adjudicator Role = "adjudicator"
	Researcher  Role = "researcher"
	Auditor     Role = "auditor"
	// Manager runs the programme: aggregate reports only, no personal data.
	Manager Role = "manager"
	Subject Role = "subject"
)

// OperatorRoles are the roles an API key can carry (subject comes from the portal).
var OperatorRoles = []Role{Admin, Registrar, Clinician, Verifier, Adjudicator, Researcher, Auditor, Manager}

// Action is what an access does with the data.
type Action string

const (
	Read   Action = "read"
	Write  Action = "write"
	Delete Action = "delete"
	// Export is a copy of everything held about one person, made at that
	// person's request (subject access). Never more than one person.
	Export Action = "export"
	// ManageConsent is recording or listing a person's consent answers. It
	// never needs consent itself: a withdrawal must always be possible.
	ManageConsent Action = "manage_consent"
	// Adjudicate is reading and deciding a possible-duplicate case: both
	// records side by side, and the verdict. It is the adjudicator's alone.
	Adjudicate Action = "adjudicate"
)

// Actions lists every action in a stable order.
var Actions = []Action{Read, Write, Delete, Export, ManageConsent, Adjudicate}

// consentPairs are the (category, purpose) pairs a person can be asked about.
// Care is absent on purpose: it rests on the care relationship, not on consent.
var consentPairs = map[Category][]Purpose{
	Identity:    {Registration},
	Face:        {Verification, Deduplication},
	Fingerprint: {Verification, Deduplication},
	Iris:        {Verification, Deduplication},
	BloodType:   {Research},
	DNA:         {Research},
	Health:      {Research},
}

// ValidPair reports whether consent can be recorded for (c, p).
func ValidPair(c Category, p Purpose) bool {
	for _, q := range consentPairs[c] {
		if q == p {
			return true
		}
	}
	return false
}

// PurposesFor returns the purposes a person can consent to for c.
func PurposesFor(c Category) []Purpose { return consentPairs[c] }

// Valid reports whether c is a known category.
func (c Category) Valid() bool { _, ok := consentPairs[c]; return ok }

// Valid reports whether p is a known purpose.
func (p Purpose) Valid() bool {
	for _, q := range Purposes {
		if q == p {
			return true
		}
	}
	return false
}

// Valid reports whether d is a known decision.
func (d Decision) Valid() bool { return d == Granted || d == Declined || d == Withdrawn }

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	if r == Subject {
		return true
	}
	for _, q := range OperatorRoles {
		if q == r {
			return true
		}
	}
	return false
}
