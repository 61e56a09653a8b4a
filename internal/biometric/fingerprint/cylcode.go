package fingerprint

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
)

// Stored cylinders: the "AFP2" serialised form carries, after the minutiae,
// the bit cylinders the matcher built from them, so that decoding a template
// (every fingerprint of a gallery load, every 1:1 verification) does not
// rebuild them (about 0.3 ms for 47 minutiae on this machine, most of a
// start's time before). The cylinders are tagged with cylinderTag; a form
// whose tag differs (cylinders made by another version of buildCylinders)
// is decoded from its minutiae, as "AFP1" is.
//
// Layout after the minutiae (big-endian): tag (uint32), cylinder count
// (uint8), then per cylinder in the matcher's order (by direction): its
// minutia's index (uint8), its number of 1 bits k (uint16), and the
// positions of those bits in increasing order, 10 bits each, packed from
// the most significant bit, padded to a byte. A cylinder has about 34 of
// its 672 bits set, so this takes about 45 bytes where the bits take 88.

// cylBitsUsed is the number of bits a cylinder uses: cells times layers.
var cylBitsUsed = len(cellU) * mccND

// cylinderTag identifies what buildCylinders makes: a checksum of the
// cylinders it builds for a fixed set of minutiae, computed at start. Any
// change to the cylinder code or its parameters changes it (with
// overwhelming probability), so cylinders stored by another version are
// never used. Read-only after init.
var cylinderTag = func() uint32 {
	var ms []Minutia
	s := uint32(0x9e3779b9)
	next := func() float32 {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		return float32(s%10000) / 10000
	}
	for range 40 {
		ms = append(ms, Minutia{X: 40 + 220*next(), Y: 40 + 320*next(), Dir: 2 * math.Pi * next() * 0.999, Type: TypeEnding})
	}
	c := buildCylinders(ms)
	h := crc32.NewIEEE()
	var b [8]byte
	for i := range c.n() {
		for _, v := range []float32{c.x[i], c.y[i], c.dir[i], c.cos[i], c.sin[i], c.norm[i]} {
			binary.BigEndian.PutUint32(b[:4], math.Float32bits(v))
			h.Write(b[:4])
		}
		for _, w := range c.bits[i] {
			binary.BigEndian.PutUint64(b[:], w)
			h.Write(b[:])
		}
	}
	binary.BigEndian.PutUint32(b[:4], uint32(cylBitsUsed))
	h.Write(b[:4])
	return h.Sum32()
}()

// appendCylinders appends t's cylinders in the stored form, or reports
// false when a cylinder's minutia is not among t.Minutiae (a template not
// made by newTemplate).
func appendCylinders(b []byte, t *Template) ([]byte, bool) {
	c := &t.cyl
	b = binary.BigEndian.AppendUint32(b, cylinderTag)
	b = append(b, uint8(c.n()))
	// Each cylinder's minutia, and the order of the cylinders once the
	// minutiae are decoded: by stored direction, ties by minutia index, as
	// buildCylinders orders the decoded minutiae (a direction just below 2π
	// is stored as 0, so the last cylinder may come first).
	idx := make([]int, c.n())
	for i := range idx {
		idx[i] = -1
		for j, m := range t.Minutiae {
			if m.X == c.x[i] && m.Y == c.y[i] && m.Dir == c.dir[i] {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 || idx[i] > math.MaxUint8 {
			return nil, false
		}
	}
	order := make([]int, c.n())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if d := cmp.Compare(dirCode(c.dir[a]), dirCode(c.dir[b])); d != 0 {
			return d
		}
		return cmp.Compare(idx[a], idx[b])
	})
	for _, i := range order {
		b = append(b, uint8(idx[i]))
		ones := 0
		for _, w := range c.bits[i] {
			ones += bits.OnesCount64(w)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(ones))
		var acc uint32
		nacc := 0
		for w, x := range c.bits[i] {
			for x != 0 {
				acc = acc<<10 | uint32(w*64+bits.TrailingZeros64(x))
				nacc += 10
				for nacc >= 8 {
					b = append(b, byte(acc>>(nacc-8)))
					nacc -= 8
				}
				x &= x - 1
			}
		}
		if nacc > 0 {
			b = append(b, byte(acc<<(8-nacc)))
		}
	}
	return b, true
}

// readCylinders decodes the stored cylinders in b for minutiae ms. It
// reports ok == false (and no error) when the tag is not cylinderTag: the
// caller then builds the cylinders from ms. Malformed input gives an error
// wrapping ErrTemplate.
func readCylinders(b []byte, ms []Minutia) (c cylinders, ok bool, err error) {
	const op = "fingerprint: unmarshal template: stored cylinders"
	if len(b) < 5 {
		return c, false, fmt.Errorf("%s: truncated: %w", op, ErrTemplate)
	}
	if binary.BigEndian.Uint32(b) != cylinderTag {
		return c, false, nil
	}
	n := int(b[4])
	if n > len(ms) {
		return c, false, fmt.Errorf("%s: %d cylinders for %d minutiae: %w", op, n, len(ms), ErrTemplate)
	}
	if b = b[5:]; n == 0 {
		if len(b) != 0 {
			return c, false, fmt.Errorf("%s: %d bytes left over: %w", op, len(b), ErrTemplate)
		}
		return c, true, nil // as buildCylinders makes it
	}
	c = cylinders{x: make([]float32, n), y: make([]float32, n), dir: make([]float32, n),
		cos: make([]float32, n), sin: make([]float32, n), norm: make([]float32, n), bits: make([]cylBits, n),
		typ: make([]uint8, n)}
	for i := range n {
		if len(b) < 3 {
			return c, false, fmt.Errorf("%s: truncated: %w", op, ErrTemplate)
		}
		idx, ones := int(b[0]), int(binary.BigEndian.Uint16(b[1:]))
		size := (ones*10 + 7) / 8
		if idx >= len(ms) || ones > cylBitsUsed || len(b) < 3+size {
			return c, false, fmt.Errorf("%s: cylinder %d: %w", op, i, ErrTemplate)
		}
		m := ms[idx]
		if i > 0 && m.Dir < c.dir[i-1] {
			return c, false, fmt.Errorf("%s: cylinder %d out of direction order: %w", op, i, ErrTemplate)
		}
		c.x[i], c.y[i], c.dir[i], c.typ[i] = m.X, m.Y, m.Dir, m.Type
		c.cos[i], c.sin[i] = float32(math.Cos(float64(m.Dir))), float32(math.Sin(float64(m.Dir))) // as buildCylinders
		c.norm[i] = sqrtTab[ones]
		var acc uint32
		nacc, prev := 0, -1
		q := b[3 : 3+size]
		for range ones {
			for nacc < 10 {
				acc = acc<<8 | uint32(q[0])
				q = q[1:]
				nacc += 8
			}
			p := int(acc>>(nacc-10)) & 0x3ff
			nacc -= 10
			if p <= prev || p >= cylBitsUsed {
				return c, false, fmt.Errorf("%s: cylinder %d: bit %d after %d: %w", op, i, p, prev, ErrTemplate)
			}
			c.bits[i][p/64] |= 1 << (p % 64)
			prev = p
		}
		b = b[3+size:]
	}
	if len(b) != 0 {
		return c, false, fmt.Errorf("%s: %d bytes left over: %w", op, len(b), ErrTemplate)
	}
	return c, true, nil
}
