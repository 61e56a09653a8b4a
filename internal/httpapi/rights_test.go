package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
)

// withFaceDedup registers consent to face deduplication (granted or declined).
func withFaceDedup(b map[string]any, decision string) map[string]any {
	b["consent"].(map[string]any)["decisions"] = []map[string]any{
		{"category": "face", "purpose": "deduplication", "decision": decision},
		{"category": "fingerprint", "purpose": "deduplication", "decision": "granted"},
	}
	return b
}

// openCase stores a possible duplicate between a and b, as enrolment would.
func (e *env) openCase(a, b string) string {
	e.t.Helper()
	var c store.Case
	err := e.db.Update(context.Background(), func(tx store.Tx) error {
		var err error
		c, err = tx.OpenCase(context.Background(), store.Case{ID: "case-" + a[:8], Status: store.CaseOpen, PersonA: a, PersonB: b,
			Score: 0.9, Modalities: "fingerprint", CreatedAt: e.clock.Now()})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// events decodes the audit events about a person.
func (e *env) events(pid string) []audit.Event {
	e.t.Helper()
	var out []audit.Event
	err := e.db.View(context.Background(), func(tx store.Tx) error {
		rows, err := tx.AuditRowsForPerson(context.Background(), pid, 1000)
		for _, r := range rows {
			ev, err := audit.DecodeEvent(r.Data)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) enrolFace(pid string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "face", "position": "face", "format": "image", "data": pngFace(e.t.(*testing.T))}})
}

// TestCasesAreTheAdjudicatorsAlone: a registrar deduplicating at enrolment
// can neither list, read nor decide cases (issue 12, item 8); the face photo
// of a case is shown only when the policy allows both faces, and that
// decision is in the audit log (item 15); a decided case is final (409
// case_closed, item 12).
func TestCasesAreTheAdjudicatorsAlone(t *testing.T) {
	e := newEnv(t)
	a := e.register(withFaceDedup(adultBody("Ana"), "granted")).str("id")
	b := e.register(withFaceDedup(adultBody("Bea"), "granted")).str("id")
	c := e.register(withFaceDedup(adultBody("Cai"), "declined")).str("id")
	for _, p := range []string{a, b} {
		e.enrolFace(p)
	}
	ab, ac := e.openCase(a, b), e.openCase(c, a)

	for _, q := range []req{
		{method: "GET", path: "/v1/cases"},
		{method: "GET", path: "/v1/cases/" + ab},
		{method: "POST", path: "/v1/cases/" + ab + "/decision", body: map[string]any{"decision": "different"}},
	} {
		for _, role := range []consent.Role{consent.Registrar, consent.Verifier, consent.Clinician} {
			for _, purpose := range consent.RolePurposes(role) {
				q := q
				q.role, q.purpose = role, string(purpose)
				if r := e.do(q); r.status != http.StatusForbidden || r.code() != "role_not_allowed" {
					t.Errorf("%s %s by %s for %s: %d %s, want 403 role_not_allowed", q.method, q.path, role, purpose, r.status, r.raw)
				}
			}
		}
	}

	adj := func(q req) req { q.role, q.purpose = consent.Adjudicator, "deduplication"; return q }
	list := e.must(200, adj(req{method: "GET", path: "/v1/cases"}))
	if n := len(list.body["cases"].([]any)); n != 2 {
		t.Fatalf("adjudicator lists %d cases, want 2: %s", n, list.raw)
	}
	d := e.must(200, adj(req{method: "GET", path: "/v1/cases/" + ab}))
	for _, side := range d.body["records"].([]any) {
		if side.(map[string]any)["face_photo"] == nil {
			t.Errorf("both consented to face deduplication, yet no photo: %s", d.raw)
		}
	}
	d = e.must(200, adj(req{method: "GET", path: "/v1/cases/" + ac}))
	for _, side := range d.body["records"].([]any) {
		if side.(map[string]any)["face_photo"] != nil {
			t.Errorf("one person declined face deduplication, yet a photo is shown")
		}
	}
	// The refusal of c's face is recorded as such; a's face was not read.
	var faceDenied bool
	for _, ev := range e.events(c) {
		if ev.Action == "adjudicate" && slices.Equal(ev.Categories, []string{"face"}) && ev.Outcome == audit.Deny && ev.Reason == "consent_missing" {
			faceDenied = true
		}
	}
	if !faceDenied {
		t.Errorf("the face check of case %s is not in c's audit events: %+v", ac, e.events(c))
	}
	var faceRead int
	for _, ev := range e.events(b) {
		if ev.Route == "GET /v1/cases/{id}" && ev.Outcome == audit.Allow && slices.Contains(ev.Categories, "face") {
			faceRead++
		}
	}
	if faceRead != 1 {
		t.Errorf("b's face was shown once, audit says %d", faceRead)
	}

	e.must(200, adj(req{method: "POST", path: "/v1/cases/" + ab + "/decision", body: map[string]any{"decision": "different"}}))
	r := e.do(adj(req{method: "POST", path: "/v1/cases/" + ab + "/decision", body: map[string]any{"decision": "same"}}))
	if r.status != http.StatusConflict || r.code() != "case_closed" {
		t.Errorf("deciding a decided case again: %d %s, want 409 case_closed", r.status, r.raw)
	}
}

// withRegistry rebuilds the registry and server of e with opt (the clock
// and audit log of e are kept).
func (e *env) withRegistry(opt registry.Options) {
	opt.Clock, opt.Audit = e.clock.Now, e.audit
	e.reg = registry.New(e.db, e.kr, opt)
	e.srv = New(e.reg, Options{Logger: discardLogger()})
}

// portalLogin logs a person in and returns the portal token.
func (e *env) portalLogin(id, code string) string {
	e.t.Helper()
	return e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}}).str("token")
}

