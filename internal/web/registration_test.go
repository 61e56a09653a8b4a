package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

func TestRegistrationFormAsksEveryPairWithNothingPreselected(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	// Even a link that tries to preselect an answer gets none.
	p := c.get("/ui/register?language=fr&consent.face.verification=granted")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	for _, pr := range askedPairs() {
		for _, v := range []string{"granted", "declined"} {
			if !p.has(`<input type="radio" id="` + pr.Name() + `.` + v + `" name="` + pr.Name() + `" value="` + v + `"`) {
				t.Errorf("no radio %s=%s", pr.Name(), v)
			}
		}
	}
	if p.has(`checked`) {
		t.Errorf("an answer is preselected")
	}
	for _, name := range []string{"given_name", "family_name", "birth_date", "sex", "area_code", "household_id", "relationship", "guardian_id"} {
		if !p.has(`name="` + name + `"`) {
			t.Errorf("no input named %s", name)
		}
	}
	// The notice is shown in full in the person's language, with care stated independent.
	if !p.has(`data-notice-language="fr"`) || !strings.Contains(p.body, "Vos soins ne dépendent pas de vos réponses") {
		t.Errorf("the French notice is not shown in full")
	}
	if !p.has(`data-care-independent="true"`) {
		t.Errorf("care independence is not stated")
	}
}

func TestRegistrationConfirmsBeforeStoring(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	form := adultForm("Ada", "1984-03-02", "consent.identity.registration", "consent.fingerprint.deduplication")

	// Unanswered questions: nothing stored, the form says which.
	partial := url.Values{}
	for k, v := range form {
		partial[k] = v
	}
	partial.Del("consent.iris.verification")
	before := e.auditSize()
	if p := c.post("/ui/register", partial); p.status != http.StatusUnprocessableEntity || !p.has(`data-error-code="register.unanswered"`) {
		t.Fatalf("unanswered: %d", p.status)
	}
	if p := c.post("/ui/register/confirm", partial); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("unanswered confirm: %d", p.status)
	}
	// The review page stores nothing.
	rev := c.post("/ui/register", form)
	if rev.status != http.StatusOK || !rev.has(`data-pair="consent.fingerprint.deduplication" data-answer="granted"`) || !rev.has(`data-pair="consent.iris.verification" data-answer="declined"`) {
		t.Fatalf("review: %d\n%s", rev.status, rev.body)
	}
	if n := e.auditSize(); n != before {
		t.Fatalf("review wrote %d audit entries; nothing should be stored yet", n-before)
	}
	rc := c.register(form)
	num, code := rc.attr("data-person-number"), rc.attr("data-portal-code")
	if num == "" || code == "" {
		t.Fatalf("receipt lacks number or code:\n%s", rc.body)
	}
	if !rc.has(`<svg[^>]*role="img"`) || !strings.Contains(rc.body, "/portal?n="+compactNumber(num)) {
		t.Errorf("receipt lacks the QR code to the portal")
	}
	if rc.attr("data-receipt-key") == "" || rc.attr("data-audit-key") == "" {
		t.Errorf("receipt lacks key fingerprints")
	}
	// What was stored is exactly what was answered.
	id := e.resolve(num)
	cs, err := e.reg.Consents(context.Background(), registry.Actor{Role: consent.Subject, PersonID: id}, "", id, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got["consent."+c.Category+"."+c.Purpose] = c.Decision
	}
	for _, pr := range askedPairs() {
		want := form.Get(pr.Name())
		if got[pr.Name()] != want {
			t.Errorf("%s stored %q, answered %q", pr.Name(), got[pr.Name()], want)
		}
	}
}

func TestDecliningRegistrationStoresNothing(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	form := adultForm("Bo", "1990-01-01") // everything declined
	c.post("/ui/register", form)
	before := e.auditSize()
	p := c.post("/ui/register/confirm", form)
	if p.status != http.StatusOK || !p.has(`data-registered="false"`) || p.has(`data-person-number`) {
		t.Fatalf("declined registration: %d\n%s", p.status, p.body)
	}
	if e.auditSize() != before {
		t.Fatalf("something was written")
	}
}

func TestMinorNeedsGuardian(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	c.post("/ui/households", url.Values{"address": {"4 Mango Lane"}, "area_code": {"A1"}})
	parent := c.register(adultForm("Mother", "1980-05-05", "consent.identity.registration")).attr("data-person-number")
	child := adultForm("Child", "2019-05-05", "consent.identity.registration", "consent.face.verification")
	c.post("/ui/register", child)
	p := c.post("/ui/register/confirm", child)
	if p.status != http.StatusUnprocessableEntity || !p.has(`data-error-code="err.guardian_required"`) {
		t.Fatalf("minor without guardian: %d", p.status)
	}
	// The form comes back filled in, answers kept.
	if !p.has(`value="Child"`) || !p.has(`id="consent.face.verification.granted" name="consent.face.verification" value="granted" checked`) {
		t.Errorf("the form lost what was typed")
	}
	child.Set("guardian_id", parent)
	rc := c.register(child)
	if rc.attr("data-person-number") == "" {
		t.Fatal("minor with guardian not registered")
	}
}

