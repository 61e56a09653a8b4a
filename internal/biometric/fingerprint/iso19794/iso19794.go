// Package iso19794 decodes and encodes finger minutiae records in the
// ISO/IEC 19794-2:2005 format, and decodes the closely related ANSI/INCITS
// 378-2004 format.
//
// Both formats start with "FMR\x00" and the version " 20\x00". They differ in
// the record header (ANSI adds a 4-byte CBEFF product identifier and may use a
// 2-byte length) and in the unit of the minutia angle (ISO: 360/256 degrees,
// ANSI: 2 degrees). Decode tells them apart by the length fields; Encode always
// writes ISO/IEC 19794-2:2005.
//
// Decoding is strict: any record whose declared lengths disagree with the data,
// or that ends early, is rejected with an error wrapping ErrTruncated or
// ErrMalformed. Decode never panics on any input (see the fuzz test).
package iso19794

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Sentinel errors; Decode wraps them with an "iso19794: " prefix.
var (
	// ErrTruncated means the record ends before its declared or minimal length.
	ErrTruncated = errors.New("record truncated")
	// ErrMalformed means the record is not a finger minutiae record or its
	// fields are inconsistent (bad magic, bad version, lengths that disagree,
	// minutiae outside the image, an unknown minutia type).
	ErrMalformed = errors.New("record malformed")
	// ErrTooMany means Encode was given more than 255 views or minutiae.
	ErrTooMany = errors.New("too many views or minutiae")
)

// Format names the standard a record was read from.
type Format int

const (
	// ISO is ISO/IEC 19794-2:2005.
	ISO Format = iota
	// ANSI is ANSI/INCITS 378-2004.
	ANSI
)

func (f Format) String() string {
	if f == ANSI {
		return "ANSI/INCITS 378-2004"
	}
	return "ISO/IEC 19794-2:2005"
}

// Minutia types as coded in the top two bits of the x coordinate.
const (
	TypeOther       = 0
	TypeEnding      = 1
	TypeBifurcation = 2
)

// Minutia is one minutia as stored in a record. X and Y are pixels from the
// top-left corner; Angle is in radians in [0, 2π), measured counter-clockwise
// from the x axis with y pointing up, as the standard defines it.
type Minutia struct {
	Type    int     // TypeOther, TypeEnding or TypeBifurcation
	X, Y    int     // pixels, 0..16383
	Angle   float64 // radians, [0, 2π)
	Quality int     // 0..100, 0 meaning not reported
}

// View is one finger view (one impression) of a record.
type View struct {
	Finger         int // finger position code, 0 unknown, 1..10 right thumb..left little
	ViewNumber     int // 0..15
	ImpressionType int // 0..15 (0 live-scan plain)
	Quality        int // 0..100
	Minutiae       []Minutia
	Extended       []byte // extended data block, opaque, may be nil
}

// Record is a finger minutiae record.
type Record struct {
	Format           Format
	CaptureEquipment uint16 // compliance (4 bits) and equipment id (12 bits), as stored
	ProductID        uint32 // ANSI only: CBEFF product identifier
	Width, Height    int    // image size in pixels
	ResX, ResY       int    // resolution in pixels per centimetre
	Views            []View
}

// DPI returns the horizontal resolution in dots per inch, rounded, or 0 when
// the record states none.
func (r *Record) DPI() int {
	return int(math.Round(float64(r.ResX) * 2.54))
}

const (
	isoHeader  = 24
	ansiHeader = 26 // with a 2-byte length
	viewHeader = 4
	minutiaLen = 6
)