// TestCareRetention: what the receipt and the portal's confirmation say
// about check-up data is what happens, with the default (erased with the
// person) and with a retention period (kept, readable only for care, then
// erased by maintenance) (issue 12, items 5 and 10).
func TestCareRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration
		says      string
	}{
		{"default: erased with the person", 0, "erased with your record"},
		{"90 days", 90 * 24 * time.Hour, "kept for 90 days, readable only for your care, and then erased"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.withRegistry(registry.Options{CareRetention: tc.retention})
			b := adultBody("Ada")
			b["consent"].(map[string]any)["decisions"] = []map[string]any{{"category": "health", "purpose": "research", "decision": "granted"}}
			reg := e.register(b)
			id, code := reg.str("id"), reg.body["receipt"].(map[string]any)["code"].(string)
			if cd := reg.body["receipt"].(map[string]any)["receipt"].(map[string]any)["careData"]; cd == nil || !strings.Contains(cd.(string), tc.says) {
				t.Errorf("registration receipt careData %v, want it to say %q", cd, tc.says)
			}
			exams := req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care"}
			e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"systolic": 120, "diastolic": 80}})

			// Withdrawing research keeps the exams for care.
			w := e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", role: consent.Registrar, purpose: "registration",
				body: map[string]any{"category": "health", "purpose": "research", "decision": "withdrawn", "method": "verbal", "notice_version": "n1", "language": "en"}})
			if !strings.Contains(w.str("notice"), tc.says) {
				t.Errorf("notice %q", w.str("notice"))
			}
			if n := len(e.must(200, exams).body["exams"].([]any)); n != 1 {
				t.Fatalf("after withdrawing research, %d exams for care, want 1", n)
			}

			// The person withdraws their registration in the portal, without
			// knowing the notice version.
			token := e.portalLogin(id, code)
			w = e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/consents", key: token,
				body: map[string]any{"category": "identity", "purpose": "registration", "decision": "withdrawn"}})
			if w.body["erased_person"] != true || !strings.Contains(w.str("notice"), tc.says) || !strings.Contains(w.str("notice"), "record, identity and biometric data are erased") {
				t.Errorf("withdrawal answer: %s", w.raw)
			}
			if c := w.body["consent"].(map[string]any); c["notice_version"] != "n1" || c["language"] != "en" || c["method"] != "portal" {
				t.Errorf("the portal's answer was not completed from the record: %v", c)
			}
			rc := w.body["receipt"].(map[string]any)
			inner := rc["receipt"].(map[string]any)
			if _, ok := rc["code"]; ok {
				t.Errorf("a withdrawal receipt carries a portal code field: %v", rc["code"])
			}
			if ps := inner["services"].([]any)[0].(map[string]any)["purposes"]; ps == nil {
				t.Errorf("withdrawal receipt purposes are null")
			}
			if wd, _ := inner["withdrawn"].([]any); len(wd) != 1 {
				t.Errorf("withdrawal receipt lists withdrawn %v", inner["withdrawn"])
			}
			if !strings.Contains(inner["careData"].(string), tc.says) {
				t.Errorf("withdrawal receipt careData %q", inner["careData"])
			}

			e.must(410, req{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"})
			if tc.retention == 0 {
				e.must(410, exams)
				return
			}
			// Kept for care only.
			if n := len(e.must(200, exams).body["exams"].([]any)); n != 1 {
				t.Errorf("within retention, %d exams for care, want 1", n)
			}
			e.must(410, req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"systolic": 120, "diastolic": 80}})
			e.must(410, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Researcher, purpose: "research"})
			e.must(410, req{method: "GET", path: "/v1/persons/" + id + "/export", role: consent.Registrar, purpose: "registration"})
			rep, err := e.reg.Maintain(context.Background())
			if err != nil || rep.CareDataErased != 0 {
				t.Fatalf("maintenance within the period: %+v %v", rep, err)
			}
			e.must(200, exams)
			e.clock.Advance(tc.retention + time.Hour)
			e.must(410, exams)
			rep, err = e.reg.Maintain(context.Background())
			if err != nil || rep.CareDataErased != 1 {
				t.Fatalf("maintenance after the period: %+v %v", rep, err)
			}
			var left int
			if err := e.db.View(context.Background(), func(tx store.Tx) error {
				es, err := tx.ListExams(context.Background(), id)
				left = len(es)
				return err
			}); err != nil || left != 0 {
				t.Errorf("after the period, %d exam rows left (%v)", left, err)
			}
		})
	}
}