func TestHouseholdAndFind(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	p := c.post("/ui/households", url.Values{"address": {"9 Baobab Road"}, "area_code": {"A1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("household: %d", p.status)
	}
	hpath := p.header.Get("Location")
	hid := strings.TrimPrefix(hpath, "/ui/households/")
	head := adultForm("Kofi", "1975-07-07", "consent.identity.registration")
	head.Set("household_id", hid)
	head.Set("relationship", "head")
	num := c.register(head).attr("data-person-number")
	id := e.resolve(num)
	h := c.get(hpath)
	if !h.has(`data-member="`+id+`"`) || !strings.Contains(h.body, "9 Baobab Road") {
		t.Fatalf("household page lacks its head:\n%s", h.body)
	}
	f := c.post("/ui/find", url.Values{"given_name": {"kofi"}, "family_name": {"OKAFOR"}, "birth_date": {"1975-07-07"}})
	if !f.has(`data-person-id="` + id + `"`) {
		t.Fatalf("find by name: not found\n%s", f.body)
	}
	f = c.post("/ui/find", url.Values{"given_name": {"Kofi"}, "family_name": {"Okafor"}, "birth_date": {"1975-07-08"}})
	if !f.has(`data-results="0"`) {
		t.Fatalf("find by wrong birth date found someone")
	}
	for _, typed := range []string{num, compactNumber(num), id} {
		f = c.post("/ui/find", url.Values{"person_number": {typed}})
		if !f.has(`data-person-id="` + id + `"`) {
			t.Fatalf("find by number %q: not found", typed)
		}
	}
	// One digit mistyped: the check digit catches it, with a clear message.
	d := []byte(compactNumber(num))
	d[3] = '0' + (d[3]-'0'+1)%10
	f = c.post("/ui/find", url.Values{"person_number": {string(d)}})
	if !f.has(`data-error-code="err.invalid_person_number"`) || !strings.Contains(f.body, "mistyped digit") {
		t.Fatalf("a mistyped number is not caught:\n%s", f.body)
	}
	// htmx gets the same page; it swaps the results in place.
	if p := c.get("/ui/persons/" + id); !p.has(`data-person-number="` + num + `"`) {
		t.Fatalf("person page")
	}
}

func TestEstimatedBirthDate(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.signIn(consent.Registrar, consent.Registration)
	f := adultForm("Yaw", "1961", "consent.identity.registration")
	num := c.register(f).attr("data-person-number")
	p := c.get("/ui/persons/" + e.resolve(num))
	if !p.has(`1961 \(estimated\)`) {
		t.Fatalf("a year-only birth date is not shown as estimated:\n%s", p.body)
	}
	f = adultForm("Esi", "1970-06-15", "consent.identity.registration")
	f.Set("birth_date_estimated", "true")
	num = c.register(f).attr("data-person-number")
	if p := c.get("/ui/persons/" + e.resolve(num)); !p.has(`\(estimated\)`) {
		t.Fatalf("a full date marked estimated is not shown so")
	}
}

func TestPortalSignIn(t *testing.T) {
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	rc := reg.register(adultForm("Ama", "1985-02-02", "consent.identity.registration"))
	num, code := rc.attr("data-person-number"), rc.attr("data-portal-code")
	c := e.client()
	if p := c.get("/portal?n=" + compactNumber(num)); !p.has(`name="person_number" value="`+compactNumber(num)+`"`) || !p.has(`name="code"`) {
		t.Fatalf("?n= does not prefill the number")
	}
	if p := c.get("/portal/me"); p.status != http.StatusSeeOther {
		t.Fatalf("portal without signing in: %d", p.status)
	}
	if p := c.post("/portal", url.Values{"person_number": {num}, "code": {"WRONGCODE"}}); p.status != http.StatusUnauthorized || !p.has(`data-error-code="portal.failed"`) {
		t.Fatalf("wrong code: %d", p.status)
	}
	d := []byte(compactNumber(num))
	d[0] = '0' + (d[0]-'0'+1)%10
	if p := c.post("/portal", url.Values{"person_number": {string(d)}, "code": {code}}); !p.has(`data-error-code="err.invalid_person_number"`) {
		t.Fatalf("mistyped number: %d", p.status)
	}
	// An operator's session is no portal session, and the reverse.
	if p := reg.get("/portal/me"); p.status != http.StatusSeeOther {
		t.Fatalf("an operator reached the portal: %d", p.status)
	}
	if p := c.post("/portal", url.Values{"person_number": {num}, "code": {code}}); p.status != http.StatusSeeOther {
		t.Fatalf("portal sign-in: %d", p.status)
	}
	me := c.get("/portal/me")
	if me.status != http.StatusOK || !me.has(`data-person-number="`+num+`"`) || !me.has(`data-proof-status="pending"`) {
		t.Fatalf("portal page: %d", me.status)
	}
	if p := c.get("/ui/"); p.status != http.StatusSeeOther {
		t.Fatalf("the person reached the operators' pages: %d", p.status)
	}
}
