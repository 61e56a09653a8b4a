package registry

import (
	"errors"
	"fmt"
	"math"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
	"github.com/assent-registry/assent/internal/biometric/imagefmt"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/consent"
)

// Capture formats.
const (
	FormatImage = "image"
	FormatISO   = "iso19794-2"
)

// Biometric positions (ISO finger names, eyes, face).
var (
	FingerPositions = []string{"right_thumb", "right_index", "right_middle", "right_ring", "right_little",
		"left_thumb", "left_index", "left_middle", "left_ring", "left_little"}
	EyePositions  = []string{"left_eye", "right_eye"}
	FacePositions = []string{"face"}
)

// Capture limits.
const (
	MaxCaptureBytes = 4 << 20 // a decoded capture (base64 makes the body a third larger)
	maxFaceSide     = 4000
)

// errQuality marks a capture too poor to enrol.
var errQuality = errors.New("quality too low")

// template is an extracted biometric template of one modality.
type template interface{ MarshalBinary() ([]byte, error) }

// engine adapts one biometric engine to enrolment, verification and score
// fusion. Scores are evidence: -log10 of the estimated false-match rate of
// one comparison, so independent comparisons add (score fusion). The 1:N
// galleries are not here: the registry asks its Galleries.
type engine interface {
	extract(format string, data []byte, dpi int) (template, error)
	decode(b []byte) (template, error)
	compare(a, b template) float64
	// candidate tells whether a and b are a candidate pair of the 1:N
	// search at a per-comparison false-match rate fmr: the galleries'
	// own score and threshold, uncapped (evidence is capped at
	// maxEvidence, which the 1:N threshold of a large gallery exceeds).
	candidate(a, b template, fmr float64) bool
}

// engines are the modalities with a matcher (and a 1:N gallery).
func newEngines() map[consent.Category]engine {
	return map[consent.Category]engine{consent.Fingerprint: fingerEngine{}, consent.Iris: irisEngine{}}
}

// evidence caps: the calibrations cannot support rates below 1e-9.
const maxEvidence = 9

// --- fingerprint ---

type fingerEngine struct{}

func (fingerEngine) extract(format string, data []byte, dpi int) (template, error) {
	switch format {
	case FormatISO:
		rec, err := iso19794.Decode(data)
		if err != nil {
			return nil, &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "not a valid ISO/IEC 19794-2 record"}
		}
		if len(rec.Views) == 0 {
			return nil, &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "the record has no finger view"}
		}
		t, err := fingerprint.FromISO(rec, 0)
		if err != nil {
			return nil, &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "the record cannot be used"}
		}
		if len(t.Minutiae) < 8 {
			return nil, fmt.Errorf("registry: %d minutiae: %w", len(t.Minutiae), errQuality)
		}
		return t, nil
	case FormatImage:
		img, err := fingerprint.DecodeImage(data)
		if err != nil {
			return nil, captureError(err)
		}
		if dpi == 0 {
			dpi = 500
		}
		t, err := fingerprint.Extract(img, dpi)
		if err != nil {
			return nil, captureError(err)
		}
		return t, nil
	}
	return nil, invalid("format", "fingerprints are captured as image or iso19794-2")
}

func captureError(err error) error {
	switch {
	case errors.Is(err, fingerprint.ErrQualityTooLow), errors.Is(err, iris.ErrQualityTooLow), errors.Is(err, iris.ErrNoIris):
		return fmt.Errorf("registry: %w: %w", errQuality, err)
	case errors.Is(err, fingerprint.ErrTooLarge), errors.Is(err, iris.ErrTooLarge):
		return &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "the image is too large"}
	case errors.Is(err, fingerprint.ErrTooSmall), errors.Is(err, iris.ErrTooSmall):
		return &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "the image is too small"}
	case errors.Is(err, fingerprint.ErrColour):
		return &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "a colour image; an 8-bit grey image is required"}
	case errors.Is(err, fingerprint.ErrDPI):
		return &InputError{Code: CodeInvalidCapture, Field: "dpi", Detail: "resolution out of range"}
	}
	return &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "not a supported image (TIFF, BMP, PNG)"}
}

func (fingerEngine) decode(b []byte) (template, error) {
	t := new(fingerprint.Template)
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return t, nil
}

// fingerEvidence is the evidence of a 1:1 fingerprint Score: read with
// the 1:1 calibration (a gallery's scores have their own).
func fingerEvidence(score float64) float64 {
	return min(maxEvidence, -math.Log10(fingerprint.VerifyFMR(score)))
}

func (fingerEngine) compare(a, b template) float64 {
	return fingerEvidence(fingerprint.Score(a.(*fingerprint.Template), b.(*fingerprint.Template)))
}

func (fingerEngine) candidate(a, b template, fmr float64) bool {
	return fingerprint.Score(a.(*fingerprint.Template), b.(*fingerprint.Template)) >= fingerprint.VerifyThreshold(fmr)
}

// --- iris ---

type irisEngine struct{}

func (irisEngine) extract(format string, data []byte, _ int) (template, error) {
	if format != FormatImage {
		return nil, invalid("format", "irises are captured as image")
	}
	img, err := iris.DecodeCapture(data)
	if err != nil {
		return nil, captureError(err)
	}
	t, err := iris.Extract(img)
	if err != nil {
		return nil, captureError(err)
	}
	return t, nil
}

func (irisEngine) decode(b []byte) (template, error) {
	t := new(iris.Template)
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return t, nil
}

// irisFMR inverts iris.ThresholdForFMR (monotonic) by bisection in log space.
func irisFMR(hd float64) float64 {
	lo, hi := -12.0, 0.0 // log10 fmr
	for range 50 {
		mid := (lo + hi) / 2
		if iris.ThresholdForFMR(math.Pow(10, mid)) < hd {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Pow(10, hi)
}

func irisEvidence(hd float64) float64 { return min(maxEvidence, -math.Log10(irisFMR(hd))) }

func (irisEngine) compare(a, b template) float64 {
	hd, ok := iris.Distance(a.(*iris.Template), b.(*iris.Template))
	if !ok {
		return 0
	}
	return irisEvidence(hd)
}

func (irisEngine) candidate(a, b template, fmr float64) bool {
	hd, ok := iris.Distance(a.(*iris.Template), b.(*iris.Template))
	return ok && hd <= iris.ThresholdForFMR(fmr)
}

// --- face (stored photo for adjudication; no matcher) ---

type facePhoto []byte

func (f facePhoto) MarshalBinary() ([]byte, error) { return f, nil }

// faceLimits bound a face photo; it is checked from its header and stored
// as sent (JPEG or PNG only).
var faceLimits = imagefmt.Limits{MaxBytes: MaxCaptureBytes, MaxPixels: maxFaceSide * maxFaceSide, MaxSide: maxFaceSide, MinSide: 64}

func extractFace(format string, data []byte) (template, error) {
	if format != FormatImage {
		return nil, invalid("format", "face photos are captured as image")
	}
	if _, _, err := imagefmt.Config(data, []imagefmt.Format{imagefmt.JPEG, imagefmt.PNG}, faceLimits); err != nil {
		if errors.Is(err, imagefmt.ErrFormat) {
			return nil, &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "a face photo is a JPEG or PNG image"}
		}
		return nil, &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "a face photo is 64 to 4000 pixels a side"}
	}
	return facePhoto(data), nil
}
