package httpapi

import (
	"slices"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
)

// TestCaseFingerprintMinutiae (issue 13, item 9): the case of a fingerprint
// duplicate (FVC2002 DB1 B finger 104, impressions 1 and 2) carries, for the
// evidence pair, both templates' minutiae (x, y, direction) and nothing of
// the template bytes; a case with a person who declined fingerprint
// deduplication carries none, and that refusal is in the person's audit.
func TestCaseFingerprintMinutiae(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	e := newEnv(t)
	enrol := func(pid string, impression int) map[string]any {
		return e.must(201, req{method: "POST", path: "/v1/persons/" + pid + "/biometrics", role: consent.Registrar, purpose: "deduplication",
			body: map[string]any{"modality": "fingerprint", "position": "right_index", "format": "image", "data": readFVC(t, dir, 104, impression)}}).body
	}
	a := e.register(withBiometricConsent(adultBody("First"))).str("id")
	enrol(a, 1)
	b := e.register(withBiometricConsent(adultBody("Again"))).str("id")
	ds := enrol(b, 2)["duplicates"].([]any)
	if len(ds) != 1 {
		t.Fatalf("impression 2 of finger 104 should find impression 1: %v", ds)
	}
	caseID := ds[0].(map[string]any)["case_id"].(string)

	adj := func(q req) req { q.role, q.purpose = consent.Adjudicator, "deduplication"; return q }
	d := e.must(200, adj(req{method: "GET", path: "/v1/cases/" + caseID}))
	fps, _ := d.body["fingerprints"].([]any)
	if len(fps) != 1 {
		t.Fatalf("one fingerprint evidence pair expected: %s", d.raw)
	}
	pair := fps[0].(map[string]any)
	if s, _ := pair["score"].(float64); s < 1 {
		t.Errorf("pair score %v, want the evidence that opened the case", pair["score"])
	}
	for _, side := range []string{"a", "b"} {
		m := pair[side].(map[string]any)
		if m["position"] != "right_index" || m["width"].(float64) < 100 || m["height"].(float64) < 100 {
			t.Errorf("side %s: %v", side, m)
		}
		ms := m["minutiae"].([]any)
		if len(ms) < 8 {
			t.Fatalf("side %s: %d minutiae", side, len(ms))
		}
		for _, x := range ms {
			p := x.(map[string]any)
			if len(p) != 3 || p["x"].(float64) < 0 || p["x"].(float64) > m["width"].(float64) || p["dir"].(float64) < 0 || p["dir"].(float64) >= 6.2832 {
				t.Fatalf("side %s: minutia %v is not (x, y, dir) inside the image", side, p)
			}
		}
	}
	for _, side := range d.body["records"].([]any) {
		if len(side.(map[string]any)) > 3 {
			t.Errorf("a record side carries more than person, photo and positions: %v", side)
		}
	}

	// c declined fingerprint deduplication (face granted, so c can be
	// adjudicated): no minutiae, and the refusal
	// is recorded as such.
	cb := adultBody("Cai")
	cb["consent"].(map[string]any)["decisions"] = []map[string]any{
		{"category": "face", "purpose": "deduplication", "decision": "granted"},
		{"category": "fingerprint", "purpose": "deduplication", "decision": "declined"}}
	c := e.register(cb).str("id")
	ca := e.openCase(c, a)
	d = e.must(200, adj(req{method: "GET", path: "/v1/cases/" + ca}))
	if _, ok := d.body["fingerprints"]; ok {
		t.Errorf("one person declined fingerprint deduplication, yet minutiae are shown: %s", d.raw)
	}
	var denied bool
	for _, ev := range e.events(c) {
		if ev.Action == "adjudicate" && slices.Equal(ev.Categories, []string{"fingerprint"}) && ev.Outcome == audit.Deny && ev.Reason == "consent_missing" {
			denied = true
		}
	}
	if !denied {
		t.Errorf("the fingerprint check of case %s is not in c's audit events: %+v", ca, e.events(c))
	}
	var read int
	for _, ev := range e.events(b) {
		if ev.Route == "GET /v1/cases/{id}" && ev.Outcome == audit.Allow && slices.Contains(ev.Categories, "fingerprint") {
			read++
		}
	}
	if read != 1 {
		t.Errorf("b's minutiae were shown once, audit says %d", read)
	}
}
