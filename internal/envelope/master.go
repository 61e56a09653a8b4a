package envelope

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// MasterKeySize is the size of a master key in bytes (AES-256).
const MasterKeySize = 32

// maxMasterKeyFile bounds what parseMasterKey will read.
const maxMasterKeyFile = 4096

// MasterKey is the root key of a deployment. It only wraps the keys in a
// KeyStore; it never touches data directly. A MasterKey is immutable and safe
// for concurrent use.
//
// A MasterKey never prints its bytes: String, GoString, Format (every fmt
// verb), LogValue (log/slog) and MarshalText show only its id. There is no
// method that returns the key bytes.
type MasterKey struct {
	key [MasterKeySize]byte
	id  string
}

// NewMasterKey builds a MasterKey from 32 raw bytes (for a key that comes from
// an external KMS or secret manager). The slice is copied.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	const op = "envelope.NewMasterKey"
	if len(raw) != MasterKeySize {
		return nil, fmt.Errorf("%s: %w: got %d bytes, want %d", op, ErrMasterKeyFormat, len(raw), MasterKeySize)
	}
	m := &MasterKey{}
	copy(m.key[:], raw)
	if m.key == ([MasterKeySize]byte{}) {
		return nil, fmt.Errorf("%s: %w: all-zero key", op, ErrMasterKeyFormat)
	}
	idBytes, err := hkdf.Key(sha256.New, m.key[:], nil, "assent/master-key-id/v1", 8)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	m.id = hex.EncodeToString(idBytes)
	return m, nil
}

// GenerateMasterKey returns a new random master key.
func GenerateMasterKey() (*MasterKey, error) {
	var raw [MasterKeySize]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("envelope.GenerateMasterKey: %w", err)
	}
	return NewMasterKey(raw[:])
}

// ID is a public, one-way fingerprint of the key (16 hex digits, derived with
// HKDF so it reveals nothing about the key). It is stored next to every
// wrapped key and may be logged.
func (m MasterKey) ID() string { return m.id }

func (m MasterKey) redacted() string { return "MasterKey(id=" + m.id + ", REDACTED)" }

// String implements fmt.Stringer without the key bytes.
func (m MasterKey) String() string { return m.redacted() }

// GoString implements fmt.GoStringer without the key bytes.
func (m MasterKey) GoString() string { return m.redacted() }

// Format implements fmt.Formatter so that no verb (%x, %v, %+v, %#v, %s, %q,
// ...) can print the key bytes.
func (m MasterKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.redacted())) }

// LogValue implements slog.LogValuer: a logged MasterKey shows its id only.
func (m MasterKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", m.id), slog.String("key", "REDACTED"))
}

// MarshalText keeps encoding/json and friends from seeing the key bytes.
func (m MasterKey) MarshalText() ([]byte, error) { return []byte(m.redacted()), nil }

// LoadOrCreateMasterKey reads the master key at path, or creates it when the
// file does not exist: 32 random bytes written as 64 lowercase hex digits and a
// newline, mode 0600, created atomically (a temporary file in the same
// directory, synced, then hard-linked into place, so a crash never leaves a
// half-written key and two processes starting together agree on one key).
// Missing parent directories are created with mode 0700.
//
// A file is accepted in three encodings: exactly 32 raw bytes (not all
// printable ASCII, which would be a truncated text key); 64 hex digits;
// or standard base64 of 32 bytes (as `openssl rand -base64 32` prints), with
// surrounding white space allowed in the text forms. Anything else is
// ErrMasterKeyFormat, and an existing file is never overwritten.
//
// If the file is readable or writable by group or others the key is returned
// together with a *PermissionError (errors.Is ErrKeyFilePermissions): callers
// that return on any error refuse such a file; a caller that accepts it should
// log the error (it names the path and mode, never the key).
func LoadOrCreateMasterKey(path string) (*MasterKey, error) {
	const op = "envelope.LoadOrCreateMasterKey"
	m, err := loadMasterKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	m, err = createMasterKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our link.
		return loadMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return m, nil
}

// loadMasterKey reads and parses an existing key file.
func loadMasterKey(path string) (*MasterKey, error) {
	const op = "envelope.LoadOrCreateMasterKey"
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: %s is not a regular file", op, ErrMasterKeyFormat, path)
	}
	buf := make([]byte, maxMasterKeyFile+1)
	n, err := readFull(f, buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	raw, err := parseMasterKey(buf[:n])
	clear(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, path, err)
	}
	m, err := NewMasterKey(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return m, &PermissionError{Path: path, Mode: st.Mode()}
	}
	return m, nil
}

func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := f.Read(buf[n:])
		n += k
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}

// parseMasterKey decodes a master key file: 32 raw bytes, 64 hex digits or
// base64 of 32 bytes. It is the decoder FuzzParseMasterKey exercises.
func parseMasterKey(b []byte) ([]byte, error) {
	if len(b) == MasterKeySize {
		if isPrintableASCII(b) {
			// 32 characters of text is a too-short hex or base64 key, not
			// raw key bytes (random bytes are all printable with p ≈ 1e-14).
			return nil, fmt.Errorf("%w: 32 bytes of text; want 64 hex digits or base64 of 32 bytes", ErrMasterKeyFormat)
		}
		return bytes.Clone(b), nil
	}
	if len(b) > maxMasterKeyFile {
		return nil, fmt.Errorf("%w: file longer than %d bytes", ErrMasterKeyFormat, maxMasterKeyFile)
	}
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 2*MasterKeySize:
		raw := make([]byte, MasterKeySize)
		if _, err := hex.Decode(raw, t); err != nil {
			return nil, fmt.Errorf("%w: bad hex", ErrMasterKeyFormat)
		}
		return raw, nil
	case len(t) == base64.StdEncoding.EncodedLen(MasterKeySize):
		raw, err := base64.StdEncoding.Strict().DecodeString(string(t))
		if err != nil || len(raw) != MasterKeySize {
			return nil, fmt.Errorf("%w: bad base64", ErrMasterKeyFormat)
		}
		return raw, nil
	}
	return nil, fmt.Errorf("%w: want 32 raw bytes, 64 hex digits or base64 of 32 bytes, got %d bytes", ErrMasterKeyFormat, len(b))
}

func isPrintableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// createMasterKeyFile writes a fresh key to path without ever replacing an
// existing file: the key goes to a temporary file that is synced and then
// hard-linked to path (link fails with fs.ErrExist if path appeared).
func createMasterKeyFile(path string) (*MasterKey, error) {
	m, err := GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	if err := writeKeyFileNoClobber(path, m); err != nil {
		return nil, err
	}
	return m, nil
}

func writeKeyFileNoClobber(path string, m *MasterKey) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := writeTempKeyFile(dir, m)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// writeTempKeyFile writes m (hex and a newline, mode 0600) to a new file in
// dir, syncs it and returns its name.
func writeTempKeyFile(dir string, m *MasterKey) (string, error) {
	f, err := os.CreateTemp(dir, ".master-key-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	buf := make([]byte, 2*MasterKeySize+1)
	hex.Encode(buf, m.key[:])
	buf[len(buf)-1] = '\n'
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(buf)
	}
	clear(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
