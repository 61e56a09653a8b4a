package httpapi

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

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
// each request left exactly one audit event per person it touches (one for a
// single record; two for a duplicate case), whether it was allowed or
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

	other := e.register(adultBody("Other")).str("id")
	var caseID = "case-walk"
	if err := e.db.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.OpenCase(context.Background(), store.Case{ID: caseID, PersonA: pid, PersonB: other, Score: 9, Modalities: "fingerprint", CreatedAt: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	face := pngFace(t)
	fingerPNG, err := os.ReadFile("../biometric/fingerprint/testdata/tiny.png")
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]any{
		"POST /v1/persons/{id}/biometrics":             map[string]any{"modality": "face", "position": "face", "format": "image", "data": face},
		"POST /v1/verify":                              map[string]any{"person_id": pid, "modality": "fingerprint", "position": "right_index", "data": fingerPNG},
		"POST /v1/cases/{id}/decision":                 map[string]any{"decision": "different", "note": "walk"},
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
		consent.Manager: "registration",
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
			if strings.HasPrefix(pattern, "/v1/cases/") {
				path = strings.Replace(path, "{id}", caseID, 1)
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
			want := uint64(1)
			switch {
			case role == consent.Subject && rt.Access != Portal:
				// refused at the gate: one event
			case pattern == "/v1/cases":
				want = max(1, 2*e.openCases()) // each person named in the list
			case strings.HasPrefix(pattern, "/v1/cases/"):
				want = 2 // a case touches both of its persons: one event each
			}
			if got := e.auditSize() - before; got != want {
				t.Errorf("%s as %s -> %d %s: %d audit events, want exactly %d", rt.Pattern, role, r.status, r.code(), got, want)
			}
			walked++
		}
	}
	if walked < 150 {
		t.Errorf("walked only %d (route, role) pairs", walked)
	}
}

func (e *env) openCases() uint64 {
	var n int
	err := e.db.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.ListCases(context.Background(), store.CaseOpen, 1000)
		n = len(cs)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return uint64(n)
}

// pngFace is a synthetic 128x128 "photo" (a grey gradient): enough for the
// face store, which keeps photos for adjudicators and matches nothing.
func pngFace(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 128, 128))
	for y := range 128 {
		for x := range 128 {
			img.SetGray(x, y, color.Gray{Y: uint8(x + y)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
