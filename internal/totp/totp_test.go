package totp

import (
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA1 column, with the RFC's 8 digits.
func TestRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		if got := codeAt(secret, StepAt(time.Unix(c.unix, 0)), 8); got != c.want {
			t.Errorf("T=%d: %s, want %s", c.unix, got, c.want)
		}
		// The 6-digit code is the last six digits.
		if got := Code(secret, time.Unix(c.unix, 0)); got != c.want[2:] {
			t.Errorf("T=%d 6 digits: %s, want %s", c.unix, got, c.want[2:])
		}
	}
}

func TestVerifyWindowAndReplay(t *testing.T) {
	secret := NewSecret()
	now := time.Unix(1_800_000_000, 0)
	cur := StepAt(now)
	if s, ok := Verify(secret, Code(secret, now), now, 0); !ok || s != cur {
		t.Fatalf("current code: %d %v", s, ok)
	}
	if _, ok := Verify(secret, Code(secret, now.Add(-Step*time.Second)), now, 0); !ok {
		t.Error("previous step refused")
	}
	if _, ok := Verify(secret, Code(secret, now.Add(Step*time.Second)), now, 0); !ok {
		t.Error("next step refused")
	}
	if _, ok := Verify(secret, Code(secret, now.Add(-2*Step*time.Second)), now, 0); ok {
		t.Error("two steps back accepted")
	}
	if _, ok := Verify(secret, Code(secret, now), now, cur); ok {
		t.Error("a used step accepted again")
	}
	if _, ok := Verify(secret, "12345", now, 0); ok {
		t.Error("short code accepted")
	}
	if _, ok := Verify(NewSecret(), Code(secret, now), now, 0); ok {
		t.Error("another secret's code accepted")
	}
	enc := EncodeSecret(secret)
	back, err := DecodeSecret(enc)
	if err != nil || string(back) != string(secret) {
		t.Errorf("base32 round trip: %v", err)
	}
}
