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

// heavy is slow, and also skipped under the race detector: extracting the
// eight shared sets (6,400 images) there takes the better part of an hour
// and tests no concurrency that the packages' own tests do not. .ci/run
// runs these accuracy tests in a step of their own, without -race.
func heavy(t *testing.T) {
	t.Helper()
	slow(t)
	if raceDetector {
		t.Skip("accuracy evaluation over the shared sets: run without -race (.ci/run does, in its own step)")
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
	heavy(t)
	root := dataDir(t)
	mean := 0.0
	var pooled []float64
	for _, set := range sets {
		e := extractSet(t, root, set.dir, set.dpi)
		imps, ts := e.imps, e.ts
		fte, nm := 0, 0
		for _, tp := range ts {
			if tp == nil {
				fte++
				continue
			}
			nm += len(tp.Minutiae)
		}
		ext := e.perImage
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
	// The same pairs as a gallery scores them (galleryCylinders): the
	// quantiles calibrate.go's gallery table is fitted on.
	var gpooled []float64
	for _, set := range sets {
		e := extractSet(t, root, set.dir, set.dpi)
		_, im := galleryPairScores(e.imps, e.ts)
		gpooled = append(gpooled, im...)
	}
	slices.Sort(gpooled)
	for _, q := range []int{2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000} {
		if n := len(gpooled) / q; n >= 1 {
			t.Logf("gallery impostor FMR 1/%d: score %.4f", q, gpooled[len(gpooled)-n])
		}
	}
	t.Logf("gallery impostor max %.4f of %d", gpooled[len(gpooled)-1], len(gpooled))
}

// galleryPairScores is PairScores as a gallery scores the pairs: the first
// template of a pair as the probe (its galleryCylinders), the second as a
// gallery entry (its galleryCylinders packed and unpacked).
func galleryPairScores(imps []Impression, ts []*Template) (genuine, impostor []float64) {
	probes := make([]cylinders, len(ts))
	entries := make([]cylinders, len(ts))
	for i, tp := range ts {
		if tp != nil {
			probes[i] = tp.galleryCylinders()
			pack(&probes[i]).unpack(&entries[i])
		}
	}
	var s scratch
	for i := range imps {
		for j := i + 1; j < len(imps); j++ {
			v := -1.0
			if ts[i] != nil && ts[j] != nil {
				v = match(&probes[i], &entries[j], &s)
			}
			if imps[i].Finger == imps[j].Finger {
				genuine = append(genuine, v)
			} else {
				impostor = append(impostor, v)
			}
		}
	}
	return genuine, impostor
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
	heavy(t)
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

// TestIndexRetention pools the eight sets (640 templates) in one indexed
// gallery and checks how many genuine pairs the index keeps: at the 1:N
// threshold of a 100,000-person registry (200,000 finger templates, FMR
// 1/(100 x 200,000)) at least 99 % must be kept at the default penetration.
func TestIndexRetention(t *testing.T) {
	heavy(t)
	root := dataDir(t)
	ts, fingers := pooledTemplates(t, root, true)
	pens := []float64{0.01, DefaultPenetration, 0.05}
	res := EvalIndex(ts, fingers, []float64{DefaultThreshold(), Threshold(1 / (100 * 200000.0))}, pens)
	for _, r := range res {
		t.Logf("threshold %.4f: %d genuine pairs of %d templates; kept at penetration %v: %v", r.Threshold, r.Pairs, r.Templates, r.Penetration, r.Kept)
	}
	if strict := res[1]; strict.Pairs < 1000 || strict.Kept[1] < 0.99 {
		t.Errorf("at the 100,000-person threshold the index keeps %.4f of %d genuine pairs at %.0f%% penetration, want at least 0.99",
			strict.Kept[1], strict.Pairs, 100*DefaultPenetration)
	}
}

// pooledTemplates extracts the shared sets and returns their templates
// pooled, each with its finger's label (set x 1000 + finger); a failure to
// enrol is kept as a nil template when withFailures is set, left out
// otherwise.
func pooledTemplates(t *testing.T, root string, withFailures bool) (ts []*Template, fingers []int) {
	t.Helper()
	for si, set := range sets {
		e := extractSet(t, root, set.dir, set.dpi)
		for i, im := range e.imps {
			if e.ts[i] != nil || withFailures {
				ts = append(ts, e.ts[i])
				fingers = append(fingers, si*1000+im.Finger)
			}
		}
	}
	return ts, fingers
}