// Decode parses one ISO/IEC 19794-2:2005 or ANSI/INCITS 378-2004 record.
func Decode(b []byte) (*Record, error) {
	const op = "iso19794: decode"
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: %d bytes: %w", op, len(b), ErrTruncated)
	}
	if string(b[:4]) != "FMR\x00" {
		return nil, fmt.Errorf("%s: bad magic %q: %w", op, b[:4], ErrMalformed)
	}
	if string(b[4:8]) != " 20\x00" {
		return nil, fmt.Errorf("%s: unsupported version %q: %w", op, b[4:8], ErrMalformed)
	}
	if len(b) < 14 {
		return nil, fmt.Errorf("%s: header: %w", op, ErrTruncated)
	}
	r := &Record{}
	var p int // offset of capture equipment
	l32 := int(binary.BigEndian.Uint32(b[8:12]))
	l16 := int(binary.BigEndian.Uint16(b[8:10]))
	switch {
	case l32 == len(b) && l32 >= isoHeader:
		r.Format = ISO
		p = 12
	case l16 == len(b) && l16 >= ansiHeader:
		r.Format = ANSI
		r.ProductID = binary.BigEndian.Uint32(b[10:14])
		p = 14
	case l16 == 0 && len(b) >= 14 && int(binary.BigEndian.Uint32(b[10:14])) == len(b) && len(b) >= ansiHeader+4:
		r.Format = ANSI
		if len(b) < 18 {
			return nil, fmt.Errorf("%s: header: %w", op, ErrTruncated)
		}
		r.ProductID = binary.BigEndian.Uint32(b[14:18])
		p = 18
	case l32 > len(b) || (l16 > len(b) && l16 >= ansiHeader):
		return nil, fmt.Errorf("%s: declared length %d, have %d: %w", op, l32, len(b), ErrTruncated)
	default:
		return nil, fmt.Errorf("%s: declared length %d does not match %d bytes: %w", op, l32, len(b), ErrMalformed)
	}
	if len(b) < p+12 {
		return nil, fmt.Errorf("%s: header: %w", op, ErrTruncated)
	}
	r.CaptureEquipment = binary.BigEndian.Uint16(b[p:])
	r.Width = int(binary.BigEndian.Uint16(b[p+2:]))
	r.Height = int(binary.BigEndian.Uint16(b[p+4:]))
	r.ResX = int(binary.BigEndian.Uint16(b[p+6:]))
	r.ResY = int(binary.BigEndian.Uint16(b[p+8:]))
	nViews := int(b[p+10])
	p += 12
	angleUnit := 2 * math.Pi / 256
	if r.Format == ANSI {
		angleUnit = 2 * math.Pi / 180
	}
	for v := range nViews {
		if len(b) < p+viewHeader {
			return nil, fmt.Errorf("%s: view %d header: %w", op, v, ErrTruncated)
		}
		vw := View{
			Finger:         int(b[p]),
			ViewNumber:     int(b[p+1] >> 4),
			ImpressionType: int(b[p+1] & 0x0f),
			Quality:        int(b[p+2]),
		}
		n := int(b[p+3])
		p += viewHeader
		if vw.Finger > 10 || vw.Quality > 100 {
			return nil, fmt.Errorf("%s: view %d: finger %d quality %d: %w", op, v, vw.Finger, vw.Quality, ErrMalformed)
		}
		if len(b) < p+n*minutiaLen+2 {
			return nil, fmt.Errorf("%s: view %d: %d minutiae: %w", op, v, n, ErrTruncated)
		}
		vw.Minutiae = make([]Minutia, n)
		for i := range n {
			q := b[p : p+minutiaLen]
			xw := binary.BigEndian.Uint16(q[0:])
			yw := binary.BigEndian.Uint16(q[2:])
			m := Minutia{
				Type:    int(xw >> 14),
				X:       int(xw & 0x3fff),
				Y:       int(yw & 0x3fff),
				Angle:   float64(q[4]) * angleUnit,
				Quality: int(q[5]),
			}
			if m.Type == 3 {
				return nil, fmt.Errorf("%s: view %d minutia %d: type 3: %w", op, v, i, ErrMalformed)
			}
			if r.Format == ANSI && q[4] >= 180 {
				return nil, fmt.Errorf("%s: view %d minutia %d: angle %d: %w", op, v, i, q[4], ErrMalformed)
			}
			if m.Quality > 100 {
				return nil, fmt.Errorf("%s: view %d minutia %d: quality %d: %w", op, v, i, m.Quality, ErrMalformed)
			}
			if (r.Width > 0 && m.X >= r.Width) || (r.Height > 0 && m.Y >= r.Height) {
				return nil, fmt.Errorf("%s: view %d minutia %d at (%d,%d) outside %dx%d: %w", op, v, i, m.X, m.Y, r.Width, r.Height, ErrMalformed)
			}
			vw.Minutiae[i] = m
			p += minutiaLen
		}
		ext := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if len(b) < p+ext {
			return nil, fmt.Errorf("%s: view %d: extended data %d bytes: %w", op, v, ext, ErrTruncated)
		}
		if ext > 0 {
			vw.Extended = append([]byte(nil), b[p:p+ext]...)
		}
		p += ext
		r.Views = append(r.Views, vw)
	}
	if p != len(b) {
		return nil, fmt.Errorf("%s: %d bytes after the last view: %w", op, len(b)-p, ErrMalformed)
	}
	return r, nil
}

