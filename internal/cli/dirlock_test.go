package cli

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/dirlock"
)

// TestOfflineCommandsRefuseALiveDirectory: while a server holds DIR (its
// shared lock, held here in-process as `serve` holds it), rotate-master,
// maintain and import refuse with a message that says why, and keys create
// still works. Once the server is gone they run.
func TestOfflineCommandsRefuseALiveDirectory(t *testing.T) {
	dir := newRegistryDir(t)
	jsonl := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(jsonl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	server, err := dirlock.Dir(dir, dirlock.Shared)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		why  string
	}{
		{[]string{"keys", "rotate-master", "--data", dir}, "master key"},
		{[]string{"maintain", "--data", dir}, "--maintain-every"},
		{[]string{"import", "--data", dir, jsonl}, "galleries"},
		{[]string{"restore", "--data", dir, jsonl}, "restore"},
	} {
		code, out := run(tc.args...)
		if code == 0 || !strings.Contains(out, "in use by a running `assent serve`") || !strings.Contains(out, tc.why) {
			t.Errorf("%v beside serve: exit %d\n%s", tc.args, code, out)
		}
	}
	if code, out := run("keys", "create", "--data", dir, "--role", "admin"); code != 0 {
		t.Errorf("keys create beside serve: exit %d\n%s", code, out)
	}
	server.Close()
	if code, out := run("maintain", "--data", dir); code != 0 {
		t.Errorf("maintain with no server: exit %d\n%s", code, out)
	}
	// And the other way round: a server does not start beside an offline command.
	offline, err := dirlock.Dir(dir, dirlock.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer offline.Close()
	if code, out := run("serve", "--data", dir, "--addr", "127.0.0.1:0"); code == 0 || !strings.Contains(out, "held by an offline command") {
		t.Errorf("serve beside an offline command: exit %d\n%s", code, out)
	}
}

// TestPostgresLockRefusesBesideAServer: with --postgres, the database's
// advisory lock is what API nodes share; an offline command on another DIR
// (another machine's key store copy) is still refused.
func TestPostgresLockRefusesBesideAServer(t *testing.T) {
	url := os.Getenv("ASSENT_POSTGRES_URL")
	if url == "" {
		t.Skip("PostgreSQL lock not tested: set ASSENT_POSTGRES_URL (CI does)")
	}
	dir := newRegistryDir(t)
	node, err := dirlock.Postgres(t.Context(), url, dirlock.Shared)
	if err != nil {
		t.Fatal(err)
	}
	code, out := run("maintain", "--data", dir, "--postgres", url)
	if code == 0 || !strings.Contains(out, "the PostgreSQL database is in use") {
		t.Errorf("maintain beside an API node: exit %d\n%s", code, out)
	}
	node.Close()
}

// TestOnlyServeCreatesADirectory: a mistyped --data is refused by every
// command but serve and demo, and nothing is created.
func TestOnlyServeCreatesADirectory(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "dtaa")
	empty := t.TempDir()
	jsonl := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(jsonl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{typo, empty} {
		for _, args := range [][]string{
			{"keys", "create", "--data", d, "--role", "admin"},
			{"keys", "list", "--data", d},
			{"keys", "rotate-master", "--data", d},
			{"maintain", "--data", d},
			{"import", "--data", d, jsonl},
			{"audit", "verify", "--data", d},
			{"backup", "--data", d, "--out", filepath.Join(t.TempDir(), "b.db")},
		} {
			code, out := run(args...)
			if code == 0 || !strings.Contains(out, "only `assent serve` creates one") {
				t.Errorf("%v: exit %d\n%s", args[:2], code, out)
			}
		}
	}
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused command created %s: %v", typo, err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("a refused command wrote into %s: %v", empty, ents)
	}
}

// TestOpenMasterKeyReadableByOthers: a master key file that group or others
// can read is refused, not warned about.
func TestOpenMasterKeyReadableByOthers(t *testing.T) {
	dir := newRegistryDir(t)
	if err := os.Chmod(filepath.Join(dir, masterKeyFile), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out := run("keys", "list", "--data", dir)
	if code == 0 || !strings.Contains(out, "chmod 600") {
		t.Errorf("keys list with a 0640 master key: exit %d\n%s", code, out)
	}
}

// TestImportRefusedBesideRealServer runs the built binary: `serve` holds
// DIR, `import` is refused and `keys create` works.
func TestImportRefusedBesideRealServer(t *testing.T) {
	bin := buildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	startServer(t, bin, dir, freeAddr(t))
	jsonl := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(jsonl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "import", "--data", dir, jsonl).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stop the server before running assent import") {
		t.Errorf("import beside serve: %v\n%s", err, out)
	}
	keyFor(t, bin, dir, "--role", "admin")
}
