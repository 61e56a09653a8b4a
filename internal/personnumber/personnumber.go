// Package personnumber makes and reads the short number a person is given
// at registration for humans to read, type and say: ten random digits and a
// Verhoeff check digit, written in groups ("4821 0937 56-3").
//
// The number is random: it is never derived from personal data, so it tells
// nothing about the person. The Verhoeff digit catches every single mistyped
// digit and every swap of two adjacent digits.
package personnumber

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
)

// Digits is the length of a number's canonical form (10 random + 1 check).
const Digits = 11

// Errors of Parse, checked with errors.Is.
var (
	ErrFormat     = errors.New("personnumber: a person number is 11 digits (spaces and dashes are ignored)")
	ErrCheckDigit = errors.New("personnumber: the check digit does not match: a digit was mistyped")
)

// Verhoeff's tables: d is the multiplication table of the dihedral group
// D5, p the permutation applied by position, inv the inverses.
var (
	vd = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	vp = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
	vinv = [10]byte{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}
)

// CheckDigit returns the Verhoeff check digit of a string of decimal digits.
func CheckDigit(digits string) byte {
	var c byte
	for i := 0; i < len(digits); i++ {
		c = vd[c][vp[(i+1)%8][digits[len(digits)-1-i]-'0']]
	}
	return '0' + vinv[c]
}

// valid reports whether digits (check digit last) pass Verhoeff's test.
func valid(digits string) bool {
	var c byte
	for i := 0; i < len(digits); i++ {
		c = vd[c][vp[i%8][digits[len(digits)-1-i]-'0']]
	}
	return c == 0
}

// New returns a fresh random number in canonical form (11 digits).
func New() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(10_000_000_000))
	if err != nil {
		return "", err
	}
	s := n.String()
	s = strings.Repeat("0", 10-len(s)) + s
	return s + string(CheckDigit(s)), nil
}

// Parse reads a number as a person types or says it: spaces and dashes are
// ignored. It returns the canonical form, or ErrFormat / ErrCheckDigit.
func Parse(s string) (string, error) {
	d, ok := digitsOf(s)
	if !ok || len(d) != Digits {
		return "", ErrFormat
	}
	if !valid(d) {
		return "", ErrCheckDigit
	}
	return d, nil
}

// Looks reports whether s is written like a person number (digits, spaces
// and dashes only, with 11 digits), whether or not its check digit holds: a
// caller uses it to tell a number from a record id.
func Looks(s string) bool {
	d, ok := digitsOf(s)
	return ok && len(d) == Digits
}

// digitsOf keeps the digits of s; ok is false when s holds anything but
// digits, spaces and dashes.
func digitsOf(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\u00a0':
		default:
			return "", false
		}
	}
	return b.String(), true
}

// Format writes a canonical number grouped for reading: "4821 0937 56-3".
// Anything that is not a canonical number is returned unchanged.
func Format(n string) string {
	if len(n) != Digits {
		return n
	}
	return n[0:4] + " " + n[4:8] + " " + n[8:10] + "-" + n[10:]
}
