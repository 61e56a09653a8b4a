package fingerprint

import (
	"errors"
	"image/jpeg" // registers JPEG globally in this test binary: DecodeImage must still refuse it
	"os"
	"path/filepath"
	"testing"
)

var _ = jpeg.Decode

// Fingerprints come as TIFF, BMP or PNG only, whatever decoders the binary
// happens to import; a huge image is refused from its header.
func TestDecodeImageFormats(t *testing.T) {
	tests := []struct {
		file string
		want error
	}{
		{"tiny.png", nil},
		{"tiny.bmp", nil},
		{"tiny.tif", nil},
		{"eye100.jpg", ErrNotImage},
		{"eye100.gif", ErrNotImage},
		{"stripes4000.png", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "imagefmt", "testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeImage(b)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("DecodeImage(%s) = %v, want %v", tc.file, err, tc.want)
			}
		})
	}
}
