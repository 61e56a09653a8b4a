package gallery

import (
	"reflect"
	"strings"
	"testing"
)

func TestNamesGiveBackEveryKey(t *testing.T) {
	var n Names
	long := strings.Repeat("x", 24)
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"uuid bytes", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"},
		{"named reference", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x01"},
		{"23 bytes, inline", strings.Repeat("y", 23)},
		{"24 bytes, numbered", long},
		{"a text id", "123e4567-e89b-12d3-a456-426614174000"},
	}
	seen := map[Key]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := n.Key(tc.key)
			if got := n.Text(k); got != tc.key {
				t.Errorf("Text(Key(%q)) = %q", tc.key, got)
			}
			if again := n.Key(tc.key); again != k {
				t.Errorf("Key(%q) twice differs", tc.key)
			}
			if l, ok := n.Lookup(tc.key); !ok || l != k {
				t.Errorf("Lookup(%q) = %v, %v", tc.key, l, ok)
			}
			if other, dup := seen[k]; dup {
				t.Errorf("%q and %q share a key", tc.key, other)
			}
			seen[k] = tc.key
		})
	}
	if _, ok := n.Lookup(long + "z"); ok {
		t.Error("Lookup found a long key never numbered")
	}
}

func TestHoldsPointers(t *testing.T) {
	tests := []struct {
		v    any
		want bool
	}{
		{Key{}, false},
		{[4]struct {
			a [16]byte
			b bool
		}{}, false},
		{"", true},
		{struct{ b []byte }{}, true},
		{[2]*int{}, true},
		{[0]*int{}, false},
	}
	for _, tc := range tests {
		if got := HoldsPointers(reflect.TypeOf(tc.v)); got != tc.want {
			t.Errorf("HoldsPointers(%T) = %v, want %v", tc.v, got, tc.want)
		}
	}
}
