//go:build !linux

package dedup

import (
	"errors"
	"os"
)

// openDirect: no reading past the page cache on this platform.
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func stopDirect(*os.File) error { return nil }

func isDirect(*os.File) bool { return false }
