package registry

import (
	"unicode"
	"unicode/utf8"
)

// CodeInvalidText (400) refuses text that is not clean UTF-8: invalid
// bytes, the replacement character a decoder puts in their place, control
// characters, and format characters (Unicode category Cf: bidi overrides
// and isolates, zero-width spaces, soft hyphens), which can make a name
// display as something else than what is stored.
const CodeInvalidText = "invalid_text"

// checkText refuses v when it is not clean text (see CodeInvalidText).
// ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER (U+200C, U+200D) are the two
// format characters allowed: Persian, Indic and other scripts need them to
// write names correctly, and they cannot reorder text.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return &InputError{Code: CodeInvalidText, Field: field, Detail: "is not valid UTF-8"}
	}
	for _, r := range v {
		switch {
		case r == utf8.RuneError:
			return &InputError{Code: CodeInvalidText, Field: field, Detail: "contains U+FFFD, the mark of text that was not valid UTF-8"}
		case r == '\u200c' || r == '\u200d':
		case unicode.Is(unicode.Cf, r):
			return &InputError{Code: CodeInvalidText, Field: field, Detail: "contains an invisible format character (such as a bidi override)"}
		case unicode.IsControl(r):
			return &InputError{Code: CodeInvalidText, Field: field, Detail: "contains control characters"}
		}
	}
	return nil
}
