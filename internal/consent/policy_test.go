package consent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// everything grants every valid pair, as the person (an adult).
func everything() []Record {
	var rs []Record
	for _, p := range Pairs() {
		rs = append(rs, rec(p.Category, p.Purpose, Granted, 0))
	}
	return rs
}

// declineAll declines every valid pair.
func declineAll() []Record {
	var rs []Record
	for _, p := range Pairs() {
		rs = append(rs, rec(p.Category, p.Purpose, Declined, 0))
	}
	return rs
}

func TestDecide(t *testing.T) {
	now := t0.AddDate(0, 1, 0)
	minorBirth := time.Date(2012, 1, 10, 0, 0, 0, 0, time.UTC) // 14 at now
	// Of age since 2025-12-01, i.e. three months before t0.
	youngAdultBirth := time.Date(2007, 12, 1, 0, 0, 0, 0, time.UTC)
	req := func(role Role, p Purpose, c Category, a Action) Request {
		return Request{Role: role, OperatorSite: "site-a", Purpose: p, PersonID: pid, Category: c, Action: a}
	}
	facts := func(person Person, rs ...Record) Facts { return Facts{Person: person, Records: rs, Now: now} }
	reg := rec(Identity, Registration, Granted, 0)
	tests := []struct {
		name  string
		req   Request
		facts Facts
		want  Verdict
	}{
		// Roles and purposes.
		{"admin reads identity", req(Admin, Registration, Identity, Read), facts(adult(), everything()...),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"auditor reads health", req(Auditor, Research, Health, Read), facts(adult(), everything()...),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"clinician asks for research", req(Clinician, Research, Health, Read), facts(adult(), everything()...),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"researcher asks for care", req(Researcher, Care, Health, Read), facts(adult(), everything()...),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"verifier asks for deduplication", req(Verifier, Deduplication, Face, Read), facts(adult(), everything()...),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"clinician reads fingerprint for care", req(Clinician, Care, Fingerprint, Read), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailCategoryOutsidePurpose}},
		{"clinician writes identity for care", req(Clinician, Care, Identity, Write), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},
		{"verifier enrols a fingerprint", req(Verifier, Verification, Fingerprint, Write), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},
		{"verifier reads identity", req(Verifier, Verification, Identity, Read), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailCategoryOutsidePurpose}},
		{"researcher reads identity", req(Researcher, Research, Identity, Read), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailCategoryOutsidePurpose}},
		{"researcher writes health", req(Researcher, Research, Health, Write), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},

		// Care rests on the care relationship.
		{"exam for a person who declined everything", req(Clinician, Care, Health, Write), facts(adult(), declineAll()...),
			Verdict{true, ReasonCareRelationship, ""}},
		{"blood type read with no consent at all", req(Clinician, Care, BloodType, Read), facts(adult()),
			Verdict{true, ReasonCareRelationship, ""}},
		{"specimen custody written for care", req(Clinician, Care, DNA, Write), facts(adult(), declineAll()...),
			Verdict{true, ReasonCareRelationship, ""}},
		{"identity read for care after declines", req(Clinician, Care, Identity, Read), facts(adult(), declineAll()...),
			Verdict{true, ReasonCareRelationship, ""}},

		// Consent-based purposes.
		{"research read without consent", req(Researcher, Research, Health, Read), facts(adult(), reg),
			Verdict{false, ReasonConsentMissing, DetailNoRecord}},
		{"research read with consent", req(Researcher, Research, Health, Read), facts(adult(), reg, rec(Health, Research, Granted, 0)),
			Verdict{true, ReasonConsentGranted, ""}},
		{"research consent for one category only", req(Researcher, Research, DNA, Read), facts(adult(), reg, rec(Health, Research, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailNoRecord}},
		{"fingerprint verification declined", req(Registrar, Verification, Fingerprint, Read), facts(adult(), reg, rec(Fingerprint, Verification, Declined, 0)),
			Verdict{false, ReasonConsentMissing, DetailDeclined}},
		{"fingerprint verification withdrawn", req(Verifier, Verification, Fingerprint, Read), facts(adult(), reg,
			rec(Fingerprint, Verification, Granted, 0), rec(Fingerprint, Verification, Withdrawn, 2)),
			Verdict{false, ReasonConsentMissing, DetailWithdrawn}},
		{"granted for verification only, used for deduplication", req(Registrar, Deduplication, Iris, Read), facts(adult(), reg, rec(Iris, Verification, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailNoRecord}},
		{"expired grant", req(Verifier, Verification, Face, Read), facts(adult(), reg, expiring(rec(Face, Verification, Granted, 0), now)),
			Verdict{false, ReasonConsentMissing, DetailExpired}},
		{"unexpired grant", req(Verifier, Verification, Face, Read), facts(adult(), reg, expiring(rec(Face, Verification, Granted, 0), now.Add(time.Second))),
			Verdict{true, ReasonConsentGranted, ""}},
		{"registrar reads identity with registration", req(Registrar, Registration, Identity, Read), facts(adult(), rec(Identity, Registration, Granted, 0)),
			Verdict{true, ReasonConsentGranted, ""}},
		{"adjudicator reads identity with a deduplication consent", req(Adjudicator, Deduplication, Identity, Read),
			facts(adult(), rec(Identity, Registration, Granted, 0), rec(Fingerprint, Deduplication, Granted, 0)),
			Verdict{true, ReasonConsentGranted, ""}},
		{"adjudicator reads identity without a deduplication consent", req(Adjudicator, Deduplication, Identity, Read),
			facts(adult(), rec(Identity, Registration, Granted, 0), rec(Fingerprint, Verification, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailNoDeduplicationBasis}},
		{"records of another person do not count", req(Researcher, Research, Health, Read),
			facts(adult(), reg, func() Record { r := rec(Health, Research, Granted, 0); r.PersonID = "other"; return r }()),
			Verdict{false, ReasonConsentMissing, DetailNoRecord}},
		{"biometric grant without registration", req(Verifier, Verification, Face, Read), facts(adult(), rec(Face, Verification, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailNoRegistrationBasis}},
		{"biometric grant after registration withdrawn", req(Verifier, Verification, Face, Read),
			facts(adult(), reg, rec(Face, Verification, Granted, 0), rec(Identity, Registration, Withdrawn, 1)),
			Verdict{false, ReasonConsentMissing, DetailNoRegistrationBasis}},
		{"delete needs no consent", req(Registrar, Verification, Fingerprint, Delete), facts(adult(), rec(Fingerprint, Verification, Withdrawn, 0)),
			Verdict{true, ReasonRemoval, ""}},

		// Minors.
		{"guardian grant for a minor counts", req(Verifier, Verification, Fingerprint, Read),
			facts(Person{Exists: true, BirthDate: minorBirth}, byGuardian(reg, "g"), byGuardian(rec(Fingerprint, Verification, Granted, 0), "g")),
			Verdict{true, ReasonConsentGranted, ""}},
		{"own grant by a minor does not count", req(Verifier, Verification, Fingerprint, Read),
			facts(Person{Exists: true, BirthDate: minorBirth}, byGuardian(reg, "g"), rec(Fingerprint, Verification, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailGivenWhileMinor}},
		{"guardian grant lapses at majority", req(Verifier, Verification, Fingerprint, Read),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, reg, byGuardian(rec(Fingerprint, Verification, Granted, -200), "g")),
			Verdict{false, ReasonConsentMissing, DetailGuardianLapsed}},
		{"re-affirmed after majority", req(Verifier, Verification, Fingerprint, Read),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, reg,
				byGuardian(rec(Fingerprint, Verification, Granted, -200), "g"), rec(Fingerprint, Verification, Granted, 1)),
			Verdict{true, ReasonConsentGranted, ""}},
		{"re-affirmed biometric but not registration", req(Verifier, Verification, Fingerprint, Read),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, byGuardian(rec(Identity, Registration, Granted, -200), "g"),
				byGuardian(rec(Fingerprint, Verification, Granted, -200), "g"), rec(Fingerprint, Verification, Granted, 1)),
			Verdict{false, ReasonConsentMissing, DetailNoRegistrationBasis}},
		{"guardian-given registration lapses too", req(Registrar, Registration, Identity, Read),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, byGuardian(rec(Identity, Registration, Granted, -200), "g")),
			Verdict{false, ReasonConsentMissing, DetailGuardianLapsed}},
		{"care for a young adult whose guardian consents lapsed", req(Clinician, Care, Health, Write),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, byGuardian(rec(Health, Research, Granted, -200), "g")),
			Verdict{true, ReasonCareRelationship, ""}},

		// Recording answers and exports need no consent.
		{"registrar records a re-affirmation after guardian consent lapsed", req(Registrar, Registration, Fingerprint, ManageConsent),
			facts(Person{Exists: true, BirthDate: youngAdultBirth}, byGuardian(rec(Identity, Registration, Granted, -200), "g")),
			Verdict{true, ReasonConsentManagement, ""}},
		{"registrar records a withdrawal after declines", req(Registrar, Registration, Identity, ManageConsent), facts(adult(), declineAll()...),
			Verdict{true, ReasonConsentManagement, ""}},
		{"clinician cannot record answers", req(Clinician, Care, Health, ManageConsent), facts(adult()),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},
		{"registrar exports exams for the person who asks", req(Registrar, Registration, Health, Export), facts(adult(), declineAll()...),
			Verdict{true, ReasonSubjectRequest, ""}},
		{"registrar export needs purpose registration", req(Registrar, Verification, Fingerprint, Export), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},
		{"researcher cannot export", req(Researcher, Research, Health, Export), facts(adult(), everything()...),
			Verdict{false, ReasonPurposeNotAllowed, DetailActionOutsidePurpose}},
		{"no export of an erased person", req(Registrar, Registration, Identity, Export), facts(Person{Exists: true, Erased: true}),
			Verdict{false, ReasonErased, ""}},
		{"subject exports own record", Request{Role: Subject, PersonID: pid, SubjectPersonID: pid, Category: Iris, Action: Export},
			facts(adult()), Verdict{true, ReasonOwnRecord, ""}},

		// Existence.
		{"erased person", req(Clinician, Care, Health, Read), facts(Person{Exists: true, Erased: true}),
			Verdict{false, ReasonErased, ""}},
		{"unknown person", req(Clinician, Care, Health, Read), facts(Person{}),
			Verdict{false, ReasonNotFound, ""}},
		{"role is checked before existence", req(Admin, Registration, Identity, Read), facts(Person{Exists: true, Erased: true}),
			Verdict{false, ReasonRoleNotAllowed, ""}},
		{"registration of a new person with consent", req(Registrar, Registration, Identity, Write),
			facts(Person{}, rec(Identity, Registration, Granted, 0)),
			Verdict{true, ReasonConsentGranted, ""}},
		{"registration of a new person without consent", req(Registrar, Registration, Identity, Write),
			facts(Person{}, rec(Identity, Registration, Declined, 0)),
			Verdict{false, ReasonConsentMissing, DetailDeclined}},
		{"registration of a new minor with own consent", req(Registrar, Registration, Identity, Write),
			facts(Person{BirthDate: minorBirth}, rec(Identity, Registration, Granted, 0)),
			Verdict{false, ReasonConsentMissing, DetailGivenWhileMinor}},
		{"no re-registration of an erased id", req(Registrar, Registration, Identity, Write),
			facts(Person{Exists: true, Erased: true}, rec(Identity, Registration, Granted, 0)),
			Verdict{false, ReasonErased, ""}},
		{"biometrics of a person not yet created", req(Registrar, Deduplication, Fingerprint, Write),
			facts(Person{}, everything()...),
			Verdict{false, ReasonNotFound, ""}},

		// The subject.
		{"subject reads own fingerprint record", Request{Role: Subject, PersonID: pid, SubjectPersonID: pid, Category: Fingerprint, Action: Read},
			facts(adult(), declineAll()...), Verdict{true, ReasonOwnRecord, ""}},
		{"subject withdraws (writes) own consent", Request{Role: Subject, PersonID: pid, SubjectPersonID: pid, Category: Identity, Action: Write},
			facts(adult()), Verdict{true, ReasonOwnRecord, ""}},
		{"subject reads someone else", Request{Role: Subject, PersonID: pid, SubjectPersonID: "someone-else", Category: Identity, Action: Read},
			facts(adult(), everything()...), Verdict{false, ReasonNotOwnRecord, ""}},
		{"subject without a session person", Request{Role: Subject, PersonID: pid, Category: Identity, Action: Read},
			facts(adult()), Verdict{false, ReasonNotOwnRecord, ""}},
		{"subject of an erased record", Request{Role: Subject, PersonID: pid, SubjectPersonID: pid, Category: Identity, Action: Read},
			facts(Person{Exists: true, Erased: true}), Verdict{false, ReasonErased, ""}},

		// Malformed requests.
		{"unknown role", req("statistician", Research, Health, Read), facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
		{"unknown category", req(Clinician, Care, "religion", Read), facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
		{"unknown action", req(Clinician, Care, Health, "bulk_export"), facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
		{"operator without a purpose", req(Clinician, "", Health, Read), facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
		{"unknown purpose", req(Clinician, "marketing", Health, Read), facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
		{"no person id", Request{Role: Clinician, Purpose: Care, Category: Health, Action: Read}, facts(adult()), Verdict{false, ReasonInvalidRequest, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Decide(tt.req, tt.facts)); d != "" {
				t.Errorf("Decide (-want +got):\n%s", d)
			}
		})
	}
}

// accessTable is the role x purpose x category table of docs/consent.md,
// written out independently of the code: "role purpose category actions",
// actions as letters (see TestDecideMatrix).
const accessTable = `
registrar   registration  identity     rwdem
registrar   registration  face         em
registrar   registration  fingerprint  em
registrar   registration  iris         em
registrar   registration  blood_type   em
registrar   registration  dna          em
registrar   registration  health       em
registrar   verification  face         rwd
registrar   verification  fingerprint  rwd
registrar   verification  iris         rwd
registrar   deduplication face         rwd
registrar   deduplication fingerprint  rwd
registrar   deduplication iris         rwd
registrar   deduplication identity     r
clinician   care          identity     r
clinician   care          health       rwd
clinician   care          blood_type   rwd
clinician   care          dna          rwd
verifier    verification  face         r
verifier    verification  fingerprint  r
verifier    verification  iris         r
adjudicator deduplication face         ra
adjudicator deduplication fingerprint  ra
adjudicator deduplication iris         r
adjudicator deduplication identity     ra
researcher  research      health       r
researcher  research      blood_type   r
researcher  research      dna          r
`

// TestDecideMatrix walks every role x purpose x category x action, once with
// every consent granted and once with every consent declined, against the
// written-out table. Letters: r read, w write, d delete, e export, m
// manage_consent, a adjudicate.
func TestDecideMatrix(t *testing.T) {
	allowed := make(map[string]bool)
	for _, line := range strings.Split(strings.TrimSpace(accessTable), "\n") {
		f := strings.Fields(line)
		for _, a := range f[3] {
			act := map[rune]Action{'r': Read, 'w': Write, 'd': Delete, 'e': Export, 'm': ManageConsent, 'a': Adjudicate}[a]
			allowed[fmt.Sprint(f[0], f[1], f[2], act)] = true
		}
	}
	roles := append(append([]Role(nil), OperatorRoles...), Subject)
	now := t0.AddDate(0, 0, 1)
	for _, role := range roles {
		for _, p := range append([]Purpose{""}, Purposes...) {
			for _, c := range Categories {
				for _, a := range Actions {
					name := fmt.Sprintf("%s/%s/%s/%s", role, p, c, a)
					t.Run(name, func(t *testing.T) {
						req := Request{Role: role, Purpose: p, PersonID: pid, Category: c, Action: a, SubjectPersonID: pid}
						inTable := allowed[fmt.Sprint(role, p, c, a)]
						granted := Decide(req, Facts{Person: adult(), Records: everything(), Now: now})
						declined := Decide(req, Facts{Person: adult(), Records: declineAll(), Now: now})
						var wantGranted, wantDeclined bool
						switch {
						case role == Subject:
							wantGranted, wantDeclined = true, true
						case inTable:
							wantGranted = true
							wantDeclined = p == Care || a == Delete || a == Export || a == ManageConsent
						}
						if granted.Allow != wantGranted || declined.Allow != wantDeclined {
							t.Errorf("allow with all granted = %v (%v), want %v; with all declined = %v (%v), want %v",
								granted.Allow, granted, wantGranted, declined.Allow, declined, wantDeclined)
						}
						if role != Subject && !inTable && p != "" {
							if granted.Reason != ReasonRoleNotAllowed && granted.Reason != ReasonPurposeNotAllowed {
								t.Errorf("deny reason %q, want role_not_allowed or purpose_not_allowed", granted.Reason)
							}
						}
						if hasAction(ActionsFor(role, p, c), a) != inTable {
							t.Errorf("ActionsFor(%s, %s, %s) = %v disagrees with the table", role, p, c, ActionsFor(role, p, c))
						}
					})
				}
			}
		}
	}
}

func TestRolePurposes(t *testing.T) {
	want := map[Role][]Purpose{
		Admin:       nil,
		Registrar:   {Registration, Verification, Deduplication},
		Clinician:   {Care},
		Verifier:    {Verification},
		Adjudicator: {Deduplication},
		Researcher:  {Research},
		Auditor:     nil,
		Manager:     nil,
		Subject:     nil,
	}
	got := make(map[Role][]Purpose)
	for r := range want {
		got[r] = RolePurposes(r)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RolePurposes (-want +got):\n%s", d)
	}
}

func BenchmarkDecide(b *testing.B) {
	rs := everything()
	for i := range 40 { // a long history: 40 more changes of mind
		p := Pairs()[i%len(Pairs())]
		rs = append(rs, rec(p.Category, p.Purpose, []Decision{Withdrawn, Granted}[i%2], i+1))
	}
	facts := Facts{Person: adult(), Records: rs, Now: t0.AddDate(0, 2, 0)}
	req := Request{Role: Verifier, Purpose: Verification, PersonID: pid, Category: Fingerprint, Action: Read}
	for b.Loop() {
		_ = Decide(req, facts)
	}
}