// Encode writes r as an ISO/IEC 19794-2:2005 record, whatever r.Format says.
// Angles are rounded to the nearest 360/256 degrees; coordinates must be in
// 0..16383 and quality in 0..100.
func Encode(r *Record) ([]byte, error) {
	const op = "iso19794: encode"
	if len(r.Views) > 255 {
		return nil, fmt.Errorf("%s: %d views: %w", op, len(r.Views), ErrTooMany)
	}
	size := isoHeader
	for _, v := range r.Views {
		if len(v.Minutiae) > 255 {
			return nil, fmt.Errorf("%s: %d minutiae: %w", op, len(v.Minutiae), ErrTooMany)
		}
		if len(v.Extended) > 0xffff {
			return nil, fmt.Errorf("%s: extended data %d bytes: %w", op, len(v.Extended), ErrMalformed)
		}
		size += viewHeader + minutiaLen*len(v.Minutiae) + 2 + len(v.Extended)
	}
	for _, d := range []int{r.Width, r.Height, r.ResX, r.ResY} {
		if d < 0 || d > 0xffff {
			return nil, fmt.Errorf("%s: dimension %d: %w", op, d, ErrMalformed)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, "FMR\x00 20\x00"...)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = binary.BigEndian.AppendUint16(b, r.CaptureEquipment)
	for _, d := range []int{r.Width, r.Height, r.ResX, r.ResY} {
		b = binary.BigEndian.AppendUint16(b, uint16(d))
	}
	b = append(b, byte(len(r.Views)), 0)
	for vi, v := range r.Views {
		if v.Finger < 0 || v.Finger > 10 || v.ViewNumber < 0 || v.ViewNumber > 15 ||
			v.ImpressionType < 0 || v.ImpressionType > 15 || v.Quality < 0 || v.Quality > 100 {
			return nil, fmt.Errorf("%s: view %d header out of range: %w", op, vi, ErrMalformed)
		}
		b = append(b, byte(v.Finger), byte(v.ViewNumber<<4|v.ImpressionType), byte(v.Quality), byte(len(v.Minutiae)))
		for i, m := range v.Minutiae {
			if m.Type < 0 || m.Type > 2 || m.X < 0 || m.X > 0x3fff || m.Y < 0 || m.Y > 0x3fff || m.Quality < 0 || m.Quality > 100 {
				return nil, fmt.Errorf("%s: view %d minutia %d out of range: %w", op, vi, i, ErrMalformed)
			}
			a := math.Mod(m.Angle, 2*math.Pi)
			if a < 0 {
				a += 2 * math.Pi
			}
			ab := int(math.Round(a/(2*math.Pi)*256)) & 0xff
			b = binary.BigEndian.AppendUint16(b, uint16(m.Type)<<14|uint16(m.X))
			b = binary.BigEndian.AppendUint16(b, uint16(m.Y))
			b = append(b, byte(ab), byte(m.Quality))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.Extended)))
		b = append(b, v.Extended...)
	}
	return b, nil
}
