package fhir

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func obsHeight(pid string, cm float64) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": "final",
		"category":          []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8302-2"}}},
		"subject":           map[string]any{"reference": "Patient/" + pid},
		"effectiveDateTime": "2026-06-01T09:00:00Z",
		"valueQuantity":     map[string]any{"value": cm, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}}
}

func obsBP(pid string, sys, dia int) map[string]any {
	comp := func(code string, v int) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": code}}},
			"valueQuantity": map[string]any{"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
	}
	return map[string]any{"resourceType": "Observation", "status": "final",
		"code":      map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "85354-9"}}},
		"subject":   map[string]any{"reference": "Patient/" + pid},
		"component": []any{comp("8480-6", sys), comp("8462-4", dia)}}
}

func obsBlood(pid, snomed string) map[string]any {
	return map[string]any{"resourceType": "Observation", "status": "final",
		"code":                 map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "882-1"}}},
		"subject":              map[string]any{"reference": "Patient/" + pid},
		"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": snomed}}}}
}

// TestEMRFlow is the acceptance path of an EMR: search the person by name
// and birth date and by identifier for care, record a check-up as
// Observations, read them back; a researcher is refused with an
// OperationOutcome; the person's portal token lists the EMR's reads as
// AuditEvents.
func TestEMRFlow(t *testing.T) {
	e := newEnv(t)
	pid, code := e.register(adultBody("Amina"))
	e.register(adultBody("Other"))

	q := "/fhir/Patient?" + url.Values{"family": {"tester"}, "given": {" AMINA "}, "birthdate": {"1980-02-03"}}.Encode()
	r := e.must(200, req{method: "GET", path: q, role: consent.Clinician, purpose: "care"})
	if got := r.entries(); len(got) != 1 || got[0]["id"] != pid || r.body["total"].(float64) != 1 {
		t.Fatalf("search by name: %s", r.raw)
	}
	p := r.entries()[0]
	if p["birthDate"] != "1980-02-03" || p["gender"] != "female" || p["name"].([]any)[0].(map[string]any)["family"] != "Tester" {
		t.Errorf("patient mapping: %v", p)
	}
	r = e.must(200, req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape("https://assent.example/fhir/sid/person-id|"+pid), role: consent.Clinician, purpose: "care"})
	if got := r.entries(); len(got) != 1 || got[0]["id"] != pid {
		t.Fatalf("search by identifier: %s", r.raw)
	}
	// By person number, written as people write it (grouped, with a dash).
	number := e.numberOf(pid)
	grouped := number[0:4] + " " + number[4:8] + " " + number[8:10] + "-" + number[10:]
	r = e.must(200, req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape("https://assent.example/fhir/sid/person-number|"+grouped), role: consent.Clinician, purpose: "care"})
	if got := r.entries(); len(got) != 1 || got[0]["id"] != pid {
		t.Fatalf("search by person number: %s", r.raw)
	}
	ids := got0Identifiers(r.entries()[0])
	if ids[0] != "official https://assent.example/fhir/sid/person-number|"+number || ids[1] != "secondary https://assent.example/fhir/sid/person-id|"+pid {
		t.Errorf("identifiers %v", ids)
	}
	if r := e.must(200, req{method: "GET", path: "/fhir/Patient/" + url.PathEscape(grouped), role: consent.Clinician, purpose: "care"}); r.str("id") != pid {
		t.Errorf("read by person number: %s", r.raw)
	}
	bad := number[:10] + string(rune('0'+(number[10]-'0'+1)%10))
	if r := e.do(req{method: "GET", path: "/fhir/Patient?identifier=" + url.QueryEscape("https://assent.example/fhir/sid/person-number|"+bad), role: consent.Clinician, purpose: "care"}); r.status != 400 || r.code() != "invalid_person_number" {
		t.Errorf("mistyped person number: %d %s", r.status, r.raw)
	}
	r = e.must(200, req{method: "GET", path: "/fhir/Patient?gender=male&identifier=" + url.QueryEscape("https://assent.example/fhir/sid/person-id|"+pid), role: consent.Clinician, purpose: "care"})
	if len(r.entries()) != 0 {
		t.Errorf("gender=male kept a female patient")
	}

	h := e.must(201, req{method: "POST", path: "/fhir/Observation", role: consent.Clinician, purpose: "care", body: obsHeight(pid, 162.5)})
	if !strings.Contains(h.header.Get("Location"), "/fhir/Observation/"+h.str("id")) || h.body["valueQuantity"].(map[string]any)["value"].(float64) != 162.5 {
		t.Errorf("created height: %s (Location %q)", h.raw, h.header.Get("Location"))
	}
	e.must(201, req{method: "POST", path: "/fhir/Observation", role: consent.Clinician, purpose: "care", body: obsBP(pid, 128, 82)})
	e.must(201, req{method: "POST", path: "/fhir/Observation", role: consent.Clinician, purpose: "care", body: obsBlood(pid, "278149003")})

	r = e.must(200, req{method: "GET", path: "/fhir/Observation?patient=Patient/" + pid, role: consent.Clinician, purpose: "care"})
	got := map[string]string{}
	for _, o := range r.entries() {
		c := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		switch c {
		case LOINCHeight:
			got[c] = jsonNum(o["valueQuantity"].(map[string]any)["value"])
		case LOINCBPPanel:
			cs := o["component"].([]any)
			got[c] = jsonNum(cs[0].(map[string]any)["valueQuantity"].(map[string]any)["value"]) + "/" + jsonNum(cs[1].(map[string]any)["valueQuantity"].(map[string]any)["value"])
		case LOINCBloodGroup:
			got[c] = o["valueCodeableConcept"].(map[string]any)["text"].(string)
		}
	}
	want := map[string]string{LOINCHeight: "162.5", LOINCBPPanel: "128/82", LOINCBloodGroup: "A+"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("observations read back (-want +got):\n%s", d)
	}
	// The JSON API sees the same check-ups.
	j := e.must(200, req{method: "GET", path: "/v1/persons/" + pid + "/exams", role: consent.Clinician, purpose: "care"})
	_ = j

	// The same search with a researcher key is refused.
	r = e.must(403, req{method: "GET", path: q, role: consent.Researcher, purpose: "research"})
	if r.body["resourceType"] != "OperationOutcome" || r.code() != "role_not_allowed" {
		t.Errorf("researcher search: %s", r.raw)
	}

	// The person's portal token lists their AuditEvents, the EMR's reads included.
	tok := e.portalToken(pid, code)
	r = e.must(200, req{method: "GET", path: "/fhir/AuditEvent?patient=" + pid + "&_count=100", key: tok})
	var clinicianReads, researcherDenials int
	for _, ev := range r.entries() {
		ag := ev["agent"].([]any)[0].(map[string]any)
		role := ag["role"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
		if role == "clinician" && ev["action"] == "R" && ev["outcome"] == "0" {
			clinicianReads++
			pu := ev["purposeOfEvent"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if pu["code"] != "TREAT" || ag["location"].(map[string]any)["identifier"].(map[string]any)["value"] != "s1" {
				t.Errorf("clinician read event: %v", ev)
			}
		}
		if role == "researcher" && ev["outcome"] == "4" {
			researcherDenials++
		}
		ext := ev["extension"].([]any)[0].(map[string]any)
		if ext["url"] != extLeafIndex || jsonNum(ext["valueUnsignedInt"]) != ev["id"] {
			t.Errorf("audit event without its leaf index: %v", ev)
		}
	}
	// Two searches and one exam list (three Observation creates are writes).
	if clinicianReads < 3 {
		t.Errorf("portal AuditEvents show %d clinician reads, want at least 3", clinicianReads)
	}
	if researcherDenials != 0 {
		// the researcher's search was refused before any lookup (recorded
		// with no person): nothing of it concerns this person
		t.Errorf("portal AuditEvents show %d researcher refusals, want 0", researcherDenials)
	}
	// Someone else's token is refused.
	other, ocode := e.register(adultBody("Third"))
	_ = other
	r = e.must(403, req{method: "GET", path: "/fhir/AuditEvent?patient=" + pid, key: e.portalToken(other, ocode)})
	if r.code() == "" {
		t.Errorf("no code: %s", r.raw)
	}
}

func got0Identifiers(p map[string]any) []string {
	var out []string
	for _, i := range p["identifier"].([]any) {
		m := i.(map[string]any)
		out = append(out, m["use"].(string)+" "+m["system"].(string)+"|"+m["value"].(string))
	}
	return out
}

// TestEstimatedBirthDate: a partial birth date is a FHIR partial date,
// flagged as estimated, and the search by name takes it.
func TestEstimatedBirthDate(t *testing.T) {
	e := newEnv(t)
	for _, bd := range []string{"1961", "1975-04"} {
		b := adultBody("Est" + bd)
		b["birth_date"] = bd
		pid, _ := e.register(b)
		q := "/fhir/Patient?" + url.Values{"family": {"Tester"}, "given": {"Est" + bd}, "birthdate": {bd}}.Encode()
		r := e.must(200, req{method: "GET", path: q, role: consent.Registrar, purpose: "registration"})
		if len(r.entries()) != 1 {
			t.Fatalf("%s: search: %s", bd, r.raw)
		}
		p := r.entries()[0]
		ext := p["_birthDate"].(map[string]any)["extension"].([]any)[0].(map[string]any)
		if p["id"] != pid || p["birthDate"] != bd || ext["valueBoolean"] != true {
			t.Errorf("%s: %v", bd, p)
		}
	}
}

func jsonNum(v any) string {
	switch x := v.(type) {
	case float64:
		return strconvF(x)
	case string:
		return x
	}
	return ""
}

// TestSameAuditEntryAsJSON: a FHIR read leaves the audit entry the JSON
// API's equivalent read leaves: same operator, role, site, purpose, person,
// categories, action and outcome (only index, time, request id and route
// differ), allowed or denied.
func TestSameAuditEntryAsJSON(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.register(adultBody("Same"))
	for _, tc := range []struct {
		name      string
		json, fh  string
		role      consent.Role
		purpose   string
		wantAllow bool
	}{
		{"patient read", "/v1/persons/" + pid, "/fhir/Patient/" + pid, consent.Clinician, "care", true},
		{"patient read denied", "/v1/persons/" + pid, "/fhir/Patient/" + pid, consent.Researcher, "research", false},
		{"exams", "/v1/persons/" + pid + "/exams", "/fhir/Observation?patient=" + pid, consent.Clinician, "care", true},
		{"exams research without consent", "/v1/persons/" + pid + "/exams", "/fhir/Observation?patient=" + pid, consent.Researcher, "research", false},
		{"consents", "/v1/persons/" + pid + "/consents?history=true", "/fhir/Consent?patient=" + pid, consent.Registrar, "registration", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jr := e.do(req{method: "GET", path: tc.json, role: tc.role, purpose: tc.purpose})
			je := e.lastAudit()
			fr := e.do(req{method: "GET", path: tc.fh, role: tc.role, purpose: tc.purpose})
			fe := e.lastAudit()
			if jr.status != fr.status || (jr.status == 200) != tc.wantAllow {
				t.Errorf("JSON %d, FHIR %d", jr.status, fr.status)
			}
			if jr.code() != fr.code() {
				t.Errorf("JSON code %q, FHIR code %q", jr.code(), fr.code())
			}
			if (je.Outcome == audit.Allow) != tc.wantAllow {
				t.Errorf("outcome %s", je.Outcome)
			}
			ignore := cmpopts.IgnoreFields(audit.Event{}, "Index", "Time", "RequestID", "Route")
			if d := cmp.Diff(je, fe, ignore); d != "" {
				t.Errorf("audit entries differ (-json +fhir):\n%s", d)
			}
			if !strings.HasPrefix(fe.Route, "GET /fhir/") {
				t.Errorf("FHIR route recorded as %q", fe.Route)
			}
		})
	}
}

