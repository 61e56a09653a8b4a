package envelope

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Blind indexes and MACs are keyed by two 256-bit secrets stored, wrapped like
// any data key, in the key store (Refs {"", "secret/blind-index"} and
// {"", "secret/mac"}). Per-label keys are derived from them with HKDF-SHA256,
// so labels are independent of each other. Because the secrets are not the
// master key, master rotation changes neither indexes nor MACs.

func (k *Keyring) labelKey(kind byte, secret []byte, info, label string) []byte {
	id := string(kind) + ":" + label
	k.subMu.Lock()
	defer k.subMu.Unlock()
	if key, ok := k.subKey[id]; ok {
		return key
	}
	key, err := hkdf.Key(sha256.New, secret, nil, info+"\x00"+label, sha256.Size)
	if err != nil {
		panic("envelope: hkdf: " + err.Error()) // only fails for lengths > 255*32
	}
	k.subKey[id] = key
	return key
}

// BlindIndex returns a keyed hash of value for equality search over sealed
// fields: HMAC-SHA256 under a key derived for label, truncated to
// Options.BlindIndexBytes (2 by default). label names what is indexed
// ("person.name_birth"); different labels give unrelated indexes. Normalise
// value first (NormalizeName, JoinIndex) so that spellings that should match
// do.
//
// A blind index is a bucket, not an identifier: with the default 16 bits,
// unrelated people share index values, so a lookup returns candidates that
// the caller must confirm by opening their sealed fields and comparing. This
// is deliberate. Index values are not erased by Shred; a row (or a backup)
// left with an index after erasure only says "someone in this bucket", and
// once the candidate's identity key is shredded it can no longer be
// confirmed. Longer indexes make lookups cheaper but let anyone holding the
// key store and a restored data backup test a guessed name and birth date.
// Delete index rows on erasure regardless.
//
// The result is stable across restarts and master rotation. Safe for
// concurrent use.
func (k *Keyring) BlindIndex(label, value string) []byte {
	key := k.labelKey('b', k.blind, "assent/blind-index/v1", label)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return m.Sum(nil)[:k.opts.BlindIndexBytes]
}

// MAC returns HMAC-SHA256 of data under a key derived for label (32 bytes);
// for API keys, store MAC("api-key", key) and compare with VerifyMAC. Stable
// across restarts and master rotation. Safe for concurrent use.
func (k *Keyring) MAC(label string, data []byte) []byte {
	key := k.labelKey('m', k.mac, "assent/mac/v1", label)
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// VerifyMAC reports, in constant time, whether mac is MAC(label, data).
func (k *Keyring) VerifyMAC(label string, data, mac []byte) bool {
	return hmac.Equal(k.MAC(label, data), mac)
}

// SigningKey returns the Ed25519 key called name ("receipts", "checkpoints"),
// creating it on first use. It is stored wrapped in the key store (Ref
// {"", "signing/" + name}, the 32-byte seed), so it survives restarts and
// master rotation. The returned key is shared: do not modify it. Safe for
// concurrent use.
func (k *Keyring) SigningKey(ctx context.Context, name string) (ed25519.PrivateKey, error) {
	const op = "envelope.SigningKey"
	if err := checkID("signing key name", name); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	k.signMu.Lock()
	defer k.signMu.Unlock()
	if priv, ok := k.signing[name]; ok {
		return priv, nil
	}
	k.rot.RLock()
	defer k.rot.RUnlock()
	seed, err := k.loadOrCreate(ctx, Ref{Name: signingKeyPrefix + name}, randomKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: %w: seed is %d bytes", op, ErrTampered, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	k.signing[name] = priv
	return priv, nil
}

// NormalizeName prepares a personal name for BlindIndex and for comparing
// candidates: Unicode NFKC, full case folding, NFKC again (so "Ǆ", "ǅ" and
// "ǆ", full-width letters, and "É" typed as E plus a combining accent all
// agree), white space trimmed and every run of white space (including
// no-break spaces) collapsed to one ASCII space. Diacritics, hyphens and
// apostrophes are kept: "José" and "Jose" differ, as do "O'Brien" and
// "OBrien", because folding them is language-specific.
func NormalizeName(s string) string {
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// JoinIndex joins the parts of a compound index value unambiguously (each
// part is length-prefixed), so that ("ab", "c") and ("a", "bc") differ:
// BlindIndex("person.name_birth", JoinIndex(NormalizeName(family),
// NormalizeName(given), birthDate)).
func JoinIndex(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return string(b)
}
