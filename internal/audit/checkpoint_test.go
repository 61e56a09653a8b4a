package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/assent-registry/assent/auditproof"
)

func TestSignerRoundTrip(t *testing.T) {
	s := testSigner(t, 1)
	if !strings.HasPrefix(s.VerifierKey(), testOrigin+"+") {
		t.Errorf("verifier key %q does not start with the origin", s.VerifierKey())
	}
	v, err := note.NewVerifier(s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != s.KeyHash() || v.Name() != s.Name() {
		t.Errorf("verifier %s/%08x, signer %s/%08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	root := LeafHash([]byte("x"))
	signed, err := s.SignCheckpoint(9, root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(signed, s.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Checkpoint{Origin: testOrigin, Size: 9, Root: root}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, err := OpenCheckpoint(signed, testSigner(t, 2).VerifierKey()); !errors.Is(err, auditproof.ErrUnverified) {
		t.Errorf("opened with another key: err = %v", err)
	}
	wantPrefix := testOrigin + "\n9\n"
	if !strings.HasPrefix(string(signed), wantPrefix) || !strings.Contains(string(signed), "\n\n— "+testOrigin+" ") {
		t.Errorf("note is not in the checkpoint format:\n%s", signed)
	}
}

func TestNewSignerRejects(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	for _, tc := range []struct {
		name   string
		origin string
		key    ed25519.PrivateKey
	}{
		{"empty origin", "", key},
		{"origin with space", "a b", key},
		{"origin with plus", "a+b", key},
		{"short key", testOrigin, key[:32]},
		{"no key", testOrigin, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSigner(tc.origin, tc.key); !errors.Is(err, ErrBadKey) {
				t.Errorf("err = %v, want ErrBadKey", err)
			}
		})
	}
}

func TestSignCheckpointRejectsShortRoot(t *testing.T) {
	if _, err := testSigner(t, 1).SignCheckpoint(1, []byte{1, 2}); !errors.Is(err, ErrBadHash) {
		t.Errorf("err = %v, want ErrBadHash", err)
	}
}

// TestSignerManyKeys covers keys whose base64 contains '+' or '/'.
func TestSignerManyKeys(t *testing.T) {
	for seed := range 64 {
		s := testSigner(t, byte(seed))
		signed, err := s.SignCheckpoint(1, LeafHash(nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCheckpoint(signed, s.VerifierKey()); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
	}
}

// TestServerMatchesPublicGolden: the signer, tree and encoding here still
// produce the golden files the public package verifies.
func TestServerMatchesPublicGolden(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "auditproof", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s, err := NewSigner("registry.example.org/audit", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	var tr Tree
	var entry3 []byte
	for i := range uint64(6) {
		data, err := testEvent(i).Encode()
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			entry3 = data
		}
		if err := tr.Append(LeafHash(data)); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := s.SignCheckpoint(6, tr.Root())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tr.InclusionProof(3, 6)
	if err != nil {
		t.Fatal(err)
	}
	proofJSON, err := auditproof.EncodeProof(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		got  []byte
	}{
		{"verifier.key", []byte(s.VerifierKey())},
		{"checkpoint.note", signed},
		{"entry3.json", entry3},
		{"inclusion_3_6.json", proofJSON},
	} {
		if d := cmp.Diff(string(read(tc.file)), string(tc.got)); d != "" {
			t.Errorf("%s (-golden +got):\n%s", tc.file, d)
		}
	}
}
