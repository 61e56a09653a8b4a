package consent

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// The invariants of docs/consent.md, checked on random consent histories.

// history is a random person and consent history. Records are generated in
// strictly increasing time, so the last generated record of a pair is, by
// construction, its latest; the slice handed to Decide is shuffled.
type history struct {
	person   Person
	now      time.Time
	majority int
	ordered  []Record // in generation (time) order
	shuffled []Record
}

// pairGen favours identity/registration and the biometric pairs, which the
// invariants are about, over the research pairs.
var pairGen = rapid.OneOf(
	rapid.Just(Pair{Identity, Registration}),
	rapid.SampledFrom([]Pair{{Face, Verification}, {Face, Deduplication}, {Fingerprint, Verification},
		{Fingerprint, Deduplication}, {Iris, Verification}, {Iris, Deduplication}}),
	rapid.SampledFrom(Pairs()),
)

func drawHistory(t *rapid.T) history {
	majority := rapid.SampledFrom([]int{0, 16, 18, 21}).Draw(t, "majority")
	start := t0.AddDate(-25, 0, 0)
	birth := start.AddDate(0, 0, -rapid.IntRange(0, 30*365).Draw(t, "ageAtStartDays"))
	n := rapid.IntRange(0, 25).Draw(t, "records")
	at := start
	var rs []Record
	for i := range n {
		at = at.Add(time.Duration(rapid.IntRange(1, 24*365).Draw(t, fmt.Sprint("gapHours", i))) * time.Hour)
		p := pairGen.Draw(t, fmt.Sprint("pair", i))
		r := Record{
			PersonID: pid, Category: p.Category, Purpose: p.Purpose,
			Decision: rapid.SampledFrom([]Decision{Granted, Granted, Declined, Withdrawn}).Draw(t, fmt.Sprint("decision", i)),
			Method:   "paper", NoticeVersion: "v1", Language: "en", Site: "s", At: at,
		}
		// Mostly as CheckGuardian enforces (a guardian answers for a minor),
		// sometimes against it, as data from elsewhere might be.
		guardian := IsMinor(birth, at, majority)
		if rapid.IntRange(0, 4).Draw(t, fmt.Sprint("breakGuardianRule", i)) == 0 {
			guardian = !guardian
		}
		if guardian {
			r.GuardianID = "guardian"
		}
		if rapid.IntRange(0, 3).Draw(t, fmt.Sprint("expires", i)) == 0 {
			r.ExpiresAt = at.AddDate(0, 0, rapid.IntRange(1, 3*365).Draw(t, fmt.Sprint("expiryDays", i)))
		}
		rs = append(rs, r)
	}
	if rapid.Bool().Draw(t, "registeredLast") {
		// Often the registration is (re-)affirmed last, so that the biometric
		// answers decide.
		at = at.Add(time.Hour)
		r := Record{PersonID: pid, Category: Identity, Purpose: Registration, Decision: Granted,
			Method: "paper", NoticeVersion: "v1", Language: "en", Site: "s", At: at}
		if IsMinor(birth, at, majority) {
			r.GuardianID = "guardian"
		}
		rs = append(rs, r)
	}
	now := at.Add(time.Duration(rapid.IntRange(0, 5*365*24).Draw(t, "nowAfterLastHours")) * time.Hour)
	var shuffled []Record
	if len(rs) > 0 {
		shuffled = rapid.Permutation(rs).Draw(t, "order")
	}
	return history{
		person:   Person{Exists: true, BirthDate: birth},
		now:      now,
		majority: majority,
		ordered:  rs,
		shuffled: shuffled,
	}
}

func (h history) facts(records []Record) Facts {
	return Facts{Person: h.person, Records: records, Now: h.now, Config: Config{AgeOfMajority: h.majority}}
}

// ageYears counts whole years from birth to t, by calendar, independently of
// IsMinor (a 29 February birthday falls on 1 March in common years).
func ageYears(birth, t time.Time) int {
	by, bm, bd := birth.UTC().Date()
	ty, tm, td := t.UTC().Date()
	if bm == time.February && bd == 29 && !isLeap(ty) {
		bm, bd = time.March, 1
	}
	age := ty - by
	if tm < bm || (tm == bm && td < bd) {
		age--
	}
	return age
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// TestPropertyCareNeverDependsOnConsent: (a) recording and reading exams
// (health, blood type), specimen custody (dna) and reading identity by a
// clinician for care is allowed for every living registered person whatever
// their consent history, and gives the same verdict as with no records at all.
func TestPropertyCareNeverDependsOnConsent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		cases := []struct {
			c Category
			a Action
		}{{Health, Write}, {Health, Read}, {BloodType, Write}, {BloodType, Read}, {DNA, Write}, {DNA, Read}, {Identity, Read}}
		for _, tc := range cases {
			req := Request{Role: Clinician, OperatorSite: "s", Purpose: Care, PersonID: pid, Category: tc.c, Action: tc.a}
			with := Decide(req, h.facts(h.shuffled))
			without := Decide(req, h.facts(nil))
			want := Verdict{Allow: true, Reason: ReasonCareRelationship}
			if with != want || without != want {
				t.Fatalf("%s %s for care: with history %v, without %v; want %v", tc.a, tc.c, with, without, want)
			}
		}
	})
}

