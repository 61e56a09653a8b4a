package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

func (e *env) auditSize() uint64 {
	e.t.Helper()
	var n uint64
	err := e.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.AuditSize(context.Background())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestEveryPersonalRouteIsAudited walks every route that touches personal
// data with every role (and the person's own portal token) and checks that
// each request left exactly one audit event, whether it was allowed or
// denied. A new route that skips the gate fails here.
func TestEveryPersonalRouteIsAudited(t *testing.T) {
	e := newEnv(t)
	h := e.must(201, req{method: "POST", path: "/v1/households", role: consent.Registrar, purpose: "registration", body: map[string]any{"address": "1 Well St", "area_code": "A1"}})
	hid := h.str("id")
	pb := adultBody("Walker")
	pb["household_id"], pb["relationship"] = hid, "head"
	reg := e.register(pb)
	pid := reg.str("id")
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	sid := e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/specimens", role: consent.Clinician, purpose: "care",
		body: map[string]any{"label": "T1", "type": "saliva", "storage_location": "fridge", "consented_uses": []string{"care"}}}).str("id")

	bodies := map[string]any{
		"POST /v1/households":                          map[string]any{"address": "2 Well St", "area_code": "A1"},
		"POST /v1/households/{id}/members":             map[string]any{"person_id": pid, "relationship": "head"},
		"PUT /v1/households/{id}/head":                 map[string]any{"person_id": pid},
		"POST /v1/households/{id}/split":               map[string]any{"person_ids": []string{pid}, "head_id": pid, "address": "3 Well St", "area_code": "A1"},
		"POST /v1/persons":                             adultBody("New"),
		"POST /v1/persons/search":                      map[string]any{"given_name": "Walker", "family_name": "Tester", "birth_date": "1980-02-03"},
		"PATCH /v1/persons/{id}":                       map[string]any{"phone": "+1 555 0100"},
		"POST /v1/persons/{id}/consents":               map[string]any{"category": "iris", "purpose": "verification", "decision": "granted", "method": "verbal", "notice_version": "n1", "language": "en"},
		"POST /v1/persons/{id}/exams":                  map[string]any{"height_cm": 160},
		"POST /v1/persons/{id}/specimens":              map[string]any{"label": "T2", "type": "blood", "storage_location": "fridge", "consented_uses": []string{"care"}},
		"POST /v1/persons/{id}/specimens/{sid}/events": map[string]any{"event": "stored", "location": "freezer"},
	}
	purposeOf := map[consent.Role]string{
		consent.Admin: "registration", consent.Registrar: "registration", consent.Clinician: "care", consent.Verifier: "verification",
		consent.Adjudicator: "deduplication", consent.Researcher: "research", consent.Auditor: "registration",
	}
	roles := append([]consent.Role{}, consent.OperatorRoles...)
	roles = append(roles, consent.Subject)
	token := e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": pid, "code": code}}).str("token")
	walked := 0
	for _, rt := range e.srv.Routes() {
		if rt.Access != Personal && rt.Access != Portal {
			continue
		}
		method, pattern, _ := strings.Cut(rt.Pattern, " ")
		for _, role := range roles {
			path := pattern
			if strings.HasPrefix(pattern, "/v1/households/") {
				path = strings.Replace(path, "{id}", hid, 1)
			}
			path = strings.Replace(path, "{id}", pid, 1)
			path = strings.Replace(path, "{sid}", sid, 1)
			q := req{method: method, path: path, body: bodies[rt.Pattern]}
			if role == consent.Subject {
				q.key = token
			} else {
				q.role, q.purpose = role, purposeOf[role]
			}
			before := e.auditSize()
			r := e.do(q)
			if got := e.auditSize() - before; got != 1 {
				t.Errorf("%s as %s -> %d %s: %d audit events, want exactly 1", rt.Pattern, role, r.status, r.code(), got)
			}
			walked++
		}
	}
	if walked < 150 {
		t.Errorf("walked only %d (route, role) pairs", walked)
	}
}
