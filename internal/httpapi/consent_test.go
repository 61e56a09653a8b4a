package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

func declineAll(b map[string]any) map[string]any {
	var ds []map[string]any
	for _, c := range []string{"face", "fingerprint", "iris"} {
		for _, p := range []string{"verification", "deduplication"} {
			ds = append(ds, map[string]any{"category": c, "purpose": p, "decision": "declined"})
		}
	}
	b["consent"].(map[string]any)["decisions"] = ds
	return b
}

func TestCareNeverDependsOnConsent(t *testing.T) {
	e := newEnv(t)
	reg := e.register(declineAll(adultBody("Ada")))
	id := reg.str("id")
	if d := reg.body["receipt"].(map[string]any)["declined"].([]any); len(d) != 6 {
		t.Errorf("receipt lists %d declined answers, want 6", len(d))
	}
	ex := e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care",
		body: map[string]any{"blood_type": "O+", "height_cm": 170, "weight_kg": 65, "systolic": 120, "diastolic": 80, "notes": "well"}})
	if ex.str("blood_type") != "O+" {
		t.Errorf("exam: %s", ex.raw)
	}
	l := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care"})
	if n := len(l.body["exams"].([]any)); n != 1 {
		t.Errorf("clinician sees %d exams", n)
	}
	// The researcher has no health x research consent.
	if r := e.do(req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Researcher, purpose: "research"}); r.status != 403 || r.code() != "consent_missing" {
		t.Errorf("researcher without consent: %d %s", r.status, r.raw)
	}
	e.must(400, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"blood_type": "Z"}})
	e.must(400, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"genotype": "AA"}})
	e.must(403, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Registrar, purpose: "registration", body: map[string]any{"height_cm": 170}})
}

func TestResearchNeedsConsentAndIsDeidentified(t *testing.T) {
	e := newEnv(t)
	id := e.register(adultBody("Ada")).str("id")
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"height_cm": 170, "notes": "lives by the well", "blood_type": "A-"}})
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"category": "health", "purpose": "research", "decision": "granted", "method": "paper", "notice_version": "n1", "language": "en"}})
	l := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Researcher, purpose: "research"})
	ex := l.body["exams"].([]any)[0].(map[string]any)
	if ex["height_cm"] != 170.0 || ex["notes"] != nil || ex["site"] != nil || ex["blood_type"] != nil {
		t.Errorf("research view is not de-identified or lacks findings: %s", l.raw)
	}
	// Blood type needs its own consent.
	e.must(403, req{method: "GET", path: "/v1/persons/" + id + "/exams?include=blood_type", role: consent.Researcher, purpose: "research"})
	// Withdrawing research stops research use but keeps the care record.
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"category": "health", "purpose": "research", "decision": "withdrawn", "method": "paper", "notice_version": "n1", "language": "en"}})
	e.must(403, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Researcher, purpose: "research"})
	l = e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care"})
	if n := len(l.body["exams"].([]any)); n != 1 {
		t.Errorf("care record lost after research withdrawal: %d exams", n)
	}
}

func TestConsentHistoryAndStates(t *testing.T) {
	e := newEnv(t)
	id := e.register(adultBody("Ada")).str("id")
	post := func(decision string) resp {
		return e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration",
			body: map[string]any{"category": "iris", "purpose": "verification", "decision": decision, "method": "verbal", "notice_version": "n1", "language": "en"}})
	}
	post("granted")
	e.clock.Advance(time.Minute)
	w := post("withdrawn")
	if er := w.body["erased"].([]any); len(er) != 1 || er[0] != "iris" {
		t.Errorf("withdrawing the only iris purpose should erase iris: %s", w.raw)
	}
	cur := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration"})
	hist := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/consents?history=1", role: consent.Registrar, purpose: "registration"})
	if n, m := len(cur.body["consents"].([]any)), len(hist.body["consents"].([]any)); n != 2 || m != 3 {
		t.Errorf("current %d (want identity + iris = 2), history %d (want 3)", n, m)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"care needs no consent", map[string]any{"category": "health", "purpose": "care", "decision": "granted", "method": "v", "notice_version": "n", "language": "en"}, "invalid_value"},
		{"unknown decision", map[string]any{"category": "iris", "purpose": "verification", "decision": "maybe", "method": "v", "notice_version": "n", "language": "en"}, "invalid_value"},
		{"no method", map[string]any{"category": "iris", "purpose": "verification", "decision": "granted", "notice_version": "n", "language": "en"}, "missing_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration", body: tc.body})
			if r.status != 400 || r.code() != tc.code {
				t.Errorf("got %d %q, want 400 %q", r.status, r.code(), tc.code)
			}
		})
	}
}

