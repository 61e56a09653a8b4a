// Package fingerprint turns fingerprint images into minutiae templates and
// compares them.
//
// Extract finds minutiae in an 8-bit grey image (DecodeImage reads TIFF, BMP
// and PNG); FromISO and ToISO convert to and from ISO/IEC 19794-2:2005
// records; Score compares two templates with a bit-packed Minutia Cylinder-Code
// matcher, VerifyFMR and VerifyThreshold map its scores to false-match
// rates; Gallery holds templates packed in contiguous memory for 1:N search
// inside an enrolment, and FMR and Threshold map a gallery's scores.
//
// See docs/fingerprint.md for the algorithm, its sources and measured accuracy.
package fingerprint

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
)

// Minutia types, numbered as in ISO/IEC 19794-2.
const (
	TypeOther       = 0
	TypeEnding      = 1
	TypeBifurcation = 2
)

// Minutia is one ridge ending or bifurcation. X and Y are in pixels at 500 dpi
// from the top-left corner; Dir is in radians in [0, 2π), measured from the x
// axis towards the y axis (clockwise on screen, since y points down).
type Minutia struct {
	X, Y    float32
	Dir     float32
	Type    uint8 // TypeOther, TypeEnding or TypeBifurcation
	Quality uint8 // 1..100, higher is more reliable; 0 unknown
	// tex counts the skeleton's raw minutia candidates near the minutia
	// (texture.go); meaningful only in a template whose hasTex is set.
	tex uint8
}

// Template is the minutiae of one finger impression at 500 dpi, with the
// cylinder codes the matcher needs, computed when the template is made.
// A Template is immutable after construction and safe for concurrent use;
// build one with Extract, FromISO or UnmarshalBinary, not as a literal.
type Template struct {
	Width, Height int // image size in 500-dpi pixels
	Minutiae      []Minutia
	// desc[i] is the ring descriptor of Minutiae[i] (desc.go), nil for a
	// template made from minutiae alone (NewTemplate, FromISO, "AFP1" and
	// "AFP2" forms).
	desc []uint32
	// hasTex: the minutiae carry texture counts (texture.go; a template
	// made by Extract or decoded from "AFP4"), and the cylinders weights.
	hasTex bool
	cyl    cylinders
}

// setDesc gives t the ring descriptors desc (one per minutia) and its
// cylinders theirs.
func (t *Template) setDesc(desc []uint32) {
	if len(desc) != len(t.Minutiae) {
		return
	}
	t.desc = desc
	t.cyl.desc = cylinderDesc(&t.cyl, t.Minutiae, desc)
}

// MaxTemplateMinutiae bounds the minutiae of a template (as ISO/IEC 19794-2
// does per view), which bounds the cost of building and comparing it.
const MaxTemplateMinutiae = 255

func newTemplate(w, h int, ms []Minutia) *Template {
	if len(ms) > MaxTemplateMinutiae {
		ms = ms[:MaxTemplateMinutiae]
	}
	t := &Template{Width: w, Height: h, Minutiae: ms}
	t.cyl = buildCylinders(ms)
	return t
}

// NewTemplate builds a template from minutiae already at 500 dpi, keeping
// the first MaxTemplateMinutiae of them.
func NewTemplate(width, height int, ms []Minutia) *Template {
	return newTemplate(width, height, append([]Minutia(nil), ms...))
}

const (
	magic       = "AFP1" // minutiae only
	magicCyl    = "AFP2" // minutiae and cylinders
	magicDesc   = "AFP3" // minutiae, ring descriptors and cylinders
	magicTex    = "AFP4" // minutiae, ring descriptors, texture counts and cylinders
	descSize    = 4      // bytes per minutia of a ring descriptor
	headerLen   = 4 + 2 + 2 + 2
	minutiaSize = 8
)

