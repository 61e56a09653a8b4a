package httpapi

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// registerCell reads one measure of GET /v1/reports/register.
func registerCell(t *testing.T, e *env, measure string, k int) (count *int, suppressed bool) {
	t.Helper()
	r := e.must(200, req{method: "GET", path: fmt.Sprintf("/v1/reports/register?k=%d", k), role: consent.Manager})
	var doc struct {
		Cells []struct {
			Measure    string `json:"measure"`
			Count      *int   `json:"count"`
			Suppressed bool   `json:"suppressed"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.body["note"]; ok {
		t.Errorf("the register report still carries a note: %s", r.raw)
	}
	for _, c := range doc.Cells {
		if c.Measure == measure {
			return c.Count, c.Suppressed
		}
	}
	t.Fatalf("no %s in the register report: %s", measure, r.raw)
	return nil, false
}

// TestRegisterReportCountsEstimatedBirthDates: persons registered with a
// year, a year and month, or a full date marked estimated are counted in
// the register quality report; persons with a known full date are not; a
// rectification to a known date takes the person out of the count (the
// storetest case covers erasure). Under k the count is suppressed.
func TestRegisterReportCountsEstimatedBirthDates(t *testing.T) {
	e := newEnv(t)
	const measure = "persons_with_estimated_birth_date"
	var ids []string
	for i := 0; i < 12; i++ {
		b := adultBody(fmt.Sprintf("Est%c", 'A'+i))
		switch i % 3 {
		case 0:
			b["birth_date"] = "1975"
		case 1:
			b["birth_date"] = "1981-03"
		default:
			b["birth_date"] = fmt.Sprintf("1970-05-%02d", i+1)
			b["birth_date_estimated"] = true
		}
		ids = append(ids, e.register(b).str("id"))
	}
	for i := 0; i < 5; i++ { // known birth dates: not counted
		b := adultBody(fmt.Sprintf("Known%c", 'A'+i))
		b["birth_date"] = fmt.Sprintf("1990-01-%02d", i+1)
		e.register(b)
	}
	if n, sup := registerCell(t, e, measure, 10); sup || n == nil || *n != 12 {
		t.Fatalf("estimated birth dates: count %s suppressed %v, want 12", showCount(n), sup)
	}
	// Partial dates have a birth year: the coverage report puts these 17
	// women of 1970-1990 in the 18-64 band, none in the unknown band.
	r := e.must(200, req{method: "GET", path: "/v1/reports/coverage?area=A1&k=2", role: consent.Manager})
	var cov struct {
		Cells []coverageCell `json:"cells"`
	}
	if err := json.Unmarshal(r.raw, &cov); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range cov.Cells {
		if c.AreaCode != "A1" || c.Sex != "female" || c.Registered == nil {
			continue
		}
		switch c.AgeBand {
		case "18-64":
			found++
			if *c.Registered != 17 {
				t.Errorf("A1 18-64 female: registered %d, want 17", *c.Registered)
			}
		case "unknown":
			if *c.Registered != 0 {
				t.Errorf("A1 unknown-age female: registered %d, want 0 (partial dates have a year)", *c.Registered)
			}
		}
	}
	if found != 1 {
		t.Errorf("no A1 18-64 female cell in %s", r.raw)
	}

	// Rectified to a known date: no longer estimated.
	e.must(200, req{method: "PATCH", path: "/v1/persons/" + ids[0], role: consent.Registrar, purpose: "registration",
		body: map[string]any{"birth_date": "1975-06-01", "birth_date_estimated": false}})
	// A rectified full date keeps its mark when none is given.
	e.must(200, req{method: "PATCH", path: "/v1/persons/" + ids[2], role: consent.Registrar, purpose: "registration",
		body: map[string]any{"birth_date": "1970-05-30"}})
	// A partial date stays estimated even if the mark is cleared.
	got := e.must(200, req{method: "PATCH", path: "/v1/persons/" + ids[1], role: consent.Registrar, purpose: "registration",
		body: map[string]any{"birth_date_estimated": false}})
	if got.body["birth_date_estimated"] != true {
		t.Errorf("a partial date lost its estimated mark: %s", got.raw)
	}
	if n, sup := registerCell(t, e, measure, 10); sup || n == nil || *n != 11 {
		t.Fatalf("after rectification: count %s suppressed %v, want 11", showCount(n), sup)
	}
	// A known date marked estimated by rectification enters the count.
	e.must(200, req{method: "PATCH", path: "/v1/persons/" + ids[0], role: consent.Registrar, purpose: "registration",
		body: map[string]any{"birth_date_estimated": true}})
	if n, _ := registerCell(t, e, measure, 10); n == nil || *n != 12 {
		t.Fatalf("after marking estimated: count %s, want 12", showCount(n))
	}
	// With k above the count it is suppressed, never shown.
	if n, sup := registerCell(t, e, measure, 13); !sup || n != nil {
		t.Errorf("k=13: count %s suppressed %v, want suppressed without a count", showCount(n), sup)
	}
}

func showCount(n *int) string {
	if n == nil {
		return "none"
	}
	return fmt.Sprint(*n)
}
