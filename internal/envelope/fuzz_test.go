package envelope

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary bytes (and ids) to Open: it must never panic,
// must fail with one of the documented errors, and can only succeed on a
// value that Seal produced.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	k, err := NewKeyring(ctx, &MemStore{}, mustMaster(f), Options{})
	if err != nil {
		f.Fatal(err)
	}
	type seeded struct{ person, cat, kind, plaintext string }
	seeds := []seeded{
		{"p1", "identity", "identity.given_name", "Amina"},
		{"p1", "face", "face.photo", ""},
		{"p2", "health", "exam", `{"systolic":120,"diastolic":80}`},
	}
	valid := map[string]string{}
	for _, s := range seeds {
		v, err := k.Seal(ctx, s.person, s.cat, s.kind, []byte(s.plaintext))
		if err != nil {
			f.Fatal(err)
		}
		valid[string(v)] = s.plaintext
		f.Add(s.person, s.cat, s.kind, v)
	}
	f.Add("p1", "identity", "k", []byte{})
	f.Add("p1", "identity", "k", []byte{0x01, 0, 0, 0, 1})
	f.Add("", "", "", bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, person, cat, kind string, value []byte) {
		got, err := k.Open(ctx, person, cat, kind, value)
		if err != nil {
			if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrShredded) && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		want, ok := valid[string(value)]
		if !ok || string(got) != want {
			t.Fatalf("Open accepted a value Seal never produced: %x -> %q", value, got)
		}
	})
}

// FuzzParseSealed checks the sealed-value parser on its own.
func FuzzParseSealed(f *testing.F) {
	f.Add([]byte{})
	f.Add(append([]byte{0x01, 0, 0, 0, 7}, make([]byte, 28)...))
	f.Add(append([]byte{0x01, 0, 0, 0, 0}, make([]byte, 28)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		sv, err := parseSealed(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrTampered) {
				t.Fatalf("error %v is not ErrMalformed+ErrTampered", err)
			}
			return
		}
		if sv.version == 0 || len(sv.nonce) != nonceSize || len(sv.ciphertext) < tagSize {
			t.Fatalf("accepted %x as %+v", b, sv)
		}
	})
}

func mustMaster(tb testing.TB) *MasterKey {
	tb.Helper()
	m, err := GenerateMasterKey()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
