// Package iris turns an eye image into a binary iris code with an occlusion
// mask and compares codes with a masked, rotation-compensated fractional
// Hamming distance.
//
// The pipeline (see docs/iris.md for the papers it follows):
//
//	DecodeImage -> Extract: segment pupil and limbus, mask eyelids, eyelashes
//	and highlights, unwrap the iris to a fixed band (rubber sheet), filter the
//	band with a 1-D log-Gabor filter along the angle, quantise the phase to two
//	bits per cell, and mask fragile and occluded bits.
//	Distance / Matcher: masked fractional Hamming distance, minimum over
//	circular shifts of the probe, rescaled for the number of bits compared.
//	Gallery: packed codes and masks for a 1:N scan over all cores.
//
// Nothing in this package keeps images: Extract reads the image and returns a
// Template; the caller decides what to store. Every exported function is safe
// for concurrent use unless its doc comment says otherwise.
package iris

import "errors"

// Sentinel errors. Functions wrap them with an "op:" prefix and %w; test
// with errors.Is.
var (
	// ErrNotImage: the bytes are not a PNG, BMP, TIFF, JPEG or GIF image.
	ErrNotImage = errors.New("not a supported image")
	// ErrTooLarge: the image has more pixels or bytes than MaxPixels/MaxBytes.
	ErrTooLarge = errors.New("image too large")
	// ErrTooSmall: the image is smaller than MinSide pixels on a side.
	ErrTooSmall = errors.New("image too small")
	// ErrNoIris: no pupil and limbus pair that looks like an eye was found.
	ErrNoIris = errors.New("no iris found")
	// ErrQualityTooLow: an iris was found, but too few code bits are usable
	// (occlusion, blur, or a doubtful segmentation) for a reliable template.
	ErrQualityTooLow = errors.New("iris quality too low")
	// ErrBadTemplate: a serialised template is malformed or of an unknown
	// version.
	ErrBadTemplate = errors.New("malformed iris template")
	// ErrIncompatible: two templates or a template and a gallery have
	// different code geometries and cannot be compared.
	ErrIncompatible = errors.New("incompatible iris templates")
)

// Image limits applied by DecodeImage and Extract.
const (
	MaxBytes  = 16 << 20 // encoded image bytes
	MaxPixels = 4096 * 4096
	MinSide   = 96 // pixels
)
