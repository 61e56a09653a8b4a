package envelope

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBlindIndex(t *testing.T) {
	store := &MemStore{}
	m := newMaster(t)
	k := newKeyring(t, store, m, Options{})
	v := JoinIndex(NormalizeName("Yusuf"), NormalizeName("Amina"), "1990-04-01")
	a := k.BlindIndex("person.name_birth", v)
	if len(a) != DefaultBlindIndexBytes {
		t.Errorf("len = %d, want %d", len(a), DefaultBlindIndexBytes)
	}
	if !bytes.Equal(a, k.BlindIndex("person.name_birth", v)) {
		t.Error("BlindIndex is not deterministic")
	}
	restarted := newKeyring(t, store, m, Options{})
	if !bytes.Equal(a, restarted.BlindIndex("person.name_birth", v)) {
		t.Error("BlindIndex changed across a restart")
	}
	other := newKeyring(t, &MemStore{}, m, Options{BlindIndexBytes: 32})
	full := newKeyring(t, store, m, Options{BlindIndexBytes: 32})
	if !bytes.HasPrefix(full.BlindIndex("person.name_birth", v), a) {
		t.Error("a truncated index is not a prefix of the full one")
	}
	if bytes.Equal(full.BlindIndex("person.name_birth", v), other.BlindIndex("person.name_birth", v)) {
		t.Error("two key stores (two deployments) give the same index: the secret is not per store")
	}
	if bytes.Equal(full.BlindIndex("person.name_birth", v), full.BlindIndex("household.address", v)) {
		t.Error("two labels give the same index")
	}
	if bytes.Equal(full.BlindIndex("l", "a"), full.MAC("l", []byte("a"))) {
		t.Error("BlindIndex and MAC share a key")
	}
}

// TestBlindIndexBuckets checks the 16-bit default spreads values evenly
// enough to be a bucket: 20,000 distinct values land in many buckets and no
// bucket is crowded.
func TestBlindIndexBuckets(t *testing.T) {
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	counts := map[string]int{}
	for i := range 20000 {
		counts[string(k.BlindIndex("l", JoinIndex("name", string(rune('a'+i%26)), itoa(i))))]++
	}
	maxCount := 0
	for _, c := range counts {
		maxCount = max(maxCount, c)
	}
	if len(counts) < 15000 || maxCount > 8 {
		t.Errorf("%d buckets used, fullest holds %d: not a uniform 16-bit hash", len(counts), maxCount)
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

func TestMAC(t *testing.T) {
	store := &MemStore{}
	m := newMaster(t)
	k := newKeyring(t, store, m, Options{})
	mac := k.MAC("api-key", []byte("secret-api-key"))
	if len(mac) != 32 {
		t.Errorf("len = %d, want 32", len(mac))
	}
	tests := []struct {
		name  string
		label string
		data  string
		mac   []byte
		want  bool
	}{
		{"same", "api-key", "secret-api-key", mac, true},
		{"other data", "api-key", "secret-api-kez", mac, false},
		{"other label", "portal-code", "secret-api-key", mac, false},
		{"truncated", "api-key", "secret-api-key", mac[:31], false},
		{"nil", "api-key", "secret-api-key", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := k.VerifyMAC(tt.label, []byte(tt.data), tt.mac); got != tt.want {
				t.Errorf("VerifyMAC = %v, want %v", got, tt.want)
			}
		})
	}
	if !newKeyring(t, store, m, Options{}).VerifyMAC("api-key", []byte("secret-api-key"), mac) {
		t.Error("MAC changed across a restart")
	}
}

func TestSigningKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := newMaster(t)
	store := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
	k := newKeyring(t, store, m, Options{})
	r1, err := k.SigningKey(ctx, "receipts")
	if err != nil {
		t.Fatal(err)
	}
	c1, err := k.SigningKey(ctx, "checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	if r1.Equal(c1) {
		t.Error("two names gave one key")
	}
	msg := []byte("checkpoint 42")
	sig := ed25519.Sign(c1, msg)
	store.Close()
	k2 := newKeyring(t, newSQLiteStore(t, filepath.Join(dir, "keys.db")), m, Options{})
	c2, err := k2.SigningKey(ctx, "checkpoints")
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(c2.Public().(ed25519.PublicKey), msg, sig) {
		t.Error("signing key changed across a restart")
	}
	if _, err := k2.SigningKey(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty name: %v", err)
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ascii", "Amina", "amina"},
		{"trim and collapse", "  Amina \t  Yusuf\n", "amina yusuf"},
		{"no-break space", "Amina\u00a0Yusuf", "amina yusuf"},
		{"ideographic space", "山田\u3000太郎", "山田 太郎"},
		{"decomposed accent", "Jose\u0301", "josé"},
		{"precomposed accent", "JOSÉ", "josé"},
		{"accents kept", "José", "josé"},
		{"full width", "ＡＭＩＮＡ", "amina"},
		{"sharp s folds", "STRAẞE", "strasse"},
		{"greek final sigma", "ΟΔΥΣΣΕΥΣ", "οδυσσευσ"},
		{"dz digraph", "ǅemal", "džemal"},
		{"hyphen kept", "Ade-Bola", "ade-bola"},
		{"apostrophe kept", "O'Brien", "o'brien"},
		{"empty", "   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeName(tt.in); got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := NormalizeName(NormalizeName(tt.in)); got != tt.want {
				t.Errorf("NormalizeName is not idempotent on %q: %q", tt.in, got)
			}
		})
	}
	if NormalizeName("ǅemal") != NormalizeName("Ǆemal") || NormalizeName("ǆemal") != NormalizeName("ǅemal") {
		t.Error("title-case digraph does not fold with its upper and lower forms")
	}
}

func TestJoinIndex(t *testing.T) {
	got := []string{JoinIndex("ab", "c"), JoinIndex("a", "bc"), JoinIndex("abc"), JoinIndex("abc", ""), JoinIndex()}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("JoinIndex collision on %q", g)
		}
		seen[g] = true
	}
	if diff := cmp.Diff("\x00\x00\x00\x02ab\x00\x00\x00\x01c", JoinIndex("ab", "c")); diff != "" {
		t.Error(diff)
	}
}
