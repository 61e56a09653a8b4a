//go:build unix

package failpoint

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]bool
	}{
		{"", nil},
		{" , ", nil},
		{"relay-acked", map[string]bool{"relay-acked": true}},
		{"enrol-committed, shard-loaded,", map[string]bool{"enrol-committed": true, "shard-loaded": true}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if d := cmp.Diff(tc.want, parse(tc.in)); d != "" {
				t.Errorf("parse(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

// TestHit runs this test binary again with a point armed: it must die by
// SIGKILL at that point and not at another.
func TestHit(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") != "" {
		Hit(ShardLoaded) // not armed in the child: goes on
		os.Stdout.WriteString("before\n")
		Hit(RelayAcked)
		os.Stdout.WriteString("after\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHit$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"="+RelayAcked)
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("child: %v, want killed\n%s", err, out)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", ws)
	}
	if s := string(out); !strings.Contains(s, "before") || strings.Contains(s, "after") || !strings.Contains(s, "failpoint relay-acked: SIGKILL") {
		t.Errorf("child output:\n%s", s)
	}
}

func BenchmarkHitUnarmed(b *testing.B) {
	armed = nil
	for b.Loop() {
		Hit(RelayAcked)
	}
}