// TestMergedRecordIsOneHistory: after a "same" decision, a write to the
// alias is refused with 409 merged_record naming the survivor, and the care
// history read through either record holds both records' exams (issue 12,
// item 6).
func TestMergedRecordIsOneHistory(t *testing.T) {
	e := newEnv(t)
	a := e.register(withFaceDedup(adultBody("Ana"), "granted")).str("id")
	b := e.register(withFaceDedup(adultBody("Ana2"), "granted")).str("id")
	exam := func(id string) req {
		return req{method: "POST", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care", body: map[string]any{"systolic": 120, "diastolic": 80}}
	}
	e.must(201, exam(a))
	e.clock.Advance(time.Hour)
	e.must(201, exam(b))
	e.must(201, req{method: "POST", path: "/v1/persons/" + b + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "S0", "type": "blood", "storage_location": "fridge 1", "consented_uses": []string{"care"}}})
	cid := e.openCase(a, b)
	e.must(200, req{method: "POST", path: "/v1/cases/" + cid + "/decision", role: consent.Adjudicator, purpose: "deduplication", body: map[string]any{"decision": "same"}})

	r := e.do(exam(b))
	if r.status != http.StatusConflict || r.code() != "merged_record" || !strings.Contains(r.str("detail"), a) {
		t.Errorf("exam written to the alias: %d %s, want 409 merged_record naming %s", r.status, r.raw, a)
	}
	r = e.do(req{method: "POST", path: "/v1/persons/" + b + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "S1", "type": "blood", "storage_location": "fridge 1", "consented_uses": []string{"care"}}})
	if r.status != http.StatusConflict || r.code() != "merged_record" {
		t.Errorf("specimen added to the alias: %d %s, want 409 merged_record", r.status, r.raw)
	}
	e.clock.Advance(time.Hour)
	e.must(201, exam(a))
	for _, id := range []string{a, b} {
		got := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/exams", role: consent.Clinician, purpose: "care"}).body["exams"].([]any)
		if len(got) != 3 {
			t.Fatalf("care history through %s: %d exams, want 3 (both records)", id, len(got))
		}
		if got[1].(map[string]any)["merged_from"] != b || got[0].(map[string]any)["merged_from"] != nil {
			t.Errorf("care history through %s is not in time order with the alias's exam marked: %v", id, got)
		}
	}
	for _, id := range []string{a, b} {
		sps := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/specimens", role: consent.Clinician, purpose: "care"}).body["specimens"].([]any)
		if len(sps) != 1 || sps[0].(map[string]any)["merged_from"] != b {
			t.Errorf("specimens through %s: %v, want the alias's one, marked", id, sps)
		}
	}
}

