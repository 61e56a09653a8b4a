package fingerprint

import (
	"image"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteTestdata regenerates the small decoder corpus in testdata when
// ASSENT_WRITE_TESTDATA=1.
func TestWriteTestdata(t *testing.T) {
	if os.Getenv("ASSENT_WRITE_TESTDATA") == "" {
		t.Skip("set ASSENT_WRITE_TESTDATA=1 to regenerate testdata")
	}
	img := synthetic(300, 320, 0, 0, 0).SubImage(image.Rect(100, 100, 132, 132))
	for name, format := range map[string]string{"tiny.png": "png", "tiny.bmp": "bmp", "tiny.tif": "tiff"} {
		if err := os.WriteFile(filepath.Join("testdata", name), encode(t, img, format), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