// TestErrorsAreOperationOutcomes: each refusal is an OperationOutcome with
// the JSON API's status and stable code.
func TestErrorsAreOperationOutcomes(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.register(adultBody("Err"))
	unknownField := obsHeight(pid, 150)
	unknownField["interpretation"] = []any{map[string]any{"text": "high"}}
	for _, tc := range []struct {
		name   string
		q      req
		status int
		code   string
		json   *req // the JSON API's equivalent, when there is one
	}{
		{"no key", req{method: "GET", path: "/fhir/Patient/" + pid, purpose: "care"}, 401, "unauthenticated",
			&req{method: "GET", path: "/v1/persons/" + pid, purpose: "care"}},
		{"no purpose", req{method: "GET", path: "/fhir/Patient/" + pid, role: consent.Clinician}, 400, "purpose_required",
			&req{method: "GET", path: "/v1/persons/" + pid, role: consent.Clinician}},
		{"bad purpose", req{method: "GET", path: "/fhir/Patient/" + pid, role: consent.Clinician, purpose: "curiosity"}, 400, "invalid_purpose",
			&req{method: "GET", path: "/v1/persons/" + pid, role: consent.Clinician, purpose: "curiosity"}},
		{"role", req{method: "GET", path: "/fhir/Patient/" + pid, role: consent.Verifier, purpose: "verification"}, 403, "purpose_not_allowed", nil},
		{"unknown person", req{method: "GET", path: "/fhir/Patient/nobody", role: consent.Clinician, purpose: "care"}, 404, "not_found",
			&req{method: "GET", path: "/v1/persons/nobody", role: consent.Clinician, purpose: "care"}},
		{"unknown parameter", req{method: "GET", path: "/fhir/Patient?name=Err", role: consent.Clinician, purpose: "care"}, 400, "unknown_parameter", nil},
		{"open search", req{method: "GET", path: "/fhir/Patient?family=Tester", role: consent.Clinician, purpose: "care"}, 400, "missing_field", nil},
		{"unknown element", req{method: "POST", path: "/fhir/Observation", role: consent.Clinician, purpose: "care", body: unknownField}, 400, "unknown_field", nil},
		{"out of range", req{method: "POST", path: "/fhir/Observation", role: consent.Clinician, purpose: "care", body: obsHeight(pid, 900)}, 400, "invalid_value",
			&req{method: "POST", path: "/v1/persons/" + pid + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"height_cm": 900}}},
		{"researcher writes", req{method: "POST", path: "/fhir/Observation", role: consent.Researcher, purpose: "research", body: obsHeight(pid, 150)}, 403, "role_not_allowed",
			&req{method: "POST", path: "/v1/persons/" + pid + "/exams", role: consent.Researcher, purpose: "research", body: map[string]any{"height_cm": 150}}},
		{"unknown resource type", req{method: "GET", path: "/fhir/Encounter?patient=" + pid, role: consent.Clinician, purpose: "care"}, 404, "not_found", nil},
		{"method not served", req{method: "DELETE", path: "/fhir/Patient/" + pid, role: consent.Clinician, purpose: "care"}, 405, "method_not_allowed",
			&req{method: "DELETE", path: "/v1/persons/" + pid, role: consent.Clinician, purpose: "care"}},
		{"portal token on an operator route", req{method: "GET", path: "/fhir/Patient/" + pid, key: "subject.x.y"}, 401, "unauthenticated", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.q)
			if r.status != tc.status || r.body["resourceType"] != "OperationOutcome" {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.code == "purpose_not_allowed" {
				tc.code = "role_not_allowed" // the public code; the audit log keeps the precise reason
			}
			if r.code() != tc.code {
				t.Errorf("code %q, want %q", r.code(), tc.code)
			}
			if tc.json != nil {
				if j := e.do(*tc.json); j.status != r.status || j.code() != r.code() {
					t.Errorf("JSON API answers %d %q, FHIR %d %q", j.status, j.code(), r.status, r.code())
				}
			}
		})
	}
}