// TestExportListsBiometricReferences: the subject export lists every
// biometric reference held (modality, position, purposes, when), never the
// template (issue 12, item 9).
func TestExportListsBiometricReferences(t *testing.T) {
	e := newEnv(t)
	reg := e.register(withFaceDedup(adultBody("Ana"), "granted"))
	id, code := reg.str("id"), reg.body["receipt"].(map[string]any)["code"].(string)
	e.enrolFace(id)
	x := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/export", key: e.portalLogin(id, code)})
	bs, _ := x.body["biometrics"].([]any)
	if len(bs) != 1 {
		t.Fatalf("export lists %d biometric references, want 1: %s", len(bs), x.raw)
	}
	ref := bs[0].(map[string]any)
	if ref["modality"] != "face" || ref["position"] != "face" || ref["created_at"] == nil || ref["reference_id"] == "" {
		t.Errorf("reference: %v", ref)
	}
	if ps, _ := ref["purposes"].([]any); len(ps) != 1 || ps[0] != "deduplication" {
		t.Errorf("purposes %v, want [deduplication]", ref["purposes"])
	}
	for k := range ref {
		if strings.Contains(k, "template") || k == "data" {
			t.Errorf("export carries %q", k)
		}
	}
}

// TestHouseholdRules: each household rule the trial broke has its own code
// (issue 12, item 13).
func TestHouseholdRules(t *testing.T) {
	e := newEnv(t)
	regq := func(b map[string]any) req {
		return req{method: "POST", path: "/v1/persons", role: consent.Registrar, purpose: "registration", body: b}
	}
	hh := func(body map[string]any) req {
		return req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: body}
	}
	// Area code format, wherever an area code is given.
	for _, bad := range []string{"", "-A", "a b", "A/1", strings.Repeat("A", 33), "Ärea"} {
		want := "invalid_area_code"
		if bad == "" {
			want = "missing_field"
		}
		if r := e.do(hh(map[string]any{"address": "1 Road", "area_code": bad})); r.status != 400 || r.code() != want {
			t.Errorf("household area %q: %d %s", bad, r.status, r.raw)
		}
		b := adultBody("Ada")
		b["area_code"] = bad
		if r := e.do(regq(b)); r.status != 400 || r.code() != want {
			t.Errorf("person area %q: %d %s", bad, r.status, r.raw)
		}
	}
	hid := e.must(201, hh(map[string]any{"address": "1 Road", "area_code": "A1"})).str("id")
	member := func(name, birth, rel string) string {
		b := adultBody(name)
		b["birth_date"], b["household_id"], b["relationship"] = birth, hid, rel
		if birth > "2008" {
			b["guardian_id"] = e.register(adultBody("Guardian of " + name)).str("id")
		}
		return e.register(b).str("id")
	}
	// A relationship is required with a household.
	b := adultBody("NoRel")
	b["household_id"] = hid
	if r := e.do(regq(b)); r.status != 400 || r.code() != "missing_field" || r.str("field") != "relationship" {
		t.Errorf("household without relationship: %d %s", r.status, r.raw)
	}
	// A minor is never head.
	kid := adultBody("Kid")
	kid["birth_date"], kid["household_id"], kid["relationship"] = "2014-05-05", hid, "head"
	kid["guardian_id"] = e.register(adultBody("Parent")).str("id")
	if r := e.do(regq(kid)); r.status != 422 || r.code() != "minor_cannot_be_head" {
		t.Errorf("minor registered as head: %d %s", r.status, r.raw)
	}
	head := member("Head", "1970-01-01", "head")
	child := member("Child", "2014-05-05", "child")
	adult := member("Adult", "1995-01-01", "child")
	for _, q := range []req{
		{method: "PUT", path: "/v1/households/" + hid + "/head", body: map[string]any{"person_id": child}},
		{method: "POST", path: "/v1/households/" + hid + "/split", body: map[string]any{"person_ids": []string{child}, "head_id": child, "address": "2 Road", "area_code": "A1"}},
	} {
		q.role, q.purpose = consent.Registrar, "registration"
		if r := e.do(q); r.status != 422 || r.code() != "minor_cannot_be_head" {
			t.Errorf("%s %s making a 12-year-old head: %d %s", q.method, q.path, r.status, r.raw)
		}
	}
	// The head does not walk out on the others.
	other := e.must(201, hh(map[string]any{"address": "3 Road", "area_code": "A1"})).str("id")
	for _, q := range []req{
		{method: "POST", path: "/v1/households/" + other + "/members", body: map[string]any{"person_id": head, "relationship": "parent"}},
		{method: "POST", path: "/v1/households/" + hid + "/members", body: map[string]any{"person_id": head, "relationship": "spouse"}},
		{method: "POST", path: "/v1/households/" + hid + "/split", body: map[string]any{"person_ids": []string{head, adult}, "head_id": adult, "address": "2 Road", "area_code": "A1"}},
	} {
		q.role, q.purpose = consent.Registrar, "registration"
		if r := e.do(q); r.status != 422 || r.code() != "head_must_stay" {
			t.Errorf("%s %s taking the head away: %d %s", q.method, q.path, r.status, r.raw)
		}
	}
	got := e.must(200, req{method: "GET", path: "/v1/households/" + hid, role: consent.Registrar, purpose: "registration"})
	if got.str("head_id") != head {
		t.Errorf("the household lost its head: %s", got.raw)
	}
	// Everyone moving together, the head included, is fine.
	split := e.must(201, req{method: "POST", path: "/v1/households/" + hid + "/split", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"person_ids": []string{head, child, adult}, "head_id": head, "address": "2 Road", "area_code": "A1"}})
	if split.str("head_id") != head || len(split.body["members"].([]any)) != 3 {
		t.Errorf("whole household split off: %s", split.raw)
	}
}

// TestOperationsGoThroughTheGate: audit metadata, consent statistics and
// sites are decided by the policy's operation table and every attempt,
// allowed or refused, is in the audit log (issue 12, item 15).
func TestOperationsGoThroughTheGate(t *testing.T) {
	e := newEnv(t)
	before := e.auditSize()
	for _, tc := range []struct {
		q      req
		status int
	}{
		{req{method: "GET", path: "/v1/audit/events", role: consent.Registrar}, 403},
		{req{method: "GET", path: "/v1/audit/stats", role: consent.Clinician}, 403},
		{req{method: "GET", path: "/v1/stats/consent", role: consent.Admin}, 403},
		{req{method: "POST", path: "/v1/sites", role: consent.Auditor, body: map[string]any{"code": "s9", "name": "Nine", "area_code": "A1"}}, 403},
		{req{method: "GET", path: "/v1/stats/consent", role: consent.Auditor}, 200},
		{req{method: "POST", path: "/v1/sites", role: consent.Admin, body: map[string]any{"code": "s9", "name": "Nine", "area_code": "A1"}}, 201},
	} {
		e.must(tc.status, tc.q)
	}
	if got := e.auditSize() - before; got != 6 {
		t.Errorf("%d audit events for 6 decisions", got)
	}
}
