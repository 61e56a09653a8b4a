// Package totp implements RFC 6238 time-based one-time passwords with the
// parameters authenticator apps expect: HMAC-SHA1, a 30-second step and 6
// digits. Verify accepts the code of the current step or one step either
// side (clock drift) and never a step at or before the last one accepted,
// so a code cannot be replayed.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

const (
	Step      = 30 // seconds
	Digits    = 6
	Window    = 1  // steps accepted either side of now
	SecretLen = 20 // bytes (160 bits, RFC 4226's recommendation)
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh random secret.
func NewSecret() []byte {
	b := make([]byte, SecretLen)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return b
}

// EncodeSecret returns the base32 form users type into an app.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses a base32 secret (spaces and case ignored).
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	s = strings.TrimRight(s, "=")
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 16 {
		return nil, fmt.Errorf("totp: malformed secret")
	}
	return b, nil
}

// URI returns the otpauth:// URI an app scans as a QR code.
func URI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", EncodeSecret(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(Step))
	label := url.PathEscape(issuer + ":" + account)
	return "otpauth://totp/" + label + "?" + v.Encode()
}

// StepAt returns the time step of t.
func StepAt(t time.Time) int64 { return t.Unix() / Step }

// codeAt returns the digits-long code of a step (RFC 4226 HOTP).
func codeAt(secret []byte, step int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	h := m.Sum(nil)
	off := h[len(h)-1] & 0x0f
	bin := binary.BigEndian.Uint32(h[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Code returns the 6-digit code at t.
func Code(secret []byte, t time.Time) string { return codeAt(secret, StepAt(t), Digits) }

// Verify checks code against the steps around now. lastStep is the step
// of the last code accepted (0 for none); a code of that step or an
// earlier one is refused. It returns the step matched.
func Verify(secret []byte, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != Digits {
		return 0, false
	}
	cur := StepAt(now)
	var found int64
	ok := false
	for s := cur - Window; s <= cur+Window; s++ {
		// Compare every step in constant time, whatever matches.
		if subtle.ConstantTimeCompare([]byte(codeAt(secret, s, Digits)), []byte(code)) == 1 && s > lastStep && !ok {
			found, ok = s, true
		}
	}
	return found, ok
}
