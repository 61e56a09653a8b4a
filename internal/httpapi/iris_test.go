package httpapi

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
)

// TestIrisEnrolmentOnCASIA runs the enrolment path with real eye images when
// the CASIA-IrisV1 copy is on this machine (its licence forbids shipping it):
// eyes enrolled from session 1, a second image of one eye as a new person
// finds the first, and 1:1 verification tells the eye from another.
func TestIrisEnrolmentOnCASIA(t *testing.T) {
	dir := datasets.IrisSet(t)
	img := func(eye, session, n int) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%03d", eye), fmt.Sprint(session), fmt.Sprintf("%03d_%d_%d.bmp", eye, session, n)))
		if err != nil {
			t.Skipf("CASIA layout not as expected (%v)", err)
		}
		return b
	}
	e := newEnv(t)
	consents := func(b map[string]any) map[string]any {
		b["consent"].(map[string]any)["decisions"] = []map[string]any{
			{"category": "iris", "purpose": "deduplication", "decision": "granted"},
			{"category": "iris", "purpose": "verification", "decision": "granted"}}
		return b
	}
	ids := map[int]string{}
	for eye := 1; eye <= 8; eye++ {
		ids[eye] = e.register(consents(adultBody(fmt.Sprintf("Eye%d", eye)))).str("id")
		r := e.must(201, req{method: "POST", path: "/v1/persons/" + ids[eye] + "/biometrics", role: consent.Registrar, purpose: "deduplication",
			body: map[string]any{"modality": "iris", "position": "left_eye", "data": img(eye, 1, 1)}})
		if n := len(r.body["duplicates"].([]any)); n != 0 {
			t.Errorf("eye %d: %d duplicates among distinct eyes", eye, n)
		}
	}
	dup := e.register(consents(adultBody("Again"))).str("id")
	r := e.must(201, req{method: "POST", path: "/v1/persons/" + dup + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "iris", "position": "left_eye", "data": img(5, 2, 1)}})
	ds := r.body["duplicates"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["person_id"] != ids[5] {
		t.Errorf("a second image of eye 5 should find eye 5's person: %s", r.raw)
	}
	v := e.must(200, req{method: "POST", path: "/v1/verify", role: consent.Verifier, purpose: "verification",
		body: map[string]any{"person_id": ids[3], "modality": "iris", "position": "left_eye", "data": img(3, 2, 2)}})
	if v.body["match"] != true {
		t.Errorf("same eye: %s", v.raw)
	}
	v = e.must(200, req{method: "POST", path: "/v1/verify", role: consent.Verifier, purpose: "verification",
		body: map[string]any{"person_id": ids[3], "modality": "iris", "position": "left_eye", "data": img(4, 2, 2)}})
	if v.body["match"] != false {
		t.Errorf("other eye: %s", v.raw)
	}
}
