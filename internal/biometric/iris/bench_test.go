package iris

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// TestBenchReport runs the full bench when ASSENT_IRIS_BENCH is set and logs
// the JSON; it is the same measurement as `assent bench iris --json`.
func TestBenchReport(t *testing.T) {
	if os.Getenv("ASSENT_IRIS_BENCH") == "" {
		t.Skip("set ASSENT_IRIS_BENCH=1 to run the scan benchmark report")
	}
	r, err := Bench(context.Background(), BenchOptions{Gallery: 10000})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	t.Logf("%s", b)
}
