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

// TestEvalFingerprintCrossSet runs the cross-set protocol through the CLI
// on two shared sets: thresholds fitted on one, the other scored at them,
// and the frozen-threshold EER is never below the set's own.
func TestEvalFingerprintCrossSet(t *testing.T) {
	test := datasets.FingerprintSet(t, "fvc2002/db1_b")
	cal := datasets.FingerprintSet(t, "fvc2000/db1_b")
	code, out := run("eval", "fingerprint", "--dataset", test, "--calibrate-on", cal, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r struct {
		Calibration []struct {
			Genuine, Impostor int
		}
		Sets []struct {
			InSample struct {
				EER float64 `json:"eer"`
			} `json:"in_sample"`
			Out struct {
				EER float64 `json:"eer"`
				At  []struct {
					Measured bool    `json:"measured"`
					FMR      float64 `json:"fmr"`
				} `json:"at"`
			} `json:"out_of_sample"`
		}
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if len(r.Calibration) != 1 || r.Calibration[0].Genuine != 280 || r.Calibration[0].Impostor != 2880 {
		t.Fatalf("calibration %+v, want one fit on 280 genuine and 2,880 impostor pairs", r.Calibration)
	}
	if len(r.Sets) != 1 {
		t.Fatalf("%d test sets, want 1", len(r.Sets))
	}
	s := r.Sets[0]
	if s.Out.EER < s.InSample.EER || s.Out.EER > 0.2 {
		t.Errorf("out-of-sample EER %.4f against in-sample %.4f: want at least the in-sample one, and sane", s.Out.EER, s.InSample.EER)
	}
	if len(s.Out.At) != 4 || !s.Out.At[2].Measured || s.Out.At[3].Measured {
		t.Errorf("points %+v: want EER, 1e-2, 1e-3 fitted from 2,880 impostors and 1e-4 not", s.Out.At)
	}
}