// MarshalBinary encodes the template: a 4-byte magic "AFP2", width, height
// and count (uint16 big-endian), then 8 bytes per minutia: x and y in 1/4
// pixel (uint16), direction in 1/65536 turn (uint16), type, quality; then
// the cylinder codes, sparse (see cylcode.go: about 45 bytes per minutia),
// so that UnmarshalBinary need not rebuild them. A template made by Extract
// carries ring descriptors (desc.go) and is written as "AFP3": the same
// with 4 bytes per minutia (its descriptor, uint32) between the minutiae and
// the cylinders, and with its texture counts (texture.go) as "AFP4": "AFP3"
// with one byte per minutia (its count) after the descriptors. The older
// "AFP1" form is "AFP2" without the cylinders.
func (t *Template) MarshalBinary() ([]byte, error) {
	if len(t.Minutiae) > MaxTemplateMinutiae || t.Width > math.MaxUint16 || t.Height > math.MaxUint16 {
		return nil, fmt.Errorf("fingerprint: marshal: too large: %w", ErrTemplate)
	}
	b := make([]byte, 0, headerLen+(minutiaSize+descSize+1)*len(t.Minutiae)+5+48*t.cyl.n())
	b = append(b, magicCyl...)
	withTex := t.desc != nil && t.hasTex
	switch {
	case withTex:
		copy(b[len(b)-4:], magicTex)
	case t.desc != nil:
		copy(b[len(b)-4:], magicDesc)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(t.Width))
	b = binary.BigEndian.AppendUint16(b, uint16(t.Height))
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Minutiae)))
	for _, m := range t.Minutiae {
		b = binary.BigEndian.AppendUint16(b, uint16(clamp(int(math.Round(float64(m.X)*4)), 0, math.MaxUint16)))
		b = binary.BigEndian.AppendUint16(b, uint16(clamp(int(math.Round(float64(m.Y)*4)), 0, math.MaxUint16)))
		b = binary.BigEndian.AppendUint16(b, dirCode(m.Dir))
		b = append(b, m.Type, m.Quality)
	}
	plain := len(b)
	for _, d := range t.desc {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	if withTex {
		for _, m := range t.Minutiae {
			b = append(b, m.tex)
		}
	}
	if withCyl, ok := appendCylinders(b, t); ok {
		return withCyl, nil
	}
	b = b[:plain]
	copy(b, magic)
	return b, nil
}

// dirCode is a direction as MarshalBinary stores it: in 1/65536 turn,
// rounded (so a direction just below 2π is stored as 0).
func dirCode(dir float32) uint16 {
	d := math.Mod(float64(dir), 2*math.Pi)
	if d < 0 {
		d += 2 * math.Pi
	}
	return uint16(int(math.Round(d/(2*math.Pi)*65536)) & 0xffff)
}

