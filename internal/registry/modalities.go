package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

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

// engine adapts one biometric engine to enrolment, verification and the
// gallery. Scores are evidence: -log10 of the estimated false-match rate of
// one comparison, so independent comparisons add (score fusion).
type engine interface {
	extract(format string, data []byte, dpi int) (template, error)
	decode(b []byte) (template, error)
	compare(a, b template) float64
	add(ref string, t template) error
	remove(ref string)
	search(ctx context.Context, probe template, minEvidence float64) ([]hit, error)
	size() int
}

// batchAdder is an engine that adds many templates faster at once than one
// by one.
type batchAdder interface {
	addAll(refs []string, ts []template) error
}

type hit struct {
	ref      string
	evidence float64
}

// evidence caps: the calibrations cannot support rates below 1e-9.
const maxEvidence = 9

// --- fingerprint ---

type fingerEngine struct{ g *fingerprint.Gallery }

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

func fingerEvidence(score float64) float64 {
	return min(maxEvidence, -math.Log10(fingerprint.FMR(score)))
}

func (fingerEngine) compare(a, b template) float64 {
	return fingerEvidence(fingerprint.Score(a.(*fingerprint.Template), b.(*fingerprint.Template)))
}

func (e fingerEngine) add(ref string, t template) error {
	e.g.Add(ref, t.(*fingerprint.Template))
	return nil
}

// addAll adds many templates at once: the gallery prepares them for its
// index on every core (a start loads the gallery this way).
func (e fingerEngine) addAll(refs []string, ts []template) error {
	fts := make([]*fingerprint.Template, len(ts))
	for i, t := range ts {
		fts[i] = t.(*fingerprint.Template)
	}
	e.g.AddAll(refs, fts)
	return nil
}

func (e fingerEngine) remove(ref string) { e.g.Remove(ref) }
func (e fingerEngine) size() int         { return e.g.Len() }

func (e fingerEngine) search(ctx context.Context, probe template, minEvidence float64) ([]hit, error) {
	cands, err := e.g.Search(ctx, probe.(*fingerprint.Template), fingerprint.Threshold(math.Pow(10, -minEvidence)), fingerprint.SearchOptions{Indexed: true})
	if err != nil {
		return nil, err
	}
	out := make([]hit, len(cands))
	for i, c := range cands {
		out[i] = hit{ref: c.Key, evidence: fingerEvidence(c.Score)}
	}
	return out, nil
}

// --- iris ---

type irisEngine struct{ g *iris.Gallery }

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

func (e irisEngine) add(ref string, t template) error { return e.g.Add(ref, t.(*iris.Template)) }
func (e irisEngine) remove(ref string)                { e.g.Remove(ref) }
func (e irisEngine) size() int                        { return e.g.Len() }

func (e irisEngine) search(ctx context.Context, probe template, minEvidence float64) ([]hit, error) {
	cands, err := e.g.Search(ctx, probe.(*iris.Template), iris.ThresholdForFMR(math.Pow(10, -minEvidence)), iris.SearchOptions{Coarse: true})
	if err != nil {
		return nil, err
	}
	out := make([]hit, len(cands))
	for i, c := range cands {
		out[i] = hit{ref: c.Key, evidence: irisEvidence(c.Distance)}
	}
	return out, nil
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

// galleries holds the 1:N galleries and which person owns each reference.
// Only templates of active persons whose deduplication consent for that
// category counts are in them.
type galleries struct {
	// searchMu serialises deduplicating enrolments per category, from the
	// scan to the commit that adds the new template.
	searchMu map[consent.Category]*sync.Mutex
	mu       sync.RWMutex
	engines  map[consent.Category]engine
	owner    map[string]string   // reference id -> person id
	refs     map[string][]string // person id -> reference ids in a gallery
}

func newGalleries() *galleries {
	return &galleries{
		engines: map[consent.Category]engine{
			consent.Fingerprint: fingerEngine{g: fingerprint.NewGallery()},
			consent.Iris:        irisEngine{g: iris.NewGallery(iris.GalleryOptions{})},
		},
		owner:    map[string]string{},
		refs:     map[string][]string{},
		searchMu: map[consent.Category]*sync.Mutex{consent.Fingerprint: {}, consent.Iris: {}},
	}
}

func (g *galleries) add(c consent.Category, person, ref string, t template) error {
	return g.addAll(c, []string{person}, []string{ref}, []template{t})
}

// addAll adds templates of category c: ts[i] with reference refs[i],
// owned by persons[i].
func (g *galleries) addAll(c consent.Category, persons, refs []string, ts []template) error {
	e, ok := g.engines[c]
	if !ok {
		return nil
	}
	if b, ok := e.(batchAdder); ok {
		if err := b.addAll(refs, ts); err != nil {
			return err
		}
	} else {
		for i, t := range ts {
			if err := e.add(refs[i], t); err != nil {
				return err
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, ref := range refs {
		if _, dup := g.owner[ref]; !dup {
			g.refs[persons[i]] = append(g.refs[persons[i]], ref)
		}
		g.owner[ref] = persons[i]
	}
	return nil
}

// removePerson takes every template of a person out of the galleries
// (of category c, or all when c is empty).
func (g *galleries) removePerson(person string, c consent.Category) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var keep []string
	for _, ref := range g.refs[person] {
		removed := false
		for cat, e := range g.engines {
			if c != "" && cat != c {
				continue
			}
			if e.size() > 0 {
				before := e.size()
				e.remove(ref)
				removed = removed || e.size() < before
			}
		}
		if removed {
			delete(g.owner, ref)
		} else {
			keep = append(keep, ref)
		}
	}
	if len(keep) == 0 {
		delete(g.refs, person)
	} else {
		g.refs[person] = keep
	}
}

// removeRef takes one reference out of the gallery of category c.
func (g *galleries) removeRef(c consent.Category, ref string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.engines[c]; ok {
		e.remove(ref)
	}
	p := g.owner[ref]
	delete(g.owner, ref)
	refs := g.refs[p]
	if i := slices.Index(refs, ref); i >= 0 {
		g.refs[p] = slices.Delete(refs, i, i+1)
	}
}

func (g *galleries) ownerOf(ref string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.owner[ref]
}

// Size reports how many templates each gallery holds.
func (g *galleries) sizes() map[consent.Category]int {
	out := map[consent.Category]int{}
	for c, e := range g.engines {
		out[c] = e.size()
	}
	return out
}
