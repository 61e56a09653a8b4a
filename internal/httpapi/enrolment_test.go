package httpapi

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
)

func readFVC(t *testing.T, dir string, finger, impression int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d_%d.tif", finger, impression)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withBiometricConsent(b map[string]any) map[string]any {
	var ds []map[string]any
	for _, p := range []string{"verification", "deduplication"} {
		ds = append(ds, map[string]any{"category": "fingerprint", "purpose": p, "decision": "granted"})
	}
	b["consent"].(map[string]any)["decisions"] = ds
	return b
}

// TestEnrolmentDeduplicationAndVerification is the enrolment acceptance
// with FVC2002 DB1 B: ten people enrolled from impression 1; impression 2 of
// one finger, enrolled as a new person, opens a case against the first;
// verification with another impression of the same finger matches, with
// another finger does not; the adjudicator lists the case; declined people
// are neither searched nor searchable.
func TestEnrolmentDeduplicationAndVerification(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	e := newEnv(t)
	ids := map[int]string{}
	for f := 101; f <= 110; f++ {
		id := e.register(withBiometricConsent(adultBody(fmt.Sprintf("P%d", f)))).str("id")
		ids[f] = id
		r := e.must(201, req{method: "POST", path: "/v1/persons/" + id + "/biometrics", role: consent.Registrar, purpose: "deduplication",
			body: map[string]any{"modality": "fingerprint", "position": "right_index", "format": "image", "data": readFVC(t, dir, f, 1)}})
		if n := len(r.body["duplicates"].([]any)); n != 0 {
			t.Errorf("finger %d: %d duplicates among distinct fingers: %s", f, n, r.raw)
		}
	}
	// The same finger comes back as a "new" person.
	dup := e.register(withBiometricConsent(adultBody("Again"))).str("id")
	r := e.must(201, req{method: "POST", path: "/v1/persons/" + dup + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "format": "image", "data": readFVC(t, dir, 104, 2)}})
	ds := r.body["duplicates"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["person_id"] != ids[104] {
		t.Fatalf("impression 2 of finger 104 should find the person of finger 104 only: %s", r.raw)
	}
	caseID := ds[0].(map[string]any)["case_id"].(string)
	cases := e.must(200, req{method: "GET", path: "/v1/cases", role: consent.Adjudicator, purpose: "deduplication"})
	cs := cases.body["cases"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["id"] != caseID {
		t.Fatalf("adjudicator's open cases: %s", cases.raw)
	}
	pids := cs[0].(map[string]any)["person_ids"].([]any)
	if pids[0] != ids[104] || pids[1] != dup {
		t.Errorf("case persons %v, want the earlier (%s) first, then %s", pids, ids[104], dup)
	}
	detail := e.must(200, req{method: "GET", path: "/v1/cases/" + caseID, role: consent.Adjudicator, purpose: "deduplication"})
	if recs := detail.body["records"].([]any); len(recs) != 2 {
		t.Errorf("case detail: %s", detail.raw)
	}
	e.must(403, req{method: "GET", path: "/v1/cases", role: consent.Registrar, purpose: "registration"})

	// 1:1 verification answers match / no match and nothing else.
	v := e.must(200, req{method: "POST", path: "/v1/verify", role: consent.Verifier, purpose: "verification",
		body: map[string]any{"person_id": ids[107], "modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 107, 3)}})
	if v.body["match"] != true || len(v.body) != 1 {
		t.Errorf("same finger: %s", v.raw)
	}
	v = e.must(200, req{method: "POST", path: "/v1/verify", role: consent.Verifier, purpose: "verification",
		body: map[string]any{"person_id": ids[107], "modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 108, 3)}})
	if v.body["match"] != false || len(v.body) != 1 {
		t.Errorf("other finger: %s", v.raw)
	}

	// "same" merges: the newer record becomes an alias of the older.
	d := e.must(200, req{method: "POST", path: "/v1/cases/" + caseID + "/decision", role: consent.Adjudicator, purpose: "deduplication", body: map[string]any{"decision": "same", "note": "same finger"}})
	if d.str("status") != "decided" {
		t.Errorf("decision: %s", d.raw)
	}
	p := e.must(200, req{method: "GET", path: "/v1/persons/" + dup, role: consent.Registrar, purpose: "registration"})
	if p.str("alias_of") != ids[104] {
		t.Errorf("merged record: %s", p.raw)
	}
	// A capture sent to the merged record is refused, naming the survivor.
	if r := e.do(req{method: "POST", path: "/v1/persons/" + dup + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "left_index", "data": readFVC(t, dir, 104, 5)}}); r.status != 409 || r.code() != "merged_record" || !strings.Contains(r.str("detail"), ids[104]) {
		t.Errorf("capture to a merged record: %d %s, want 409 merged_record naming %s", r.status, r.raw, ids[104])
	}
	e.must(409, req{method: "POST", path: "/v1/cases/" + caseID + "/decision", role: consent.Adjudicator, purpose: "deduplication", body: map[string]any{"decision": "different"}})

	// A person who declined deduplication is neither searched nor searchable.
	decl := adultBody("Declined")
	decl["consent"].(map[string]any)["decisions"] = []map[string]any{{"category": "fingerprint", "purpose": "deduplication", "decision": "declined"}, {"category": "fingerprint", "purpose": "verification", "decision": "granted"}}
	did := e.register(decl).str("id")
	e.must(403, req{method: "POST", path: "/v1/persons/" + did + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 109, 2)}})
	r = e.must(201, req{method: "POST", path: "/v1/persons/" + did + "/biometrics", role: consent.Registrar, purpose: "verification",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 109, 2)}})
	if n := len(r.body["duplicates"].([]any)); n != 0 {
		t.Errorf("a verification capture was searched 1:N: %s", r.raw)
	}
	probe := e.register(withBiometricConsent(adultBody("Probe"))).str("id")
	r = e.must(201, req{method: "POST", path: "/v1/persons/" + probe + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 109, 4)}})
	for _, x := range r.body["duplicates"].([]any) {
		if x.(map[string]any)["person_id"] == did {
			t.Errorf("the person who declined deduplication was found: %s", r.raw)
		}
	}
	// Withdrawing deduplication takes a person out of the gallery.
	e.must(201, req{method: "POST", path: "/v1/persons/" + ids[110] + "/consents", role: consent.Registrar, purpose: "registration",
		body: map[string]any{"category": "fingerprint", "purpose": "deduplication", "decision": "withdrawn", "method": "verbal", "notice_version": "n1", "language": "en"}})
	again := e.register(withBiometricConsent(adultBody("Again110"))).str("id")
	r = e.must(201, req{method: "POST", path: "/v1/persons/" + again + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 110, 2)}})
	for _, x := range r.body["duplicates"].([]any) {
		if x.(map[string]any)["person_id"] == ids[110] {
			t.Errorf("a person who withdrew deduplication is still a candidate: %s", r.raw)
		}
	}
	// Bad captures.
	e.must(422, req{method: "POST", path: "/v1/persons/" + probe + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": []byte("not an image")}})
	e.must(400, req{method: "POST", path: "/v1/persons/" + probe + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "voice", "position": "right_index", "data": []byte("x")}})
	e.must(400, req{method: "POST", path: "/v1/persons/" + probe + "/biometrics", role: consent.Registrar, purpose: "deduplication",
		body: map[string]any{"modality": "fingerprint", "position": "left_eye", "data": []byte("x")}})
}

// TestConcurrentDuplicatesFindEachOther: two captures of one finger
// enrolled at the same moment, as two new people, still meet: the 1:N scans
// of one modality take turns with the commit that adds each template.
func TestConcurrentDuplicatesFindEachOther(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	e := newEnv(t)
	a := e.register(withBiometricConsent(adultBody("Twin A"))).str("id")
	b := e.register(withBiometricConsent(adultBody("Twin B"))).str("id")
	done := make(chan resp, 2)
	for i, id := range []string{a, b} {
		go func() {
			done <- e.do(req{method: "POST", path: "/v1/persons/" + id + "/biometrics", role: consent.Registrar, purpose: "deduplication",
				body: map[string]any{"modality": "fingerprint", "position": "right_index", "data": readFVC(t, dir, 103, i+1)}})
		}()
	}
	found := 0
	for range 2 {
		r := <-done
		if r.status != 201 {
			t.Fatalf("enrolment: %d %s", r.status, r.raw)
		}
		found += len(r.body["duplicates"].([]any))
	}
	if found != 1 {
		t.Errorf("the two captures found each other %d times, want exactly once (by whichever came second)", found)
	}
}
