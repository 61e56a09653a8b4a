package iris

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeEye renders s as a PNG at dir/name.
func writeEye(t *testing.T, dir, name string, s eyeSpec) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, s.render()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvaluateSynthetic(t *testing.T) {
	dir := t.TempDir()
	const eyes, perEye = 3, 3
	for e := range eyes {
		for k := range perEye {
			s := baseEye(uint64(100 + e))
			s.captureSeed = uint64(1000*e + k)
			s.rotation = float64(k-1) * 3 * math.Pi / 180
			s.pr = 36 + float64(4*k)
			// Images in the eye folder and in a session subfolder.
			sub := filepath.Join(dir, fmt.Sprintf("eye%d", e), fmt.Sprint("s", k%2))
			writeEye(t, sub, fmt.Sprintf("%d.png", k), s)
		}
	}
	// An image that cannot enrol: every one of its pairs is a non-match.
	if err := os.WriteFile(filepath.Join(dir, "eye0", "broken.bmp"), []byte("BMnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Ignored: not an image extension, and a hidden folder.
	if err := os.WriteFile(filepath.Join(dir, "eye1", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeEye(t, filepath.Join(dir, ".cache"), "x.png", baseEye(9))

	r, err := Evaluate(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	images := eyes*perEye + 1
	// eye0 has 4 images (6 pairs), the others 3 (3 pairs each).
	genuine := 6 + 3 + 3
	impostor := images*(images-1)/2 - genuine
	got := struct{ Eyes, Images, Genuine, Impostor, Failed int }{r.Eyes, r.Images, r.Genuine, r.Impostor, r.FailedToEnrol}
	want := struct{ Eyes, Images, Genuine, Impostor, Failed int }{eyes, images, genuine, impostor, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if math.Abs(r.FTE-1.0/float64(images)) > 1e-12 {
		t.Errorf("FTE = %v, want %v", r.FTE, 1.0/float64(images))
	}
	// The failed image's 3 genuine pairs are non-matches at any threshold;
	// every other genuine pair matches.
	if want := 3.0 / float64(genuine); math.Abs(r.ZeroFMR-want) > 1e-12 {
		t.Errorf("ZeroFMR = %v, want %v (only the failed image's pairs)", r.ZeroFMR, want)
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, r); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&buf); err != nil {
		t.Errorf("plot is not a PNG: %v", err)
	}
}

func TestEvaluateRejectsBadDir(t *testing.T) {
	if _, err := Evaluate(context.Background(), filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("missing directory: want an error")
	}
	if _, err := Evaluate(context.Background(), t.TempDir(), nil); err == nil {
		t.Error("empty directory: want an error")
	}
}

// A model fitted on too few impostor pairs is reported as not fitted, never
// as an infinite threshold (which JSON cannot carry).
func TestCheckModelUnfitted(t *testing.T) {
	r := &EvalResult{gen: []float64{0.1}, imp: []float64{0.45}}
	if ps := CheckModel(Model{Mean: 0.5, DOF: 300}, r); ps != nil {
		t.Errorf("unfitted model checked: %+v", ps)
	}
	ps := CheckModel(DefaultModel(), r)
	if len(ps) != len(ModelTargets) || ps[0].Impostors != 0 || ps[0].FNMR != 0 || ps[0].Measurable {
		t.Errorf("shipped model on one pair each: %+v", ps)
	}
}

// TestFitShifts draws impostor distances as the minimum of k independent
// normal shifts and checks that the tail fit recovers k from the decades it
// can measure.
func TestFitShifts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const k, m1, sd = 12, 0.5, 0.025
	imp := make([]float64, 400_000)
	for i := range imp {
		v := 1.0
		for range k {
			v = min(v, m1+sd*rng.NormFloat64())
		}
		imp[i] = v
	}
	slices.Sort(imp)
	got, at := fitShifts(imp, m1, sd)
	if len(at) != 2 || at[0] != 1e-3 || at[1] != 1e-4 {
		t.Errorf("fitted at %v, want [0.001 0.0001] (400,000 pairs, 20 needed beyond each)", at)
	}
	if math.Abs(got-k) > 0.2*k {
		t.Errorf("fitted k = %.2f, want %d within 20%%", got, k)
	}
	if k, at := fitShifts(imp[:1000], m1, sd); k != 0 || at != nil {
		t.Errorf("1,000 pairs: fitted k %v at %v, want nothing", k, at)
	}
}
