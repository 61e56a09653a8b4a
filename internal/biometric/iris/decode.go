package iris

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/assent-registry/assent/internal/biometric/imagefmt"
)

// format is one decoder, picked by magic bytes (no global registration).
type format struct {
	name   string
	magic  [][]byte
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// decoders lists the supported formats; a function, not a package variable.
func decoders() []format {
	return []format{
		{"png", [][]byte{[]byte("\x89PNG\r\n\x1a\n")}, png.DecodeConfig, png.Decode},
		{"bmp", [][]byte{[]byte("BM")}, bmp.DecodeConfig, bmp.Decode},
		{"tiff", [][]byte{[]byte("II*\x00"), []byte("MM\x00*")}, tiff.DecodeConfig, tiff.Decode},
		{"jpeg", [][]byte{[]byte("\xff\xd8\xff")}, jpeg.DecodeConfig, func(r io.Reader) (image.Image, error) { return jpeg.Decode(r) }},
		{"gif", [][]byte{[]byte("GIF87a"), []byte("GIF89a")}, gif.DecodeConfig, gif.Decode},
	}
}

// DecodeImage decodes a PNG, BMP, TIFF, JPEG or GIF eye image. It reads the
// header first and refuses, before decoding pixels, images of more than
// MaxBytes bytes or MaxPixels pixels (ErrTooLarge) or under MinSide pixels on
// a side (ErrTooSmall). Anything else is ErrNotImage. The input is untrusted.
func DecodeImage(data []byte) (image.Image, error) {
	const op = "iris.DecodeImage"
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%s: %d bytes: %w", op, len(data), ErrTooLarge)
	}
	for _, f := range decoders() {
		if !hasMagic(data, f.magic) {
			continue
		}
		cfg, err := f.config(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %s header: %w", op, f.name, ErrNotImage)
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		img, err := f.decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", op, f.name, ErrNotImage)
		}
		if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
			return nil, fmt.Errorf("%s: %s size mismatch: %w", op, f.name, ErrNotImage)
		}
		return img, nil
	}
	return nil, fmt.Errorf("%s: unknown format: %w", op, ErrNotImage)
}

func hasMagic(data []byte, magics [][]byte) bool {
	for _, m := range magics {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

// checkSize applies the image size limits.
func checkSize(w, h int) error {
	if w <= 0 || h <= 0 || int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("%dx%d: %w", w, h, ErrTooLarge)
	}
	if w < MinSide || h < MinSide {
		return fmt.Errorf("%dx%d: %w", w, h, ErrTooSmall)
	}
	return nil
}

// captureFormats are the formats an enrolment or verification capture may
// come in (BMP, PNG, TIFF); DecodeImage also reads JPEG and GIF for
// evaluation sets such as CASIA, never for captures.
var captureFormats = []imagefmt.Format{imagefmt.BMP, imagefmt.PNG, imagefmt.TIFF}

// DecodeCapture decodes an eye image sent as a capture: BMP, PNG or TIFF and
// no other format, picked by magic bytes, with the same limits as
// DecodeImage checked from the header before any pixel is decoded.
func DecodeCapture(data []byte) (image.Image, error) {
	const op = "iris.DecodeCapture"
	img, _, err := imagefmt.Decode(data, captureFormats, imagefmt.Limits{MaxBytes: MaxBytes, MaxPixels: MaxPixels, MinSide: MinSide})
	switch {
	case errors.Is(err, imagefmt.ErrTooLarge):
		return nil, fmt.Errorf("%s: %w (%v)", op, ErrTooLarge, err)
	case errors.Is(err, imagefmt.ErrTooSmall):
		return nil, fmt.Errorf("%s: %w (%v)", op, ErrTooSmall, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w (%v)", op, ErrNotImage, err)
	}
	return img, nil
}
