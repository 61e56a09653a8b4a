package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Sealed value format (version 1), all integers big-endian:
//
//	offset 0      1 byte   format, 0x01
//	offset 1      4 bytes  data key version
//	offset 5      12 bytes GCM nonce (random)
//	offset 17     rest     AES-256-GCM ciphertext, 16-byte tag at the end
//
// The additional data authenticated with it is sealAAD.
const (
	sealFormatV1  = 0x01
	nonceSize     = 12
	tagSize       = 16
	sealHeader    = 1 + 4 + nonceSize
	dataKeySize   = 32
	maxIDLen      = 256
	sealAADDomain = "assent/seal/v1"
	wrapAADDomain = "assent/wrap/v1"
	wrapFormatV1  = 0x01
)

// SealOverhead is how many bytes Seal adds to a plaintext.
const SealOverhead = sealHeader + tagSize

// appendField appends a 2-byte length and s, so that no two different field
// lists encode to the same bytes.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// sealAAD binds a sealed value to its format, key version, person, category
// and record kind.
func sealAAD(version uint32, person, cat, kind string) []byte {
	return appendSealAAD(make([]byte, 0, len(sealAADDomain)+2+5+6+len(person)+len(cat)+len(kind)), version, person, cat, kind)
}

// appendSealAAD appends sealAAD's bytes to b.
func appendSealAAD(b []byte, version uint32, person, cat, kind string) []byte {
	b = appendField(b, sealAADDomain)
	b = append(b, sealFormatV1)
	b = binary.BigEndian.AppendUint32(b, version)
	b = appendField(b, person)
	b = appendField(b, cat)
	return appendField(b, kind)
}

// wrapAAD binds a wrapped key to its Ref and version, so a wrapped key copied
// to another row of the key store does not unwrap there.
func wrapAAD(ref Ref, version uint32) []byte {
	return appendWrapAAD(make([]byte, 0, len(wrapAADDomain)+2+1+4+4+len(ref.Owner)+len(ref.Name)), ref, version)
}

// appendWrapAAD appends wrapAAD's bytes to b.
func appendWrapAAD(b []byte, ref Ref, version uint32) []byte {
	b = appendField(b, wrapAADDomain)
	b = append(b, wrapFormatV1)
	b = binary.BigEndian.AppendUint32(b, version)
	b = appendField(b, ref.Owner)
	return appendField(b, ref.Name)
}

// sealed is a parsed sealed value; the slices alias the input.
type sealed struct {
	version    uint32
	nonce      []byte
	ciphertext []byte
}

// parseSealed splits a sealed value; it never panics on any input.
func parseSealed(b []byte) (sealed, error) {
	if len(b) < sealHeader+tagSize {
		return sealed{}, fmt.Errorf("%w: %w: %d bytes is shorter than %d", ErrTampered, ErrMalformed, len(b), sealHeader+tagSize)
	}
	if b[0] != sealFormatV1 {
		return sealed{}, fmt.Errorf("%w: %w: unknown format byte %#x", ErrTampered, ErrMalformed, b[0])
	}
	v := binary.BigEndian.Uint32(b[1:5])
	if v == 0 {
		return sealed{}, fmt.Errorf("%w: %w: key version 0", ErrTampered, ErrMalformed)
	}
	return sealed{version: v, nonce: b[5:sealHeader], ciphertext: b[sealHeader:]}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealWith encrypts plaintext under aead and returns a complete sealed value.
func sealWith(aead cipher.AEAD, version uint32, aad, plaintext []byte) []byte {
	out := make([]byte, sealHeader, sealHeader+len(plaintext)+tagSize)
	out[0] = sealFormatV1
	binary.BigEndian.PutUint32(out[1:5], version)
	_, _ = rand.Read(out[5:sealHeader]) // never fails (Go ≥ 1.24)
	return aead.Seal(out, out[5:sealHeader], plaintext, aad)
}

// wrapKey encrypts key material under kek. Format: 0x01, 12-byte nonce,
// ciphertext with tag.
func wrapKey(kek cipher.AEAD, ref Ref, version uint32, key []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(key)+tagSize)
	out[0] = wrapFormatV1
	_, _ = rand.Read(out[1:])
	return kek.Seal(out, out[1:], key, wrapAAD(ref, version))
}

// unwrapKey reverses wrapKey.
func unwrapKey(kek cipher.AEAD, wk WrappedKey) ([]byte, error) {
	key, _, err := unwrapKeyTo(nil, nil, kek, wk)
	return key, err
}

// unwrapKeyTo is unwrapKey appending the key to dst, the additional data
// made in aad (both returned, for reuse).
func unwrapKeyTo(dst, aad []byte, kek cipher.AEAD, wk WrappedKey) (key, aadOut []byte, err error) {
	w := wk.Wrapped
	if len(w) < 1+nonceSize+tagSize || w[0] != wrapFormatV1 {
		return dst, aad, fmt.Errorf("%w: %w: wrapped key", ErrTampered, ErrMalformed)
	}
	aad = appendWrapAAD(aad, wk.Ref, wk.Version)
	key, err = kek.Open(dst, w[1:1+nonceSize], w[1+nonceSize:], aad)
	if err != nil {
		return dst, aad, fmt.Errorf("%w: wrapped key %s/%s", ErrTampered, wk.Ref.Owner, wk.Ref.Name)
	}
	return key, aad, nil
}

// checkID validates a person id, category, kind or key name.
func checkID(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidArgument, what)
	case len(s) > maxIDLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidArgument, what, maxIDLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrInvalidArgument, what)
		}
	}
	return nil
}
