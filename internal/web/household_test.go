package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
)

// TestHouseholdMoveChangeHeadSplit runs the household page's three forms as
// a registrar would: move a person in by number, a refused change of head to
// a minor, a change of head, a refused split that would take the head away
// from the others, and a split into a new household.
func TestHouseholdMoveChangeHeadSplit(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	hp := c.post("/ui/households", url.Values{"address": {"3 Palm Street"}, "area_code": {"A1"}})
	hpath := hp.header.Get("Location")
	hid := strings.TrimPrefix(hpath, "/ui/households/")
	member := func(given, birth, rel, guardian string) (number, id string) {
		t.Helper()
		f := adultForm(given, birth, "consent.identity.registration")
		f.Set("household_id", hid)
		f.Set("relationship", rel)
		if guardian != "" {
			f.Set("guardian_id", guardian)
		}
		number = c.register(f).attr("data-person-number")
		return number, e.resolve(number)
	}
	kofiNum, kofi := member("Kofi", "1975-07-07", "head", "")
	_, ama := member("Ama", "1978-08-08", "spouse", "")
	_, kwesi := member("Kwesi", "2018-01-01", "child", kofiNum)
	yawNum := c.register(adultForm("Yaw", "1990-02-02", "consent.identity.registration")).attr("data-person-number")
	yaw := e.resolve(yawNum)

	h := c.get(hpath)
	for _, f := range []string{`action="/ui/households/` + hid + `/members"`, `action="/ui/households/` + hid + `/head"`, `action="/ui/households/` + hid + `/split"`,
		`name="person_id"`, `name="relationship"`, `name="previous_head_relationship"`, `name="person_ids"`, `name="head_id"`, `name="address"`, `name="area_code"`} {
		if !h.has(f) {
			t.Errorf("household page lacks %s", f)
		}
	}
	if !h.has(`data-member="`+kofi+`" data-relationship="head" data-head="true"`) || !h.has(`data-member="`+kwesi+`" data-relationship="child"`) {
		t.Fatalf("household page does not show members with relationships:\n%s", h.body)
	}

	// Move Yaw in, typed by person number as printed (spaces and dash).
	if p := c.post(hpath+"/members", url.Values{"person_id": {yawNum}, "relationship": {"sibling"}}); p.status != http.StatusSeeOther || p.header.Get("Location") != hpath {
		t.Fatalf("move: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if h = c.get(hpath); !h.has(`data-member="` + yaw + `" data-relationship="sibling"`) {
		t.Fatalf("Yaw was not moved in:\n%s", h.body)
	}
	// Moving without a relationship is refused beside the move form.
	if p := c.post(hpath+"/members", url.Values{"person_id": {yawNum}}); p.status != http.StatusUnprocessableEntity ||
		!p.has(`data-error-code="err.missing_field" data-form="move"`) || !p.has(`\(relationship\)`) {
		t.Fatalf("move without relationship: %d\n%s", p.status, p.body)
	}

	// A mistyped digit and an unknown number are caught beside the move form.
	d := []byte(compactNumber(yawNum))
	d[4] = '0' + (d[4]-'0'+1)%10
	if p := c.post(hpath+"/members", url.Values{"person_id": {string(d)}, "relationship": {"sibling"}}); p.status != http.StatusUnprocessableEntity ||
		!p.has(`data-error-code="err.invalid_person_number" data-form="move"`) {
		t.Fatalf("move a mistyped number: %d\n%s", p.status, p.body)
	}
	unknown, err := personnumber.New() // well formed, and no one's
	if err != nil {
		t.Fatal(err)
	}
	if p := c.post(hpath+"/members", url.Values{"person_id": {unknown}, "relationship": {"sibling"}}); p.status != http.StatusUnprocessableEntity ||
		!p.has(`data-error-code="err.unknown_person" data-form="move"`) {
		t.Fatalf("move an unknown person: %d\n%s", p.status, p.body)
	}

	// A minor cannot become head: refused with the registry's code, nothing changes.
	p := c.post(hpath+"/head", url.Values{"person_id": {kwesi}, "previous_head_relationship": {"parent"}})
	if p.status != http.StatusUnprocessableEntity || !p.has(`data-error-code="err.minor_cannot_be_head" data-form="head"`) ||
		!strings.Contains(p.body, "A minor cannot be the head of a household.") {
		t.Fatalf("change head to a minor: %d\n%s", p.status, p.body)
	}
	if !p.has(`data-member="` + kofi + `" data-relationship="head" data-head="true"`) {
		t.Fatalf("the refused change of head changed the household")
	}
	// The same refusal in French.
	if p := c.post(hpath+"/head?lang=fr", url.Values{"person_id": {kwesi}}); !strings.Contains(p.body, "Un mineur ne peut pas être chef de ménage.") {
		t.Errorf("the refusal is not in French:\n%s", p.body)
	}

	// Ama becomes head; Kofi becomes her spouse.
	if p := c.post(hpath+"/head", url.Values{"person_id": {ama}, "previous_head_relationship": {"spouse"}}); p.status != http.StatusSeeOther {
		t.Fatalf("change head: %d\n%s", p.status, p.body)
	}
	h = c.get(hpath)
	if !h.has(`data-member="`+ama+`" data-relationship="head" data-head="true"`) || !h.has(`data-member="`+kofi+`" data-relationship="spouse"`) {
		t.Fatalf("head not changed:\n%s", h.body)
	}

	// Splitting the head away from those who stay is refused.
	p = c.post(hpath+"/split", url.Values{"person_ids": {ama}, "head_id": {ama}, "address": {"8 Far Road"}, "area_code": {"A1"}})
	if p.status != http.StatusUnprocessableEntity || !p.has(`data-error-code="err.head_must_stay" data-form="split"`) {
		t.Fatalf("split away the head: %d\n%s", p.status, p.body)
	}
	// Kofi and Yaw split off to a new address, Kofi at its head.
	p = c.post(hpath+"/split", url.Values{"person_ids": {kofi, yaw}, "head_id": {kofi}, "address": {"12 New Road"}, "area_code": {"A1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("split: %d\n%s", p.status, p.body)
	}
	npath := p.header.Get("Location")
	if npath == hpath || !strings.HasPrefix(npath, "/ui/households/") {
		t.Fatalf("split went to %q", npath)
	}
	n := c.get(npath)
	if !strings.Contains(n.body, "12 New Road") || !n.has(`data-member="`+kofi+`" data-relationship="head" data-head="true"`) || !n.has(`data-member="`+yaw+`" data-relationship="sibling"`) {
		t.Fatalf("new household:\n%s", n.body)
	}
	h = c.get(hpath)
	if h.has(`data-member="`+kofi+`"`) || h.has(`data-member="`+yaw+`"`) || !h.has(`data-member="`+kwesi+`"`) || !h.has(`data-member="`+ama+`" data-relationship="head"`) {
		t.Fatalf("old household after the split:\n%s", h.body)
	}
}
