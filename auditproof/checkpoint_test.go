package auditproof

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

// testKey returns a deterministic signer and its verifier key for name.
func testKey(t testing.TB, name string, seed byte) (note.Signer, string) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// Build the "PRIVATE+KEY+..." form the note package reads.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	s := &fixedSigner{name: name, hash: v.KeyHash(), priv: priv}
	return s, vkey
}

// fixedSigner is a note.Signer over a given Ed25519 key.
type fixedSigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s *fixedSigner) Name() string                    { return s.name }
func (s *fixedSigner) KeyHash() uint32                 { return s.hash }
func (s *fixedSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

func signText(t testing.TB, text []byte, signers ...note.Signer) []byte {
	t.Helper()
	n, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func root(b byte) []byte { r := sha256.Sum256([]byte{b}); return r[:] }

func TestCheckpointTextRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		cp   Checkpoint
		text string
	}{
		{"empty log", Checkpoint{"example.org/audit", 0, EmptyRoot()}, "example.org/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"},
		{"large", Checkpoint{"a", 18446744073709551615, root(1)}, "a\n18446744073709551615\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.text, string(tc.cp.Text())); d != "" {
				t.Errorf("Text (-want +got):\n%s", d)
			}
			got, err := ParseCheckpoint([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.cp, got); d != "" {
				t.Errorf("ParseCheckpoint (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseCheckpointExtensionLines(t *testing.T) {
	cp := Checkpoint{"o", 7, root(2)}
	got, err := ParseCheckpoint(append(cp.Text(), "ext one\next two\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(cp, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	good := "o\n5\n" + "S/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=" + "\n"
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"no final newline", good[:len(good)-1]},
		{"two lines", "o\n5\n"},
		{"empty origin", "\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"origin with space", "a b\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"origin with plus", "a+b\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"leading zero", "o\n05\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"plus sign", "o\n+5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"negative", "o\n-5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"overflow", "o\n18446744073709551616\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"short root", "o\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeF\n"},
		{"unpadded root", "o\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo\n"},
		{"url base64 root", "o\n5\nS_USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
		{"empty extension", good + "\n"},
		{"not utf8", "o\xff\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCheckpoint([]byte(tc.text)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestOpenCheckpoint(t *testing.T) {
	const origin = "registry.example/audit"
	signer, vkey := testKey(t, origin, 1)
	other, otherKey := testKey(t, origin, 2)
	renamed, _ := testKey(t, "other.example/audit", 1)
	cp := Checkpoint{origin, 42, root(3)}
	good := signText(t, cp.Text(), signer)

	t.Run("valid", func(t *testing.T) {
		got, err := OpenCheckpoint(good, vkey)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(cp, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
	t.Run("valid with a second, unknown signature", func(t *testing.T) {
		if _, err := OpenCheckpoint(signText(t, cp.Text(), signer, renamed), vkey); err != nil {
			t.Fatal(err)
		}
	})

	tampered := bytes.Replace(good, []byte("\n42\n"), []byte("\n43\n"), 1)
	otherOrigin := Checkpoint{"other.example/audit", 42, root(3)}
	for _, tc := range []struct {
		name string
		note []byte
		vkey string
		want error
	}{
		{"other key", signText(t, cp.Text(), other), vkey, ErrUnverified},
		{"verified with the wrong key", good, otherKey, ErrUnverified},
		{"size changed after signing", tampered, vkey, ErrUnverified},
		{"origin is not the key name", signText(t, otherOrigin.Text(), signer), vkey, ErrUnverified},
		{"no signature", cp.Text(), vkey, ErrMalformed},
		{"bad verifier key", good, "nonsense", ErrMalformed},
		{"signed garbage", signText(t, []byte("hello\n"), signer), vkey, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenCheckpoint(tc.note, tc.vkey)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("o\n5\nS/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=\n"))
	f.Add([]byte("example.org/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"))
	f.Add([]byte("o\n05\n\n"))
	if text, _, ok := bytes.Cut(readTestdata(f, "checkpoint.note"), []byte("\n\n")); ok {
		f.Add(append(text, '\n'))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		cp, err := ParseCheckpoint(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// What parses re-encodes to a prefix of the input (extensions are
		// dropped) and parses again to the same checkpoint.
		if !bytes.HasPrefix(text, cp.Text()) {
			t.Fatalf("Text() %q is not a prefix of %q", cp.Text(), text)
		}
		again, err := ParseCheckpoint(cp.Text())
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(cp, again); d != "" {
			t.Fatalf("(-first +again):\n%s", d)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	signer, vkey := testKey(f, "o", 1)
	f.Add(signText(f, Checkpoint{"o", 5, root(1)}.Text(), signer))
	f.Add([]byte("o\n5\nx\n\n— o AAAA\n"))
	f.Add(readTestdata(f, "checkpoint.note"))
	f.Fuzz(func(t *testing.T, n []byte) {
		cp, err := OpenCheckpoint(n, vkey)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnverified) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if cp.Origin != "o" {
			t.Fatalf("opened a checkpoint of origin %q", cp.Origin)
		}
	})
}
