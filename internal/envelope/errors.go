package envelope

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors. Every error returned by this package wraps one of them
// (checked with errors.Is) behind an "envelope.Op:" prefix.
var (
	// ErrShredded: the data key that sealed a value no longer exists (it was
	// shredded, or it never existed). The value is gone for good.
	ErrShredded = errors.New("data key shredded")
	// ErrTampered: a sealed or wrapped value failed authentication: its bytes
	// were changed, or it was presented for another person, category, kind or
	// key than the one it was sealed for.
	ErrTampered = errors.New("sealed value failed authentication")
	// ErrMalformed: a sealed value is not in a format this package writes
	// (too short, unknown format byte). It is always joined with ErrTampered.
	ErrMalformed = errors.New("sealed value malformed")
	// ErrWrongMaster: a stored key was wrapped by another master key than the
	// one the keyring holds (wrong ASSENT_MASTER_KEY_FILE, or an interrupted
	// rotation; see RotateMasterKeyFile).
	ErrWrongMaster = errors.New("key store was wrapped by another master key")
	// ErrInvalidArgument: an id, category, kind or name is empty, too long or
	// not valid UTF-8, or an option is out of range.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrMasterKeyFormat: a master key file does not hold a 256-bit key.
	ErrMasterKeyFormat = errors.New("master key file malformed")
	// ErrKeyFilePermissions: a master key file is readable or writable by group
	// or others. See PermissionError.
	ErrKeyFilePermissions = errors.New("master key file permissions too open")
	// ErrNotFound: a KeyStore has no key under the Ref.
	ErrNotFound = errors.New("key not found")
	// ErrExists: KeyStore.Create found a key already stored under the Ref.
	ErrExists = errors.New("key already exists")
)

// PermissionError reports a master key file whose mode lets group or others
// read or write it. It wraps ErrKeyFilePermissions. LoadOrCreateMasterKey
// returns it together with the (valid) key, so a caller that must accept such
// files (a secret mounted 0644 by an orchestrator) can log it and go on, while
// a caller that simply returns on error refuses the file.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("master key file %s has mode %#o; want 0600 or stricter", e.Path, e.Mode.Perm())
}

// Unwrap makes errors.Is(err, ErrKeyFilePermissions) hold.
func (e *PermissionError) Unwrap() error { return ErrKeyFilePermissions }