// TestPropertyBiometricReadIffLatestGrantCounts: (b) a biometric read is
// allowed iff the latest decision for that category and purpose counts, and
// so does the latest decision for identity/registration. A decision counts
// when it is granted, not expired at now, and: if given by a guardian, the
// person is still a minor; if given by the person, they were of age when they
// gave it.
func TestPropertyBiometricReadIffLatestGrantCounts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		majority := h.majority
		if majority == 0 {
			majority = 18
		}
		latest := make(map[Pair]Record)
		for _, r := range h.ordered {
			latest[r.Pair()] = r
		}
		for _, c := range []Category{Face, Fingerprint, Iris} {
			for _, p := range []Purpose{Verification, Deduplication} {
				l, ok := latest[Pair{c, p}]
				counts := func(l Record, ok bool) bool {
					return ok && l.Decision == Granted &&
						(l.ExpiresAt.IsZero() || h.now.Before(l.ExpiresAt)) &&
						(l.GuardianID == "" || ageYears(h.person.BirthDate, h.now) < majority) &&
						(l.GuardianID != "" || ageYears(h.person.BirthDate, l.At) >= majority)
				}
				reg, regOK := latest[Pair{Identity, Registration}]
				want := counts(l, ok) && counts(reg, regOK)
				roles := map[Purpose][]Role{Verification: {Registrar, Verifier}, Deduplication: {Registrar, Adjudicator}}[p]
				for _, role := range roles {
					req := Request{Role: role, Purpose: p, PersonID: pid, Category: c, Action: Read}
					got := Decide(req, h.facts(h.shuffled))
					if got.Allow != want {
						t.Fatalf("%s reads %s for %s: got %v, want allow=%v; latest %+v (present %v), born %s, now %s",
							role, c, p, got, want, l, ok, h.person.BirthDate.Format(time.DateOnly), h.now.Format(time.DateOnly))
					}
					if !got.Allow && got.Reason != ReasonConsentMissing {
						t.Fatalf("denied with %q, want consent_missing", got.Reason)
					}
				}
			}
		}
	})
}

// TestPropertyOrderDoesNotMatter: State and Decide do not depend on the order
// of the records, even with many records at the same instant.
func TestPropertyOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 20).Draw(t, "n")
		var rs []Record
		for i := range n {
			p := rapid.SampledFrom(Pairs()).Draw(t, fmt.Sprint("pair", i))
			r := rec(p.Category, p.Purpose, rapid.SampledFrom([]Decision{Granted, Declined, Withdrawn}).Draw(t, fmt.Sprint("d", i)),
				rapid.IntRange(0, 2).Draw(t, fmt.Sprint("day", i))) // few instants: many ties
			if rapid.Bool().Draw(t, fmt.Sprint("g", i)) {
				r.GuardianID = "g"
			}
			r.Site = rapid.SampledFrom([]string{"a", "b"}).Draw(t, fmt.Sprint("site", i))
			rs = append(rs, r)
		}
		var perm []Record
		if n > 0 {
			perm = rapid.Permutation(rs).Draw(t, "perm")
		}
		if d := cmp.Diff(State(rs), State(perm)); d != "" {
			t.Fatalf("State depends on order:\n%s", d)
		}
		now := t0.AddDate(0, 0, 3)
		for _, pr := range Pairs() {
			role := map[Purpose]Role{Registration: Registrar, Verification: Verifier, Deduplication: Adjudicator, Research: Researcher}[pr.Purpose]
			req := Request{Role: role, Purpose: pr.Purpose, PersonID: pid, Category: pr.Category, Action: Read}
			f := Facts{Person: adult(), Now: now}
			f.Records = rs
			a := Decide(req, f)
			f.Records = perm
			if b := Decide(req, f); a != b {
				t.Fatalf("Decide depends on order for %s: %v vs %v", pr, a, b)
			}
		}
	})
}

// TestPropertyErasedCategoryIsNotReadable: after a withdrawal that erases a
// category, no consent-based read of that category is allowed any more.
func TestPropertyErasedCategoryIsNotReadable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		p := rapid.SampledFrom(Pairs()).Draw(t, "withdraw")
		w := Record{PersonID: pid, Category: p.Category, Purpose: p.Purpose, Decision: Withdrawn,
			Method: "portal", NoticeVersion: "v1", Language: "en", At: h.now}
		erase, person := AfterWithdrawal(h.shuffled, w)
		after := append(append([]Record(nil), h.shuffled...), w)
		if person != (p.Category == Identity) {
			t.Fatalf("withdrawing %s: erasePerson = %v", p, person)
		}
		for _, c := range erase {
			if c.IsCare() && !person {
				t.Fatalf("care category %s erased by withdrawing %s", c, p)
			}
			for _, q := range PurposesFor(c) {
				role := map[Purpose]Role{Registration: Registrar, Verification: Verifier, Deduplication: Adjudicator, Research: Researcher}[q]
				req := Request{Role: role, Purpose: q, PersonID: pid, Category: c, Action: Read}
				if v := Decide(req, h.facts(after)); v.Allow {
					t.Fatalf("%s erased after withdrawing %s, yet %s may read it for %s: %v", c, p, role, q, v)
				}
			}
		}
	})
}

