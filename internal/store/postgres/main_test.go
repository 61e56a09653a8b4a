package postgres

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// TestMain says, where a newcomer sees it, that the PostgreSQL tests did not
// run. `go test ./...` shows nothing of a passing package but its "ok" line
// (t.Skip messages included), so without ASSENT_POSTGRES_URL the package
// would look tested. The line goes to the go command's own standard error
// when the go command ran this binary, else to ours.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(URLEnv) == "" {
		fmt.Fprintf(userStderr(), "SKIP\tgithub.com/assent-registry/assent/internal/store/postgres: %s is not set, the PostgreSQL tests did not run (only the offline ones); CI sets it (docs/postgres.md)\n", URLEnv)
	}
	os.Exit(code)
}

// TestPostgresConfigured skips, saying why, without ASSENT_POSTGRES_URL.
// go test caches a passing run by the inputs the binary used, and would
// replay it without TestMain's line; a chdir is recorded with the
// directory's stat, and the temporary directory changes with every go
// command (its work dir), so such a run is not cached.
func TestPostgresConfigured(t *testing.T) {
	if os.Getenv(URLEnv) == "" {
		t.Chdir(os.TempDir())
		t.Skipf("%s is not set: the PostgreSQL tests are skipped (CI sets it)", URLEnv)
	}
}

// userStderr is the standard error of the go command that runs the test
// binary (it buffers ours and drops it when the package passes), found
// through /proc on Linux; elsewhere, or when the parent is not `go`, ours.
func userStderr() io.Writer {
	ppid := os.Getppid()
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return os.Stderr
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", ppid), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return os.Stderr
	}
	return f
}
