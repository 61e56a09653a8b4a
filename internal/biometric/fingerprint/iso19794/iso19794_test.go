package iso19794

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/assent-registry/assent/internal/datasets"
)

func sample() *Record {
	return &Record{
		Format: ISO, CaptureEquipment: 0x1234, Width: 300, Height: 400, ResX: 197, ResY: 197,
		Views: []View{
			{Finger: 2, ViewNumber: 1, ImpressionType: 0, Quality: 60, Minutiae: []Minutia{
				{Type: TypeEnding, X: 10, Y: 20, Angle: 0, Quality: 50},
				{Type: TypeBifurcation, X: 299, Y: 399, Angle: 255 * 2 * math.Pi / 256, Quality: 100},
				{Type: TypeOther, X: 0, Y: 0, Angle: math.Pi, Quality: 0},
			}},
			{Finger: 7, ViewNumber: 0, Quality: 0, Extended: []byte{0, 1, 0, 2, 9, 9}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  *Record
	}{
		{"two views", sample()},
		{"no views", &Record{Width: 1, Height: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.rec, got, cmpopts.EquateApprox(0, 1e-9), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMalformed},
		{"version", mod(func(b []byte) []byte { b[5] = '3'; return b }), ErrMalformed},
		{"length too long", mod(func(b []byte) []byte { b[11]++; return b }), ErrTruncated},
		{"length too short", mod(func(b []byte) []byte { b[11]--; return b }), ErrMalformed},
		{"trailing byte", mod(func(b []byte) []byte { b = append(b, 0); b[11]++; return b }), ErrMalformed},
		{"minutia type 3", mod(func(b []byte) []byte { b[28] |= 0xc0; return b }), ErrMalformed},
		{"minutia outside image", mod(func(b []byte) []byte { b[28] = 0x7f; return b }), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode: got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			if _, err := Decode(good[:n]); err == nil {
				t.Errorf("prefix of %d bytes decoded without error", n)
			}
		}
	})
}

func TestDecodeANSI(t *testing.T) {
	// ANSI 378 header: magic, version, 2-byte length, 4-byte product id,
	// equipment, size, resolution, view count, reserved; one view, one minutia.
	b := []byte("FMR\x00 20\x00")
	b = append(b, 0, 0, 0xAB, 0xCD, 0x00, 0x01, 0x00, 0x00, 1, 44, 1, 144, 0, 197, 0, 197, 1, 0)
	b = append(b, 1, 0x10, 80, 1)
	b = append(b, 0x40, 100, 0, 50, 90, 70)
	b = append(b, 0, 0)
	b[9] = byte(len(b))
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Record{Format: ANSI, ProductID: 0xABCD0001, Width: 300, Height: 400, ResX: 197, ResY: 197,
		Views: []View{{Finger: 1, ViewNumber: 1, Quality: 80, Minutiae: []Minutia{
			{Type: TypeEnding, X: 100, Y: 50, Angle: math.Pi, Quality: 70}}}}}
	if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("ANSI decode (-want +got):\n%s", d)
	}
}

// dataDir finds the shared fingerprint data, or skips the test.
func dataDir(t testing.TB) string {
	t.Helper()
	return datasets.FingerprintSet(t, ".")
}

func TestDecodeSharedTemplates(t *testing.T) {
	dir := dataDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "iso19794-2", "fvc2002", "db*_b", "*.iso"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 320 {
		t.Fatalf("found %d ISO templates, want 320", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(r.Views) != 1 || len(r.Views[0].Minutiae) == 0 {
			t.Errorf("%s: %d views", f, len(r.Views))
			continue
		}
		// Re-encoding an ISO record reproduces it byte for byte.
		again, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(b, again); d != "" {
			t.Errorf("%s: re-encoding differs:\n%s", f, d)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	if b, err := os.ReadFile(filepath.Join("testdata", "fvc2002_db1_101_1.iso")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("FMR\x00 20\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		r2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if len(r2.Views) != len(r.Views) {
			t.Fatalf("views %d, then %d", len(r.Views), len(r2.Views))
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	in, err := os.ReadFile(filepath.Join("testdata", "fvc2002_db1_101_1.iso"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Decode(in); err != nil {
			b.Fatal(err)
		}
	}
}
