package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/assent-registry/assent/auditproof"
)

// Checkpoint is a checkpoint body: origin, size and root hash. It is the
// public package's type, so the format has one implementation.
type Checkpoint = auditproof.Checkpoint

// ErrBadKey is wrapped when a signing key or origin cannot be used.
var ErrBadKey = errors.New("unusable checkpoint key")

// Signer signs checkpoints with an Ed25519 key as C2SP signed notes. The key
// name in the note is the log's origin. It implements note.Signer. The
// private key is the caller's (kept in the key store); Signer only holds a
// reference and never writes it anywhere. A Signer is immutable and safe
// for concurrent use.
type Signer struct {
	origin string
	priv   ed25519.PrivateKey
	hash   uint32
	vkey   string
}

// NewSigner returns a Signer for the log named origin (for example
// "assent.example.org/audit": no spaces, no '+'), signing with priv.
func NewSigner(origin string, priv ed25519.PrivateKey) (*Signer, error) {
	const op = "audit.NewSigner"
	if !auditproof.ValidOrigin(origin) {
		return nil, fmt.Errorf("%s: origin %q must be non-empty without spaces or '+': %w", op, origin, ErrBadKey)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%s: private key is %d bytes, want %d: %w", op, len(priv), ed25519.PrivateKeySize, ErrBadKey)
	}
	pub, ok := priv.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: no public key: %w", op, ErrBadKey)
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", op, err, ErrBadKey)
	}
	// vkey is "<name>+<8 hex digits key hash>+<base64 key>".
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("%s: unexpected verifier key form: %w", op, ErrBadKey)
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, fmt.Errorf("%s: key hash: %v: %w", op, err, ErrBadKey)
	}
	return &Signer{origin: origin, priv: priv, hash: uint32(h), vkey: vkey}, nil
}

// Name returns the key name, which is the origin (note.Signer).
func (s *Signer) Name() string { return s.origin }

// KeyHash returns the note key hash (note.Signer).
func (s *Signer) KeyHash() uint32 { return s.hash }

// Sign signs msg with Ed25519 (note.Signer).
func (s *Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// Origin returns the log's origin line.
func (s *Signer) Origin() string { return s.origin }

// VerifierKey returns the key to publish, in the note verifier-key format
// "<origin>+<key hash>+<base64 key>". Third parties pass it to
// auditproof.OpenCheckpoint.
func (s *Signer) VerifierKey() string { return s.vkey }

// SignCheckpoint returns the signed note for a checkpoint of size entries
// with the given root hash.
func (s *Signer) SignCheckpoint(size uint64, root []byte) ([]byte, error) {
	const op = "audit.Signer.SignCheckpoint"
	if len(root) != HashSize {
		return nil, fmt.Errorf("%s: root is %d bytes: %w", op, len(root), ErrBadHash)
	}
	cp := Checkpoint{Origin: s.origin, Size: size, Root: root}
	signed, err := note.Sign(&note.Note{Text: string(cp.Text())}, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return signed, nil
}

// OpenCheckpoint verifies a signed checkpoint note against a verifier key and
// returns its body; errors wrap auditproof.ErrMalformed or
// auditproof.ErrUnverified. See auditproof.OpenCheckpoint.
func OpenCheckpoint(signedNote []byte, verifierKey string) (Checkpoint, error) {
	return auditproof.OpenCheckpoint(signedNote, verifierKey)
}