// UnmarshalBinary decodes bytes written by MarshalBinary ("AFP4", "AFP3",
// "AFP2", or the older "AFP1"; the texture of the last three is unknown,
// weight 1). Stored cylinders are used when the cylinder code that made
// them is this one's, and rebuilt from the minutiae otherwise. Truncated or
// malformed input gives an error wrapping ErrTemplate.
func (t *Template) UnmarshalBinary(b []byte) error {
	const op = "fingerprint: unmarshal template"
	if len(b) < headerLen || string(b[:4]) != magic && string(b[:4]) != magicCyl && string(b[:4]) != magicDesc && string(b[:4]) != magicTex {
		return fmt.Errorf("%s: bad header: %w", op, ErrTemplate)
	}
	withTex := string(b[:4]) == magicTex
	withDesc := withTex || string(b[:4]) == magicDesc
	withCyl := withDesc || string(b[:4]) == magicCyl
	w := int(binary.BigEndian.Uint16(b[4:]))
	h := int(binary.BigEndian.Uint16(b[6:]))
	n := int(binary.BigEndian.Uint16(b[8:]))
	if n > MaxTemplateMinutiae {
		return fmt.Errorf("%s: %d minutiae, at most %d: %w", op, n, MaxTemplateMinutiae, ErrTemplate)
	}
	end := headerLen + n*minutiaSize
	if withDesc {
		end += n * descSize
	}
	if withTex {
		end += n
	}
	if len(b) != end && (!withCyl || len(b) < end) {
		return fmt.Errorf("%s: %d bytes for %d minutiae: %w", op, len(b), n, ErrTemplate)
	}
	var desc []uint32
	if withDesc {
		desc = make([]uint32, n)
		for i := range desc {
			desc[i] = binary.BigEndian.Uint32(b[headerLen+n*minutiaSize+i*descSize:])
		}
	}
	ms := make([]Minutia, n)
	for i := range ms {
		q := b[headerLen+i*minutiaSize:]
		ms[i] = Minutia{
			X:       float32(binary.BigEndian.Uint16(q[0:])) / 4,
			Y:       float32(binary.BigEndian.Uint16(q[2:])) / 4,
			Dir:     float32(float64(binary.BigEndian.Uint16(q[4:])) / 65536 * 2 * math.Pi),
			Type:    q[6],
			Quality: q[7],
		}
		if ms[i].Type > TypeBifurcation || ms[i].Quality > 100 {
			return fmt.Errorf("%s: minutia %d: %w", op, i, ErrTemplate)
		}
		if withTex {
			ms[i].tex = b[headerLen+n*(minutiaSize+descSize)+i]
		}
	}
	if withCyl {
		c, ok, err := readCylinders(b[end:], ms)
		if err != nil {
			return err
		}
		if ok {
			*t = Template{Width: w, Height: h, Minutiae: ms, cyl: c}
			t.setDesc(desc)
			if withTex {
				t.setTex()
			}
			return nil
		}
	}
	*t = *newTemplate(w, h, ms)
	t.setDesc(desc)
	if withTex {
		t.setTex()
	}
	return nil
}

// FromISO makes a template from one view of an ISO/IEC 19794-2 (or ANSI 378)
// record, scaling coordinates to 500 dpi with the record's resolution (taken
// as 500 dpi when the record states none). ISO angles run counter-clockwise
// with y up; they are converted to this package's convention.
func FromISO(r *iso19794.Record, view int) (*Template, error) {
	const op = "fingerprint: from ISO"
	if view < 0 || view >= len(r.Views) {
		return nil, fmt.Errorf("%s: view %d of %d: %w", op, view, len(r.Views), ErrTemplate)
	}
	s := 1.0
	if dpi := r.DPI(); dpi > 0 {
		if dpi < MinDPI || dpi > MaxDPI {
			return nil, fmt.Errorf("%s: %d dpi: %w", op, dpi, ErrDPI)
		}
		s = 500 / float64(dpi)
	}
	v := r.Views[view]
	ms := make([]Minutia, len(v.Minutiae))
	for i, m := range v.Minutiae {
		d := math.Mod(2*math.Pi-m.Angle, 2*math.Pi)
		ms[i] = Minutia{X: float32(float64(m.X) * s), Y: float32(float64(m.Y) * s), Dir: float32(d),
			Type: uint8(m.Type), Quality: uint8(m.Quality)}
	}
	return newTemplate(int(math.Round(float64(r.Width)*s)), int(math.Round(float64(r.Height)*s)), ms), nil
}

// ToISO returns the template as a one-view ISO/IEC 19794-2:2005 record at
// 500 dpi (197 pixels per centimetre).
func (t *Template) ToISO(finger int) *iso19794.Record {
	v := iso19794.View{Finger: finger, Quality: 0}
	for _, m := range t.Minutiae {
		a := math.Mod(2*math.Pi-float64(m.Dir), 2*math.Pi)
		v.Minutiae = append(v.Minutiae, iso19794.Minutia{Type: int(m.Type),
			X: clamp(int(math.Round(float64(m.X))), 0, max(0, t.Width-1)), Y: clamp(int(math.Round(float64(m.Y))), 0, max(0, t.Height-1)),
			Angle: a, Quality: int(m.Quality)})
		if len(v.Minutiae) == 255 {
			break
		}
	}
	return &iso19794.Record{Format: iso19794.ISO, Width: t.Width, Height: t.Height, ResX: 197, ResY: 197,
		Views: []iso19794.View{v}}
}
