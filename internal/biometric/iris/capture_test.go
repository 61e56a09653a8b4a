package iris

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Captures are BMP, PNG or TIFF; JPEG and GIF eyes (evaluation sets) are
// refused on the capture path.
func TestDecodeCaptureFormats(t *testing.T) {
	eye := baseEye(1).render()
	var pngBuf, jpgBuf bytes.Buffer
	if err := png.Encode(&pngBuf, eye); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgBuf, eye, nil); err != nil {
		t.Fatal(err)
	}
	gifData, err := os.ReadFile(filepath.Join("..", "imagefmt", "testdata", "eye100.gif"))
	if err != nil {
		t.Fatal(err)
	}
	var tiny bytes.Buffer
	if err := png.Encode(&tiny, image.NewGray(image.Rect(0, 0, 10, 10))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"png", pngBuf.Bytes(), nil},
		{"jpeg", jpgBuf.Bytes(), ErrNotImage},
		{"gif", gifData, ErrNotImage},
		{"tiny", tiny.Bytes(), ErrTooSmall},
		{"empty", nil, ErrNotImage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCapture(tc.data)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// DecodeImage still reads JPEG, for evaluation sets only.
	if _, err := DecodeImage(jpgBuf.Bytes()); err != nil {
		t.Errorf("DecodeImage(jpeg) = %v, want nil (evaluation sets)", err)
	}
}

func FuzzDecodeCapture(f *testing.F) {
	for _, n := range []string{"eye100.png", "eye100.jpg", "eye100.gif", "tiny.bmp", "tiny.tif", "tiny.png"} {
		if b, err := os.ReadFile(filepath.Join("..", "imagefmt", "testdata", n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeCapture(data)
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx() < MinSide || b.Dy() < MinSide || int64(b.Dx())*int64(b.Dy()) > MaxPixels {
			t.Fatalf("accepted %v", b)
		}
		if bytes.HasPrefix(data, []byte("\xff\xd8\xff")) || bytes.HasPrefix(data, []byte("GIF8")) {
			t.Fatalf("accepted a JPEG or GIF capture")
		}
	})
}
