package opsmetrics

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMetricsReadNoStore: the metrics read the registry (its Observer and
// its aggregate figures), never a store directly.
func TestMetricsReadNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/assent-registry/assent/internal/opsmetrics").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "/internal/store/") || strings.HasSuffix(dep, "/internal/httpapi") {
			t.Errorf("opsmetrics depends on %s", dep)
		}
	}
}
