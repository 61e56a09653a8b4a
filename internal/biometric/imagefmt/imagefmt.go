// Package imagefmt decodes capture images in the formats a modality
// documents, and only those. A format is recognised by its magic bytes and
// decoded by its own package's functions, never through the image package's
// global registry (where any imported decoder, JPEG or GIF included, would
// be accepted). The header is read first: an image over the byte, pixel or
// side limits is refused before any pixel is decoded, so a small file that
// claims a huge image costs neither memory nor CPU.
//
// The input is untrusted. Decode is safe for concurrent use.
package imagefmt

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"slices"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// Format is an image file format.
type Format string

// The formats captures come in.
const (
	PNG  Format = "png"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	JPEG Format = "jpeg"
)

// Sentinel errors, wrapped with an "imagefmt: " prefix; test with errors.Is.
var (
	// ErrFormat: the bytes are not an image in one of the allowed formats
	// (or its header or pixels are malformed).
	ErrFormat = errors.New("not an image in an allowed format")
	// ErrTooLarge: the data or the image it declares exceeds the limits.
	ErrTooLarge = errors.New("image too large")
	// ErrTooSmall: a side of the image is below Limits.MinSide.
	ErrTooSmall = errors.New("image too small")
)

// Limits bound what Decode accepts. Zero fields are not checked, except
// MaxBytes and MaxPixels, which must be set (Decode refuses without them).
type Limits struct {
	MaxBytes  int   // encoded bytes
	MaxPixels int64 // width x height
	MaxSide   int   // pixels, either side
	MinSide   int   // pixels, either side
}

type codec struct {
	format Format
	magic  []string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

// codecs is a function, not a package variable: nothing registers anywhere.
func codecs() []codec {
	return []codec{
		{PNG, []string{"\x89PNG\r\n\x1a\n"}, png.DecodeConfig, png.Decode},
		{BMP, []string{"BM"}, bmp.DecodeConfig, bmp.Decode},
		{TIFF, []string{"II*\x00", "MM\x00*"}, tiff.DecodeConfig, tiff.Decode},
		{JPEG, []string{"\xff\xd8\xff"}, jpeg.DecodeConfig, func(r io.Reader) (image.Image, error) { return jpeg.Decode(r) }},
	}
}

// Sniff names the format of data from its magic bytes ("" when none).
func Sniff(data []byte) Format {
	for _, c := range codecs() {
		for _, m := range c.magic {
			if bytes.HasPrefix(data, []byte(m)) {
				return c.format
			}
		}
	}
	return ""
}

// Config reads only the header of data, which must be in one of the allowed
// formats, and checks it against lim.
func Config(data []byte, allowed []Format, lim Limits) (Format, image.Config, error) {
	const op = "imagefmt: config"
	if lim.MaxBytes <= 0 || lim.MaxPixels <= 0 {
		return "", image.Config{}, fmt.Errorf("%s: limits not set: %w", op, ErrTooLarge)
	}
	if len(data) > lim.MaxBytes {
		return "", image.Config{}, fmt.Errorf("%s: %d bytes: %w", op, len(data), ErrTooLarge)
	}
	c, ok := pick(data, allowed)
	if !ok {
		return "", image.Config{}, fmt.Errorf("%s: %w", op, ErrFormat)
	}
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return c.format, cfg, fmt.Errorf("%s: %s header: %w", op, c.format, ErrFormat)
	}
	if err := lim.check(cfg.Width, cfg.Height); err != nil {
		return c.format, cfg, fmt.Errorf("%s: %s: %w", op, c.format, err)
	}
	return c.format, cfg, nil
}

// Decode decodes data, which must be in one of the allowed formats, after
// checking its size and its header against lim. The decoded image has the
// size its header declared.
func Decode(data []byte, allowed []Format, lim Limits) (image.Image, Format, error) {
	const op = "imagefmt: decode"
	f, cfg, err := Config(data, allowed, lim)
	if err != nil {
		return nil, f, err
	}
	c, _ := pick(data, allowed)
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, f, fmt.Errorf("%s: %s: %w", op, f, ErrFormat)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, f, fmt.Errorf("%s: %s: size differs from the header: %w", op, f, ErrFormat)
	}
	return img, f, nil
}

func pick(data []byte, allowed []Format) (codec, bool) {
	f := Sniff(data)
	if f == "" || !slices.Contains(allowed, f) {
		return codec{}, false
	}
	for _, c := range codecs() {
		if c.format == f {
			return c, true
		}
	}
	return codec{}, false
}

func (l Limits) check(w, h int) error {
	if w <= 0 || h <= 0 || int64(w)*int64(h) > l.MaxPixels || (l.MaxSide > 0 && (w > l.MaxSide || h > l.MaxSide)) {
		return fmt.Errorf("%dx%d: %w", w, h, ErrTooLarge)
	}
	if l.MinSide > 0 && (w < l.MinSide || h < l.MinSide) {
		return fmt.Errorf("%dx%d: %w", w, h, ErrTooSmall)
	}
	return nil
}
