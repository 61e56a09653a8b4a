package iris

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Code geometry of templates made by Extract: Rows radial bands by Cols
// angular cells, two phase bits per cell.
const (
	DefaultRows = 8
	DefaultCols = 256
)

// EncoderVersion identifies the extraction parameters (segmentation, band,
// filter). Templates of different encoder versions are not comparable; the
// matcher refuses them.
const EncoderVersion = 1

// Template is an iris code and its mask. Bit i of Code is a phase bit, bit i
// of Mask is 1 when that bit is usable. Bits are laid out column by column:
// bit index (col*Rows+row)*2+k, k=0 for the real part and 1 for the imaginary
// part, so a rotation by one column is a circular shift by 2*Rows bits.
//
// A Template is a value: the matcher and gallery never modify it, and they
// copy what they keep.
type Template struct {
	Encoder int      // EncoderVersion of the extractor that made it
	Rows    int      // radial bands
	Cols    int      // angular cells
	Code    []uint64 // Rows*Cols*2 bits, packed little-endian in words
	Mask    []uint64 // same length as Code; 1 = usable
}

// Bits is the number of bits in the code (the mask has as many).
func (t *Template) Bits() int { return t.Rows * t.Cols * 2 }

// words is the number of uint64 words in Code (and in Mask).
func (t *Template) words() int { return (t.Bits() + 63) / 64 }

// UsableBits counts the mask bits that are set.
func (t *Template) UsableBits() int {
	n := 0
	for _, w := range t.Mask {
		n += bits.OnesCount64(w)
	}
	return n
}

// compatible reports whether a and b can be compared bit for bit.
func compatible(a, b *Template) bool {
	return a.Encoder == b.Encoder && a.Rows == b.Rows && a.Cols == b.Cols &&
		len(a.Code) == a.words() && len(b.Code) == b.words() &&
		len(a.Mask) == len(a.Code) && len(b.Mask) == len(b.Code)
}

// valid checks the internal consistency of t.
func (t *Template) valid() bool {
	return t.Encoder >= 0 && t.Encoder <= 255 && validGeometry(t.Rows, t.Cols) && len(t.Code) == t.words() && len(t.Mask) == t.words()
}

// validGeometry bounds the code geometry a template may declare.
func validGeometry(rows, cols int) bool {
	return rows > 0 && rows <= 64 && cols > 0 && cols <= 4096
}

// Serialised template layout (version 1), all integers little-endian:
//
//	offset size
//	0      4    magic "AIRC"
//	4      1    format version (1)
//	5      1    encoder version
//	6      2    rows
//	8      2    cols
//	10     2    reserved, zero
//	12     8*W  code words
//	..     8*W  mask words
//
// W = ceil(rows*cols*2/64). Bits of the last word beyond rows*cols*2 are zero.
const (
	templateMagic   = "AIRC"
	templateVersion = 1
	headerSize      = 12
)

// MarshalBinary encodes t in the versioned format above.
func (t *Template) MarshalBinary() ([]byte, error) {
	if !t.valid() {
		return nil, fmt.Errorf("iris.MarshalBinary: %w", ErrBadTemplate)
	}
	w := t.words()
	out := make([]byte, headerSize+16*w)
	copy(out, templateMagic)
	out[4] = templateVersion
	out[5] = byte(t.Encoder)
	binary.LittleEndian.PutUint16(out[6:], uint16(t.Rows))
	binary.LittleEndian.PutUint16(out[8:], uint16(t.Cols))
	p := out[headerSize:]
	for i, v := range t.Code {
		binary.LittleEndian.PutUint64(p[8*i:], v)
	}
	p = p[8*w:]
	for i, v := range t.Mask {
		binary.LittleEndian.PutUint64(p[8*i:], v)
	}
	return out, nil
}

// UnmarshalBinary decodes the format written by MarshalBinary. It rejects
// unknown versions, wrong lengths and set bits beyond the code length. Code
// bits under a clear mask bit are kept and ignored by the matcher.
func (t *Template) UnmarshalBinary(data []byte) error {
	const op = "iris.UnmarshalBinary"
	if len(data) < headerSize || string(data[:4]) != templateMagic {
		return fmt.Errorf("%s: bad magic: %w", op, ErrBadTemplate)
	}
	if data[4] != templateVersion {
		return fmt.Errorf("%s: format version %d: %w", op, data[4], ErrBadTemplate)
	}
	rows := int(binary.LittleEndian.Uint16(data[6:]))
	cols := int(binary.LittleEndian.Uint16(data[8:]))
	if data[10] != 0 || data[11] != 0 {
		return fmt.Errorf("%s: reserved bytes set: %w", op, ErrBadTemplate)
	}
	nt := Template{Encoder: int(data[5]), Rows: rows, Cols: cols}
	if !validGeometry(rows, cols) {
		return fmt.Errorf("%s: geometry %dx%d: %w", op, rows, cols, ErrBadTemplate)
	}
	w := nt.words()
	if len(data) != headerSize+16*w {
		return fmt.Errorf("%s: length %d, want %d: %w", op, len(data), headerSize+16*w, ErrBadTemplate)
	}
	nt.Code = make([]uint64, w)
	nt.Mask = make([]uint64, w)
	p := data[headerSize:]
	for i := range w {
		nt.Code[i] = binary.LittleEndian.Uint64(p[8*i:])
		nt.Mask[i] = binary.LittleEndian.Uint64(p[8*(w+i):])
	}
	if tail := nt.Bits() % 64; tail != 0 {
		extra := ^uint64(0) << tail
		if nt.Code[w-1]&extra != 0 || nt.Mask[w-1]&extra != 0 {
			return fmt.Errorf("%s: bits beyond code length: %w", op, ErrBadTemplate)
		}
	}
	*t = nt
	return nil
}

// rotate writes into dst the code (or mask) src rotated by shift columns:
// column c of dst is column (c-shift) mod cols of src.
func rotate(dst, src []uint64, rows, cols, shift int) {
	per := 2 * rows
	n := per * cols
	s := ((shift % cols) + cols) % cols * per
	if n%64 == 0 {
		rotateWords(dst, src, s)
		return
	}
	clear(dst)
	for i := range n {
		if src[i>>6]>>(i&63)&1 != 0 {
			j := i + s
			if j >= n {
				j -= n
			}
			dst[j>>6] |= 1 << (j & 63)
		}
	}
}

// rotateWords circularly shifts the bit string src (len(src)*64 bits) up by
// s bits into dst: bit i moves to bit (i+s) mod n.
func rotateWords(dst, src []uint64, s int) {
	w := len(src)
	q, r := s/64, uint(s%64)
	for i := range w {
		// dst bit i*64+b takes src bit i*64+b-s.
		lo := src[((i-q-1)%w+w)%w]
		hi := src[((i-q)%w+w)%w]
		if r == 0 {
			dst[i] = hi
		} else {
			dst[i] = hi<<r | lo>>(64-r)
		}
	}
}
