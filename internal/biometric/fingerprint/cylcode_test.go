package fingerprint

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
)

// TestStoredCylinders: an AFP2 template decodes to the cylinders it was
// encoded with, without rebuilding them; cylinders of another cylinder code
// are rebuilt from the minutiae; AFP1 still decodes; malformed cylinders
// are refused.
func TestStoredCylinders(t *testing.T) {
	// A template whose minutiae survive encoding exactly (as every
	// template decoded from a store does): its stored cylinders are the
	// ones buildCylinders makes from the decoded minutiae.
	first := sampleTemplate()
	b, err := first.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var dec Template
	if err := dec.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := NewTemplate(dec.Width, dec.Height, dec.Minutiae)
	if !reflect.DeepEqual(dec.cyl.bits, first.cyl.bits) {
		t.Error("decoded bits differ from the encoded template's")
	}
	b, err = want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "AFP2" {
		t.Fatalf("magic %q", b[:4])
	}
	t.Run("stored cylinders decode as built", func(t *testing.T) {
		var got Template
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.cyl, want.cyl) {
			t.Error("decoded cylinders differ from the built ones")
		}
	})
	t.Run("another cylinder code is rebuilt", func(t *testing.T) {
		other := append([]byte(nil), b...)
		at := headerLen + len(want.Minutiae)*minutiaSize
		binary.BigEndian.PutUint32(other[at:], cylinderTag+1)
		other = append(other[:at+5], 0xff) // and whatever follows is not read
		var got Template
		if err := got.UnmarshalBinary(other); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.cyl, want.cyl) {
			t.Error("rebuilt cylinders differ")
		}
	})
	t.Run("AFP1", func(t *testing.T) {
		old := append([]byte("AFP1"), b[4:headerLen+len(want.Minutiae)*minutiaSize]...)
		var got Template
		if err := got.UnmarshalBinary(old); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.cyl, want.cyl) {
			t.Error("AFP1 cylinders differ")
		}
	})
	t.Run("malformed", func(t *testing.T) {
		at := headerLen + len(want.Minutiae)*minutiaSize
		mutate := func(f func(c []byte) []byte) []byte {
			return f(append([]byte(nil), b...))
		}
		for name, in := range map[string][]byte{
			"no cylinders":  b[:at],
			"truncated":     b[:len(b)-1],
			"trailing":      append(append([]byte(nil), b...), 0),
			"too many":      mutate(func(c []byte) []byte { c[at+4] = byte(len(want.Minutiae) + 1); return c }),
			"minutia index": mutate(func(c []byte) []byte { c[at+5] = byte(len(want.Minutiae)); return c }),
			"bits out of order": mutate(func(c []byte) []byte {
				c[at+8], c[at+9] = 0xff, 0xff // second position 1023 (or more than 672)
				return c
			}),
		} {
			var got Template
			if err := got.UnmarshalBinary(in); !errors.Is(err, ErrTemplate) {
				t.Errorf("%s: got %v, want ErrTemplate", name, err)
			}
		}
	})
}

func BenchmarkUnmarshalStored(b *testing.B) {
	raw, err := sampleTemplate().MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var t Template
		if err := t.UnmarshalBinary(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStoredCylindersWrap: a minutia whose direction is just below 2π is
// stored as direction 0, so its cylinder moves from last to first; the
// stored cylinders follow, and decode as a rebuild from the decoded
// minutiae would make them.
func TestStoredCylindersWrap(t *testing.T) {
	base := sampleTemplate()
	ms := append([]Minutia(nil), base.Minutiae...)
	for i := range 3 {
		ms[i*7].Dir = float32(2*math.Pi) - float32(i+1)*1e-6
	}
	tp := NewTemplate(base.Width, base.Height, ms)
	b, err := tp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Template
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	want := NewTemplate(got.Width, got.Height, got.Minutiae)
	if !reflect.DeepEqual(got.cyl.dir, want.cyl.dir) || !reflect.DeepEqual(got.cyl.x, want.cyl.x) {
		t.Errorf("cylinder order differs from a rebuild:\n%v\n%v", got.cyl.dir, want.cyl.dir)
	}
}
