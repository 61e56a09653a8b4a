// Package datasets locates the evaluation data that lives beside the
// repository, never in it: the shared FVC fingerprint sets (and their ISO
// templates) and, where a developer fetched it, CASIA-IrisV1, whose licence
// forbids shipping it. Tests that need a set skip with a message saying how
// to provide it.
package datasets

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Fingerprint is the root of the fingerprint data: $ASSENT_FINGERPRINT_DATA,
// else shared/data/fingerprint beside the repository (found from this
// source file, so it works from any package's tests), else the same path
// relative to the working directory.
func Fingerprint() string {
	if d := os.Getenv("ASSENT_FINGERPRINT_DATA"); d != "" {
		return d
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "fingerprint")
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return filepath.Join("..", "shared", "data", "fingerprint")
}

// Iris is $ASSENT_IRIS_DATA (a CASIA-IrisV1 copy laid out as docs/iris.md
// says), or "" when unset.
func Iris() string { return os.Getenv("ASSENT_IRIS_DATA") }

// RequireEnv, when set (CI sets ASSENT_REQUIRE_DATA=1), turns a missing
// shared fingerprint set from a skip into a failure: in CI the tests that
// need the data must run.
const RequireEnv = "ASSENT_REQUIRE_DATA"

// FingerprintSet returns the folder of one set under Fingerprint() (for
// example "fvc2002/db1_b"), or skips the test when it is not there (fails
// it under ASSENT_REQUIRE_DATA).
func FingerprintSet(tb testing.TB, set string) string {
	tb.Helper()
	dir := filepath.Join(Fingerprint(), set)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv(RequireEnv) != "" {
			tb.Fatalf("fingerprint data %s not found and %s is set: %v", dir, RequireEnv, err)
		}
		tb.Skipf("fingerprint data %s not found (set ASSENT_FINGERPRINT_DATA to the shared data/fingerprint folder): %v", dir, err)
	}
	return dir
}

// IITD is $ASSENT_IITD_DATA (IITD Iris v1.0 in the eval layout, one folder
// per eye NNN_L / NNN_R, as docs/iris.md says), or "" when unset.
func IITD() string { return os.Getenv("ASSENT_IITD_DATA") }

// IITDSet returns the IITD folder, or skips the test saying how to get it.
func IITDSet(tb testing.TB) string {
	tb.Helper()
	dir := IITD()
	if dir == "" {
		tb.Skip("IITD Iris not available: set ASSENT_IITD_DATA to its eval-layout folder (never committed; see docs/iris.md)")
	}
	return dir
}

// IrisSet returns the CASIA-IrisV1 folder, or skips the test.
func IrisSet(tb testing.TB) string {
	tb.Helper()
	dir := Iris()
	if dir == "" {
		tb.Skip("CASIA-IrisV1 not available: set ASSENT_IRIS_DATA to its folder (never committed; see docs/iris.md)")
	}
	return dir
}
