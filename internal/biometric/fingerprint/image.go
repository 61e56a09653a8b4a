package fingerprint

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/assent-registry/assent/internal/biometric/imagefmt"
)

// Sentinel errors. Functions wrap them with an "fingerprint: <op>: " prefix;
// test them with errors.Is.
var (
	// ErrNotImage means the bytes are empty or not a TIFF, BMP or PNG image.
	ErrNotImage = errors.New("not a TIFF, BMP or PNG image")
	// ErrTooLarge means a side of the image exceeds MaxSide pixels, the image
	// has more than MaxPixels pixels or the file more than MaxBytes bytes.
	ErrTooLarge = errors.New("image too large")
	// ErrTooSmall means a side of the image is below MinSide pixels at 500 dpi.
	ErrTooSmall = errors.New("image too small")
	// ErrColour means the image has pixels that are not grey.
	ErrColour = errors.New("colour image; an 8-bit grey image is required")
	// ErrDPI means the resolution is outside MinDPI..MaxDPI.
	ErrDPI = errors.New("resolution out of range")
	// ErrQualityTooLow means the image is blank or too poor to give a usable
	// template (too little ridge area or too few reliable minutiae).
	ErrQualityTooLow = errors.New("fingerprint quality too low")
	// ErrTemplate means serialised template bytes are truncated or malformed.
	ErrTemplate = errors.New("malformed template")
)

// Limits on input images.
const (
	MaxSide   = 4000      // pixels, either side
	MaxPixels = 4_000_000 // pixels in all (a 1,000 dpi flat print of 2 x 2 inches)
	MaxBytes  = 16 << 20  // encoded image bytes
	MinSide   = 64        // pixels, either side, after scaling to 500 dpi
	MinDPI    = 250
	MaxDPI    = 1200
)

// DecodeImage decodes a TIFF, BMP or PNG image, and no other format: the
// format is picked by magic bytes, never through the image package's global
// registry. It checks the byte count and the size from the header before
// decoding the pixels (MaxBytes, MaxPixels, MaxSide), so an oversized image
// costs no memory, and it rejects images with colour pixels (a colour model
// holding only grey pixels is accepted). The result is safe to pass to
// Extract. The input is untrusted.
func DecodeImage(b []byte) (image.Image, error) {
	const op = "fingerprint: decode image"
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty input: %w", op, ErrNotImage)
	}
	img, _, err := imagefmt.Decode(b, []imagefmt.Format{imagefmt.TIFF, imagefmt.BMP, imagefmt.PNG},
		imagefmt.Limits{MaxBytes: MaxBytes, MaxPixels: MaxPixels, MaxSide: MaxSide})
	if errors.Is(err, imagefmt.ErrTooLarge) {
		return nil, fmt.Errorf("%s: %w (%v)", op, ErrTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", op, ErrNotImage, err)
	}
	if _, err := greyPixels(img); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return img, nil
}

// greyPixels returns the image as row-major float32 grey levels 0..255.
func greyPixels(img image.Image) ([]float32, error) {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("%dx%d: %w", w, h, ErrTooLarge)
	}
	out := make([]float32, w*h)
	switch g := img.(type) {
	case *image.Gray:
		for y := range h {
			row := g.Pix[(y)*g.Stride : y*g.Stride+w]
			for x, v := range row {
				out[y*w+x] = float32(v)
			}
		}
		return out, nil
	case *image.Gray16:
		for y := range h {
			for x := range w {
				out[y*w+x] = float32(g.Gray16At(r.Min.X+x, r.Min.Y+y).Y) / 257
			}
		}
		return out, nil
	}
	for y := range h {
		for x := range w {
			c := img.At(r.Min.X+x, r.Min.Y+y)
			cr, cg, cb, _ := c.RGBA()
			if cr != cg || cg != cb {
				return nil, ErrColour
			}
			out[y*w+x] = float32(color.GrayModel.Convert(c).(color.Gray).Y)
		}
	}
	return out, nil
}