func checkup(obs ...map[string]any) map[string]any {
	var es []any
	for _, o := range obs {
		es = append(es, map[string]any{"resource": o, "request": map[string]any{"method": "POST", "url": "Observation"}})
	}
	return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": es}
}

// TestCheckupTransaction: a transaction Bundle of Observations is one exam
// (one audited write), all or nothing.
func TestCheckupTransaction(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.register(adultBody("Tx"))
	other, _ := e.register(adultBody("Ty"))
	before := len(e.auditRows())
	r := e.must(200, req{method: "POST", path: "/fhir", role: consent.Clinician, purpose: "care",
		body: checkup(obsHeight(pid, 171), obsBP(pid, 131, 85), obsBlood(pid, "278148006"))})
	if got := len(e.auditRows()) - before; got != 1 {
		t.Errorf("a check-up left %d audit events, want 1", got)
	}
	if r.str("type") != "transaction-response" || len(r.entries()) != 3 {
		t.Fatalf("response: %s", r.raw)
	}
	exams := e.must(200, req{method: "GET", path: "/v1/persons/" + pid + "/exams", role: consent.Clinician, purpose: "care"})
	list, _ := exams.body["exams"].([]any)
	if list == nil {
		var arr []any
		_ = json.Unmarshal(exams.raw, &arr)
		list = arr
	}
	if len(list) != 1 {
		t.Fatalf("the check-up is %d exams, want 1: %s", len(list), exams.raw)
	}
	x := list[0].(map[string]any)
	if x["height_cm"] != 171.0 || x["systolic"] != 131.0 || x["diastolic"] != 85.0 || x["blood_type"] != "O-" {
		t.Errorf("exam: %v", x)
	}
	for name, tc := range map[string]struct {
		body   map[string]any
		role   consent.Role
		status int
		code   string
	}{
		"two patients": {checkup(obsHeight(pid, 171), obsBP(other, 131, 85)), consent.Clinician, 400, "invalid_value"},
		"height twice": {checkup(obsHeight(pid, 171), obsHeight(pid, 172)), consent.Clinician, 400, "invalid_value"},
		"researcher":   {checkup(obsHeight(pid, 171)), consent.Researcher, 403, "role_not_allowed"},
		"out of range": {checkup(obsHeight(pid, 171), obsBP(pid, 80, 120)), consent.Clinician, 400, "invalid_value"},
	} {
		purpose := "care"
		if tc.role == consent.Researcher {
			purpose = "research"
		}
		r := e.do(req{method: "POST", path: "/fhir", role: tc.role, purpose: purpose, body: tc.body})
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %q, want %d %q", name, r.status, r.code(), tc.status, tc.code)
		}
	}
	again := e.must(200, req{method: "GET", path: "/fhir/Observation?patient=" + pid, role: consent.Clinician, purpose: "care"})
	if n := len(again.entries()); n != 3 {
		t.Errorf("after refused check-ups the patient has %d observations, want 3", n)
	}
}
