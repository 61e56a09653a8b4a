package httpapi

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
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
