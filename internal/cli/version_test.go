package cli

import (
	"bytes"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/assent-registry/assent", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0910d88abc"}, {Key: "vcs.time", Value: "2026-12-06T03:59:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	var b bytes.Buffer
	if err := printVersion(&b, bi); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "assent v0.4.0 revision 0910d88abc+dirty (2026-12-06T03:59:00Z) go1.26.8\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b.Reset()
	if err := printVersion(&b, nil); err != nil || b.String() != "assent dev revision unknown\n" {
		t.Errorf("without build info: %q %v", b.String(), err)
	}
}

// TestVersionOfBuiltBinary: a built binary prints the revision its build
// recorded (go version -m shows what the linker stamped).
func TestVersionOfBuiltBinary(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "assent ") || !strings.Contains(string(out), " revision ") {
		t.Fatalf("version printed %q", out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(meta), "vcs.revision=")
	if !ok {
		t.Skipf("this build recorded no VCS revision (GOFLAGS=-buildvcs=false, or a git worktree, which cmd/go does not recognise); printed %q", out)
	}
	rev, _, _ := strings.Cut(rest, "\n")
	if !strings.Contains(string(out), strings.TrimSpace(rev)) {
		t.Errorf("version printed %q, want revision %s", out, rev)
	}
}
