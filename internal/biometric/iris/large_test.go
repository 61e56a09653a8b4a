package iris

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/gallery"
)

// BenchmarkLargeIrisSearch fills a gallery with ASSENT_LARGE_GALLERY
// synthetic eyes (copies of 4,096 distinct ones: the scan reads every
// entry whatever it holds) and times 40 searches of fresh eyes, each a
// coarse search on every core at the 1:N threshold enrolment uses for that
// many eyes (dedup.MinEvidence: an FMR of 1 in 100 times the size): p50,
// p95 and max of the wall time, the CPU per search and the memory per
// entry. Skipped unless the variable is set (4,000,000 eyes, a 2,000,000
// person shard, take 4.1 GB).
//
//	ASSENT_LARGE_GALLERY=1000000 go test -run XXX -bench LargeIrisSearch -benchtime 1x ./internal/biometric/iris
func BenchmarkLargeIrisSearch(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("ASSENT_LARGE_GALLERY"))
	if n <= 0 {
		b.Skip("set ASSENT_LARGE_GALLERY to the gallery size")
	}
	rng := rand.New(rand.NewPCG(43, 44))
	s := NewSynth(DefaultRows, DefaultCols)
	eyes := make([]*Template, 4096)
	for i := range eyes {
		eyes[i] = s.Template(s.Field(rng), rng)
	}
	g := NewGallery(GalleryOptions{})
	// room for every entry at once: appending would copy the arrays as
	// they grow (and hold two of them at the peak)
	g.head = make([]uint64, 0, n*2*g.coarseWords)
	g.tail = make([]uint64, 0, n*2*(g.words-g.coarseWords))
	g.keys = make([]gallery.Key, 0, n)
	start := time.Now()
	for i := range n {
		if err := g.Add(strconv.Itoa(i), eyes[i%len(eyes)]); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	runtime.GC()
	threshold := ThresholdForFMR(math.Pow(10, -max(4, math.Log10(float64(n))+2)))
	var times []float64
	var cpu time.Duration
	searches := 0
	for b.Loop() {
		for range 40 {
			probe := s.Template(s.Field(rng), rng)
			t0, c0 := time.Now(), processCPU()
			if _, err := g.Search(context.Background(), probe, threshold, SearchOptions{Coarse: true}); err != nil {
				b.Fatal(err)
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			cpu += processCPU() - c0
			searches++
		}
	}
	slices.Sort(times)
	pct := func(p float64) float64 { return times[min(len(times)-1, int(math.Ceil(p*float64(len(times))))-1)] }
	b.ReportMetric(cpu.Seconds()*1000/float64(searches), "search_cpu_ms")
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.95), "p95_ms")
	b.ReportMetric(times[len(times)-1], "max_ms")
	b.ReportMetric(float64(g.Bytes())/float64(n), "bytes/entry")
	b.ReportMetric(build.Seconds(), "build_s")
}

// processCPU is the CPU time the process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
