package fingerprint

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
	"github.com/assent-registry/assent/internal/datasets"
)

// dataDir finds the shared fingerprint data, or skips the test.
func dataDir(t testing.TB) string {
	t.Helper()
	return datasets.FingerprintSet(t, ".")
}

func slow(t *testing.T) {
	t.Helper()
	if os.Getenv("ASSENT_SLOW_TESTS") == "" {
		t.Skip("full-dataset evaluation; set ASSENT_SLOW_TESTS=1")
	}
}

var sets = []struct {
	dir string
	dpi int
}{
	{"fvc2002/db1_b", 500}, {"fvc2002/db2_b", 569}, {"fvc2002/db3_b", 500}, {"fvc2002/db4_b", 500},
	{"fvc2000/db1_b", 500}, {"fvc2000/db2_b", 500}, {"fvc2000/db3_b", 500}, {"fvc2000/db4_b", 500},
}

func TestEvalAllSets(t *testing.T) {
	slow(t)
	root := dataDir(t)
	mean := 0.0
	var pooled []float64
	for _, set := range sets {
		imps, err := ListDataset(filepath.Join(root, set.dir))
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]*Template, len(imps))
		start := time.Now()
		fte, nm := 0, 0
		for i, im := range imps {
			b, err := os.ReadFile(im.Path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeImage(b)
			if err != nil {
				t.Fatal(err)
			}
			ts[i], err = Extract(img, set.dpi)
			if err != nil {
				fte++
				continue
			}
			nm += len(ts[i].Minutiae)
		}
		ext := time.Since(start) / time.Duration(len(imps))
		g, im := PairScores(imps, ts)
		pooled = append(pooled, im...)
		r, err := ComputeRates(g, im)
		if err != nil {
			t.Fatal(err)
		}
		mean += r.EER / float64(len(sets))
		t.Logf("%s: EER %.2f%% FMR100 %.2f%% FMR1000 %.2f%% ZeroFMR %.2f%% fte %d minutiae %.0f extract %v",
			set.dir, 100*r.EER, 100*r.FMR100, 100*r.FMR1000, 100*r.ZeroFMR, fte, float64(nm)/float64(len(imps)-fte), ext)
	}
	t.Logf("mean EER %.2f%%", 100*mean)
	slices.Sort(pooled)
	for _, q := range []int{2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000} {
		if n := len(pooled) / q; n >= 1 {
			t.Logf("impostor FMR 1/%d: score %.4f", q, pooled[len(pooled)-n])
		}
	}
	t.Logf("impostor max %.4f of %d", pooled[len(pooled)-1], len(pooled))
}

func TestEvalISOTemplates(t *testing.T) {
	slow(t)
	root := dataDir(t)
	for _, db := range []string{"db1_b", "db2_b", "db3_b", "db4_b"} {
		imps, err := ListDataset(filepath.Join(root, "iso19794-2", "fvc2002", db), ".iso")
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]*Template, len(imps))
		for i, im := range imps {
			b, err := os.ReadFile(im.Path)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := iso19794.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if ts[i], err = FromISO(rec, 0); err != nil {
				t.Fatal(err)
			}
		}
		g, im := PairScores(imps, ts)
		r, _ := ComputeRates(g, im)
		t.Logf("iso %s: EER %.2f%% FMR100 %.2f%% FMR1000 %.2f%% ZeroFMR %.2f%%", db, 100*r.EER, 100*r.FMR100, 100*r.FMR1000, 100*r.ZeroFMR)
	}
}

// cpuTime returns the CPU time this process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // Linux RUSAGE_THREAD; the caller locks its OS thread
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMatchCPU reports CPU time per comparison over every pair of two sets,
// which is steadier than wall time on a shared machine.
func TestMatchCPU(t *testing.T) {
	slow(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, set := range []string{"fvc2002/db1_b", "fvc2000/db3_b"} {
		imps, err := ListDataset(filepath.Join(dataDir(t), set))
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]*Template, len(imps))
		c0 := cpuTime(t)
		for i, im := range imps {
			raw, err := os.ReadFile(im.Path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeImage(raw)
			if err != nil {
				t.Fatal(err)
			}
			ts[i], _ = Extract(img, 500)
		}
		c1 := cpuTime(t)
		const reps = 3
		for range reps {
			PairScores(imps, ts)
		}
		c2 := cpuTime(t)
		t.Logf("%s: extraction %.1f ms CPU/image, %.2f us CPU/comparison", set,
			float64((c1-c0).Microseconds())/1000/float64(len(imps)), float64((c2-c1).Nanoseconds())/1000/(reps*3160))
	}
}
