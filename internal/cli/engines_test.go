package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/datasets"
)

// TestEvalFingerprintCommand runs the FVC protocol on one B set through the
// CLI and checks the JSON the contract names.
func TestEvalFingerprintCommand(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	code, out := run("eval", "fingerprint", "--dataset", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if r["genuine"] != 280.0 || r["impostor"] != 2880.0 {
		t.Errorf("pairs: genuine %v impostor %v, want 280 and 2880", r["genuine"], r["impostor"])
	}
	for _, k := range []string{"eer", "fmr100", "fmr1000", "zero_fmr"} {
		v, ok := r[k].(float64)
		if !ok || v < 0 || v > 1 {
			t.Errorf("%s = %v, want a fraction", k, r[k])
		}
	}
	if r["eer"].(float64) > 0.05 {
		t.Errorf("EER on FVC2002 DB1 B = %.3f, worse than 5%%", r["eer"])
	}
}

// TestBenchIrisCommand checks the iris bench's contract fields on a small
// synthetic gallery.
func TestBenchIrisCommand(t *testing.T) {
	code, out := run("bench", "iris", "--gallery", "2000", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"comparisons_per_second_per_core", "gallery", "code_bits", "rotations", "roofline_comparisons_per_second_per_core"} {
		if v, ok := r[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, r[k])
		}
	}
}
