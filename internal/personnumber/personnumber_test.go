package personnumber

import (
	"errors"
	"testing"
)

func TestCheckDigitKnownValue(t *testing.T) {
	// The textbook example: 236 has check digit 3.
	if got := CheckDigit("236"); got != '3' {
		t.Fatalf("CheckDigit(236) = %c, want 3", got)
	}
	if !valid("2363") || valid("2364") {
		t.Fatal("valid disagrees with the textbook example")
	}
}

func TestNewParsesBack(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(n) != Digits {
			t.Fatalf("New() = %q, want %d digits", n, Digits)
		}
		got, err := Parse(Format(n))
		if err != nil || got != n {
			t.Fatalf("Parse(Format(%q)) = %q, %v", n, got, err)
		}
		seen[n] = true
	}
	if len(seen) < 999 {
		t.Fatalf("1000 numbers drawn, only %d distinct", len(seen))
	}
}

func TestParseIgnoresSeparators(t *testing.T) {
	n, _ := New()
	for _, in := range []string{Format(n), n, n[:3] + "-" + n[3:], " " + n + " "} {
		if got, err := Parse(in); err != nil || got != n {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, n)
		}
	}
}

// Every single-digit error and every adjacent swap is caught.
func TestParseCatchesTypos(t *testing.T) {
	for range 200 {
		n, _ := New()
		for i := 0; i < Digits; i++ {
			for d := byte('0'); d <= '9'; d++ {
				if d == n[i] {
					continue
				}
				typo := n[:i] + string(d) + n[i+1:]
				if _, err := Parse(typo); !errors.Is(err, ErrCheckDigit) {
					t.Fatalf("typo %q of %q: err %v, want ErrCheckDigit", typo, n, err)
				}
			}
			if i+1 < Digits && n[i] != n[i+1] {
				swap := n[:i] + string(n[i+1]) + string(n[i]) + n[i+2:]
				if _, err := Parse(swap); !errors.Is(err, ErrCheckDigit) {
					t.Fatalf("swap %q of %q: err %v, want ErrCheckDigit", swap, n, err)
				}
			}
		}
	}
}

func TestParseRejectsWrongShape(t *testing.T) {
	for _, in := range []string{"", "123", "1234567890", "123456789012", "1234a678901", "6f1e2c1a-0000-4000-8000-000000000000"} {
		if _, err := Parse(in); !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q) err = %v, want ErrFormat", in, err)
		}
	}
	if Looks("6f1e2c1a-0000-4000-8000-000000000000") {
		t.Error("a UUID looks like a person number")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("4821 0937 56-3")
	f.Add("48210937563")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if len(n) != Digits || !valid(n) || !Looks(s) {
			t.Fatalf("Parse(%q) = %q accepted an invalid number", s, n)
		}
	})
}
