package httpapi

import (
	"net/url"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
)

// A registration returns a person number people can read and type; every
// person route takes it in place of the id, written with or without
// separators, and a mistyped digit is caught by the check digit.
func TestPersonNumber(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id, shown := reg.str("id"), reg.str("person_number")
	number, err := personnumber.Parse(shown)
	if err != nil || personnumber.Format(number) != shown {
		t.Fatalf("registration's person_number %q is not a grouped person number: %v", shown, err)
	}
	rc := reg.body["receipt"].(map[string]any)
	if rc["person_number"] != shown {
		t.Errorf("receipt person_number = %v, want %q", rc["person_number"], shown)
	}
	if signed := rc["receipt"].(map[string]any); signed["personNumber"] != shown {
		t.Errorf("the signed receipt does not carry the number: %v", signed["personNumber"])
	}
	read := func(ref string) resp {
		return e.do(req{method: "GET", path: "/v1/persons/" + url.PathEscape(ref), role: consent.Registrar, purpose: "registration"})
	}
	for _, ref := range []string{id, number, shown, number[:4] + "-" + number[4:]} {
		r := read(ref)
		if r.status != 200 || r.str("id") != id || r.str("person_number") != shown {
			t.Errorf("GET by %q: %d %s", ref, r.status, r.raw)
		}
	}
	// One digit changed: the check digit catches it and says so.
	typo := number[:3] + string('0'+(number[3]-'0'+1)%10) + number[4:]
	if r := read(typo); r.status != 400 || r.code() != "invalid_person_number" {
		t.Errorf("mistyped number: %d %s, want 400 invalid_person_number", r.status, r.raw)
	}
	// A well-formed number nobody holds is not found, like an unknown id.
	var free string
	for free == "" || free == number {
		free, _ = personnumber.New()
	}
	if r := read(free); r.status != 404 {
		t.Errorf("unheld number: %d %s, want 404", r.status, r.raw)
	}
	// The audit entry names the record id, not what the caller typed.
	log := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/access-log", role: consent.Registrar, purpose: "registration"})
	if strings.Contains(string(log.raw), number) {
		t.Errorf("the access log carries the typed number instead of the id: %s", log.raw)
	}
	// The person signs in to the portal with the number from the receipt.
	e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": shown, "code": rc["code"]}})
}

// People who do not know their birth date are registered with a year or a
// year and month, flagged as estimated; age rules take the latest day the
// date can stand for, so a child of uncertain age still needs a guardian.
func TestEstimatedBirthDate(t *testing.T) {
	e := newEnv(t)
	body := adultBody("Esi")
	body["birth_date"] = "1975"
	reg := e.register(body)
	got := e.must(200, req{method: "GET", path: "/v1/persons/" + reg.str("id"), role: consent.Registrar, purpose: "registration"})
	if got.str("birth_date") != "1975" || got.body["birth_date_estimated"] != true {
		t.Errorf("year-only birth date read back as %s", got.raw)
	}
	body = adultBody("Kofi")
	body["birth_date"] = "1981-03"
	reg = e.register(body)
	got = e.must(200, req{method: "GET", path: "/v1/persons/" + reg.str("id"), role: consent.Registrar, purpose: "registration"})
	if got.str("birth_date") != "1981-03" || got.body["birth_date_estimated"] != true {
		t.Errorf("year-month birth date read back as %s", got.raw)
	}
	body = adultBody("Abena")
	body["birth_date_estimated"] = true
	reg = e.register(body)
	got = e.must(200, req{method: "GET", path: "/v1/persons/" + reg.str("id"), role: consent.Registrar, purpose: "registration"})
	if got.body["birth_date_estimated"] != true {
		t.Errorf("a full date marked estimated lost the mark: %s", got.raw)
	}
	for _, bad := range []string{"75", "1975-13", "1975-1", "1975/03/01", "3000"} {
		b := adultBody("X")
		b["birth_date"] = bad
		if r := e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: b}); r.status != 400 || r.code() != "invalid_date" {
			t.Errorf("birth_date %q: %d %s, want 400 invalid_date", bad, r.status, r.raw)
		}
	}
	// The current year: possibly under age, so a guardian is needed.
	child := adultBody("Ama")
	child["birth_date"] = e.clock.Now().Format("2006")
	if r := e.do(req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: child}); r.status != 422 || r.code() != "guardian_required" {
		t.Errorf("a child born this year: %d %s, want 422 guardian_required", r.status, r.raw)
	}
}
