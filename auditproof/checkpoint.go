// Package auditproof lets anyone outside the Assent server check its audit
// log: that a checkpoint was signed by the registry's published key, that an
// audit event is included in the log a checkpoint commits to, and that a
// later checkpoint extends an earlier one without rewriting history.
//
// The log is an RFC 6962 Merkle tree (SHA-256, leaf hash = SHA-256(0x00 ||
// leaf data)). Checkpoints follow the C2SP tlog-checkpoint format and are
// signed notes (C2SP signed-note, as implemented by
// golang.org/x/mod/sumdb/note) with an Ed25519 key whose name is the log's
// origin.
//
// The package is self-contained: it needs no access to the server beyond the
// bytes the caller fetched, holds no state and is safe for concurrent use.
// Nothing it is given is trusted until a function here has verified it.
package auditproof

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// HashSize is the size in bytes of every hash in the log (SHA-256).
const HashSize = 32

// Errors reported by this package. Every error it returns wraps exactly one
// of them; check with errors.Is.
var (
	// ErrMalformed: the input is not in the expected format.
	ErrMalformed = errors.New("malformed")
	// ErrUnverified: the note carries no valid signature by the given key,
	// or its origin is not the key's name.
	ErrUnverified = errors.New("not signed by the given key")
	// ErrProof: a proof does not verify against the checkpoint(s) given.
	ErrProof = errors.New("proof does not verify")
)

// Checkpoint is the body of a signed checkpoint: the log's origin, the number
// of entries the log had and the root hash of the Merkle tree over them.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Text returns the checkpoint body in the C2SP tlog-checkpoint format: the
// origin, the decimal size and the base64 root hash, each on its own line,
// each ending with a newline. This is the text a signed note signs.
func (c Checkpoint) Text() []byte {
	var b bytes.Buffer
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatUint(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root))
	b.WriteByte('\n')
	return b.Bytes()
}

// ValidOrigin reports whether s can be a log origin and key name: non-empty
// valid UTF-8 without spaces or '+'.
func ValidOrigin(s string) bool {
	return s != "" && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsSpace) < 0 && !strings.Contains(s, "+")
}

// ParseCheckpoint parses an (unsigned) checkpoint body. It is strict about the
// three mandatory lines: the size must be canonical decimal and the root
// canonical base64 of exactly HashSize bytes. Extension lines after the root
// are allowed by the format; they must be non-empty and are ignored.
// ParseCheckpoint verifies nothing: use OpenCheckpoint on notes from others.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	const op = "auditproof.ParseCheckpoint"
	if !utf8.Valid(text) || len(text) == 0 || text[len(text)-1] != '\n' {
		return Checkpoint{}, fmt.Errorf("%s: body must be UTF-8 ending in a newline: %w", op, ErrMalformed)
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%s: want origin, size and root lines, got %d lines: %w", op, len(lines), ErrMalformed)
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if !ValidOrigin(origin) {
		return Checkpoint{}, fmt.Errorf("%s: invalid origin %q: %w", op, origin, ErrMalformed)
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("%s: invalid size %q: %w", op, sizeText, ErrMalformed)
	}
	root, err := base64.StdEncoding.DecodeString(rootText)
	if err != nil || len(root) != HashSize || base64.StdEncoding.EncodeToString(root) != rootText {
		return Checkpoint{}, fmt.Errorf("%s: invalid root hash %q: %w", op, rootText, ErrMalformed)
	}
	for _, ext := range lines[3:] {
		if ext == "" {
			return Checkpoint{}, fmt.Errorf("%s: empty extension line: %w", op, ErrMalformed)
		}
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// OpenCheckpoint verifies a signed checkpoint note against verifierKey, the
// key the registry publishes in the note verifier-key format
// ("<origin>+<hash>+<base64 key>"), and returns its body. The note must carry
// a valid signature by that key (other signatures are ignored) and its origin
// line must equal the key's name, so a checkpoint of another log signed with
// the same key is refused.
func OpenCheckpoint(signedNote []byte, verifierKey string) (Checkpoint, error) {
	const op = "auditproof.OpenCheckpoint"
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%s: verifier key: %v: %w", op, err, ErrMalformed)
	}
	n, err := note.Open(signedNote, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%s: %v: %w", op, err, ErrUnverified)
		}
		return Checkpoint{}, fmt.Errorf("%s: %v: %w", op, err, ErrMalformed)
	}
	cp, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	if cp.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%s: origin %q is not the key's name %q: %w", op, cp.Origin, v.Name(), ErrUnverified)
	}
	return cp, nil
}
