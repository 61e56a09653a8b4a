package envelope

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NextKeySuffix is appended to a master key file's name for the new key
// while RotateMasterKeyFile runs.
const NextKeySuffix = ".next"

// RotateMasterKeyFile is `assent keys rotate-master`: it generates a new
// master key, rewraps every key in kr's store under it and replaces the key
// file at path. Steps, so that a crash at any point loses nothing:
//
//  1. the new key is written to path+".next" (mode 0600, synced);
//  2. kr.RotateMaster rewraps the store in one transaction;
//  3. path+".next" is renamed over path and the directory synced.
//
// A crash before step 2 commits leaves the store under the old key (path
// still works; the stale .next file is replaced on the next rotation). A
// crash between 2 and 3 leaves the store under the key in path+".next":
// NewKeyring then fails with ErrWrongMaster naming that key's id;
// FinishRotation (called at startup) or the operator renames path+".next" to
// path. The old key file's bytes are not
// overwritten in place (file systems do not promise that); destroy old copies
// of the master key wherever the operator kept them.
//
// It returns the new key. If path is a file the operator manages elsewhere
// (ASSENT_MASTER_KEY_FILE on a read-only mount) step 1 fails and nothing
// changes.
func RotateMasterKeyFile(ctx context.Context, kr *Keyring, path string) (*MasterKey, error) {
	const op = "envelope.RotateMasterKeyFile"
	next, err := GenerateMasterKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	dir := filepath.Dir(path)
	tmp, err := writeTempKeyFile(dir, next)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	nextPath := path + NextKeySuffix
	if err := os.Rename(tmp, nextPath); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := kr.RotateMaster(ctx, next); err != nil {
		os.Remove(nextPath)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := os.Rename(nextPath, path); err != nil {
		return next, fmt.Errorf("%s: store rewrapped under %s but %s was not renamed to %s: %w", op, next.ID(), nextPath, path, err)
	}
	if err := syncDir(dir); err != nil {
		return next, fmt.Errorf("%s: %w", op, err)
	}
	return next, nil
}

// FinishRotation completes a master rotation that crashed between the
// rewrap and the rename (see RotateMasterKeyFile). If path+".next" exists and
// holds the master key that store's keys are wrapped with, it is renamed over
// path and FinishRotation reports true; a stale .next file (the rewrap never
// committed) is removed. Call it at startup before LoadOrCreateMasterKey.
func FinishRotation(ctx context.Context, store KeyStore, path string) (bool, error) {
	const op = "envelope.FinishRotation"
	nextPath := path + NextKeySuffix
	next, err := loadMasterKey(nextPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		// A PermissionError cannot happen for a file we wrote 0600, and a
		// malformed .next file is not ours to delete.
		return false, fmt.Errorf("%s: %w", op, err)
	}
	wk, err := store.Get(ctx, Ref{Name: macSecretName})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if wk.MasterID != next.ID() {
		if err := os.Remove(nextPath); err != nil {
			return false, fmt.Errorf("%s: %w", op, err)
		}
		return false, nil
	}
	if err := os.Rename(nextPath, path); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return true, fmt.Errorf("%s: %w", op, err)
	}
	return true, nil
}