// TestPropertyCasesAreTheAdjudicators: reading or deciding a possible
// duplicate (the adjudicate action) is denied to every role but the
// adjudicator, whatever the person's consents, the purpose or the category;
// the adjudicator is allowed it only for deduplication, on identity, face and fingerprint,
// and then exactly when a read for deduplication would be.
func TestPropertyCasesAreTheAdjudicators(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		role := rapid.SampledFrom(OperatorRoles).Draw(t, "role")
		p := rapid.SampledFrom(Purposes).Draw(t, "purpose")
		c := rapid.SampledFrom(Categories).Draw(t, "category")
		req := Request{Role: role, Purpose: p, PersonID: pid, Category: c, Action: Adjudicate}
		got := Decide(req, h.facts(h.shuffled))
		if role != Adjudicator || p != Deduplication || (c != Identity && c != Face && c != Fingerprint) {
			if got.Allow || (got.Reason != ReasonRoleNotAllowed && got.Reason != ReasonPurposeNotAllowed) {
				t.Fatalf("%s adjudicates %s for %s: %v, want role_not_allowed or purpose_not_allowed", role, c, p, got)
			}
			return
		}
		read := req
		read.Action = Read
		if want := Decide(read, h.facts(h.shuffled)); got != want {
			t.Fatalf("adjudicate %s: %v, but a read for deduplication gives %v", c, got, want)
		}
	})
}

// TestPropertyRetainedCareDataIsForCareOnly: an erased person's data is
// refused to every role, purpose, category and action, except their care
// data read for care before the retention period ends and deleted at any
// time (issue 12, item 5).
func TestPropertyRetainedCareDataIsForCareOnly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		role := rapid.SampledFrom(OperatorRoles).Draw(t, "role")
		p := rapid.SampledFrom(Purposes).Draw(t, "purpose")
		c := rapid.SampledFrom(Categories).Draw(t, "category")
		a := rapid.SampledFrom(Actions).Draw(t, "action")
		erasedAgoDays := rapid.IntRange(0, 400).Draw(t, "erasedAgoDays")
		retentionDays := rapid.IntRange(0, 365).Draw(t, "retentionDays")
		until := time.Time{}
		if retentionDays > 0 {
			until = h.now.AddDate(0, 0, retentionDays-erasedAgoDays)
		}
		f := h.facts(h.shuffled)
		f.Person = Person{Exists: true, Erased: true, BirthDate: h.person.BirthDate, CareRetainedUntil: until}
		got := Decide(Request{Role: role, Purpose: p, PersonID: pid, Category: c, Action: a}, f)
		inTable := hasAction(ActionsFor(role, p, c), a)
		var want bool
		switch {
		case !inTable || p != Care || !c.IsCare():
		case a == Delete:
			want = true
		case a == Read:
			want = h.now.Before(until)
		}
		if got.Allow != want {
			t.Fatalf("%s %s %s for %s, erased %d days ago, retention %d days: %v, want allow=%v", role, a, c, p, erasedAgoDays, retentionDays, got, want)
		}
		if !got.Allow && inTable && got.Reason != ReasonErased {
			t.Fatalf("refused with %q, want erased", got.Reason)
		}
	})
}

// TestPropertyManagerReadsNothingPersonal: a programme manager is refused
// every access to every category of every person, for any purpose and
// action, whatever the person's consents; and may read aggregate reports,
// as the auditor may and no role handling personal data does.
func TestPropertyManagerReadsNothingPersonal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		req := Request{Role: Manager, OperatorSite: rapid.SampledFrom([]string{"", "s"}).Draw(t, "site"),
			Purpose:  rapid.SampledFrom(Purposes).Draw(t, "purpose"),
			PersonID: pid, Category: rapid.SampledFrom(Categories).Draw(t, "category"),
			Action: rapid.SampledFrom(Actions).Draw(t, "action")}
		v := Decide(req, h.facts(h.shuffled))
		if v.Allow || v.Reason != ReasonRoleNotAllowed {
			t.Fatalf("manager %s %s for %s: %+v, want role_not_allowed", req.Action, req.Category, req.Purpose, v)
		}
	})
	for _, r := range append([]Role{Subject}, OperatorRoles...) {
		want := r == Manager || r == Auditor
		if got := MayReadAggregates(r); got != want {
			t.Errorf("MayReadAggregates(%s) = %v, want %v", r, got, want)
		}
		if want && len(RolePurposes(r)) != 0 {
			t.Errorf("%s reads reports and may declare purposes %v", r, RolePurposes(r))
		}
	}
}