func TestWithdrawingRegistrationErasesThePerson(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"height_cm": 150}})
	// The person withdraws through the portal.
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	tok := e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}}).str("token")
	w := e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", key: tok,
		body: map[string]any{"category": "identity", "purpose": "registration", "decision": "withdrawn", "notice_version": "n1", "language": "en"}})
	if w.body["erased_person"] != true {
		t.Fatalf("withdrawal did not erase: %s", w.raw)
	}
	for _, q := range []req{
		{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"},
		{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care"},
		{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"height_cm": 150}},
	} {
		if r := e.do(q); r.status != 410 || r.code() != "erased" {
			t.Errorf("%s %s after erasure: %d %s", q.method, q.path, r.status, r.raw)
		}
	}
	// A new registration never reuses the id, and the portal code is dead.
	e.must(401, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}})
}

func TestSpecimensAndExport(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	sp := e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "TUBE-001", "type": "blood", "storage_location": "freezer 2", "consented_uses": []string{"research"}, "destroy_by": "2036-01-01"}})
	sid := sp.str("id")
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/specimens/" + sid + "/events", role: consent.Clinician, purpose: "care",
		body: map[string]any{"event": "transferred", "location": "central biobank"}})
	e.must(400, req{method: "POST", path: "/v1/persons/" + id + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "T2", "type": "blood", "storage_location": "x", "consented_uses": []string{"research"}, "genotype": "rs123"}})
	// Withdrawing dna x research asks for destruction of research-only specimens.
	e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"category": "dna", "purpose": "research", "decision": "withdrawn", "method": "paper", "notice_version": "n1", "language": "en"}})
	l := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/specimens", role: consent.Clinician, purpose: "care"})
	s0 := l.body["specimens"].([]any)[0].(map[string]any)
	if s0["status"] != "destruction_requested" || len(s0["custody"].([]any)) != 3 || s0["storage_location"] != "central biobank" {
		t.Errorf("specimen after withdrawal: %s", l.raw)
	}
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	tok := e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}}).str("token")
	x := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/export", key: tok})
	if x.body["person"].(map[string]any)["given_name"] != "Ada" || len(x.body["specimens"].([]any)) != 1 || len(x.body["consents"].([]any)) < 2 || len(x.body["access_log"].([]any)) < 3 {
		t.Errorf("export: %s", x.raw)
	}
	e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/export", role: consent.Registrar, purpose: "registration"})
	e.must(403, req{method: "GET", path: "/v1/persons/" + id + "/export", role: consent.Clinician, purpose: "care"})
	e.must(400, req{method: "GET", path: "/v1/persons/" + id + "/export", role: consent.Registrar})
	k := e.must(200, req{method: "GET", path: "/v1/receipts/key"})
	if k.str("public_key") == "" {
		t.Errorf("receipt key: %s", k.raw)
	}
	st := e.must(200, req{method: "GET", path: "/v1/stats/consent", role: consent.Auditor})
	if st.body["cells"] == nil {
		t.Errorf("stats: %s", st.raw)
	}
	e.must(403, req{method: "GET", path: "/v1/stats/consent", role: consent.Registrar})
}

func TestReceiptRender(t *testing.T) {
	e := newEnv(t)
	reg := e.register(declineAll(adultBody("Ada")))
	rc, _ := json.Marshal(reg.body["receipt"])
	h := e.must(200, req{method: "POST", path: "/v1/receipts/render", body: string(rc)})
	if !strings.Contains(string(h.raw), "<html") || !strings.Contains(string(h.raw), "fingerprint") {
		t.Errorf("rendered receipt: %.400s", h.raw)
	}
	tx := e.must(200, req{method: "POST", path: "/v1/receipts/render?format=text", body: string(rc)})
	if !strings.Contains(string(tx.raw), "CONSENT RECEIPT") {
		t.Errorf("text receipt: %.400s", tx.raw)
	}
	forged := strings.Replace(string(rc), `"language":"en"`, `"language":"fr"`, 1)
	e.must(422, req{method: "POST", path: "/v1/receipts/render", body: forged})
}
