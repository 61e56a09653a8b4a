package fingerprint

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// randomPacked makes a random gallery entry without building cylinders
// from minutiae (which takes 0.3 ms a template): n cylinders of 34 random
// bits among the 672 used, at random positions and directions. Its index
// keys are as uniform as MinHash makes them, so the index is no more
// crowded than a real one (real cylinders crowd some buckets more).
func randomPacked(r *rand.Rand, n int) *cylinders {
	c := &cylinders{}
	for range n {
		var b cylBits
		for k := 0; k < 34; {
			p := r.IntN(cylBitsUsed)
			if b[p/64]>>(p%64)&1 == 0 {
				b[p/64] |= 1 << (p % 64)
				k++
			}
		}
		d := float32(r.Float64() * 2 * math.Pi)
		c.x = append(c.x, float32(40+r.Float64()*220))
		c.y = append(c.y, float32(40+r.Float64()*320))
		c.dir = append(c.dir, d)
		c.cos = append(c.cos, float32(math.Cos(float64(d))))
		c.sin = append(c.sin, float32(math.Sin(float64(d))))
		c.norm = append(c.norm, sqrtTab[34])
		c.bits = append(c.bits, b)
		c.typ = append(c.typ, uint8(1+r.IntN(2)))
	}
	s := c.sortedByDir()
	return &s
}

// BenchmarkLargeIndexedSearch builds a gallery of ASSENT_LARGE_GALLERY
// random entries (47 cylinders each, as the synthetic fingers of assent
// bench enrol), seals it as a load does, and times indexed searches at the
// 1:N threshold enrolment uses for that many templates, one at a time on
// every core: p50, p95 and max of the wall time, and the memory per entry.
// Skipped unless the variable is set (1,000,000 entries take about 7 GB).
//
//	ASSENT_LARGE_GALLERY=1000000 go test -run XXX -bench LargeIndexedSearch -benchtime 1x ./internal/biometric/fingerprint
func BenchmarkLargeIndexedSearch(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("ASSENT_LARGE_GALLERY"))
	if n <= 0 {
		b.Skip("set ASSENT_LARGE_GALLERY to the gallery size")
	}
	r := rand.New(rand.NewPCG(41, 42))
	g := NewGallery()
	const batch = 4096
	start, cpu0 := time.Now(), processCPU()
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		keys := make([]string, 0, hi-lo)
		ts := make([]*Template, 0, hi-lo)
		for i := lo; i < hi; i++ {
			keys = append(keys, strconv.Itoa(i))
			ts = append(ts, &Template{cyl: *randomPacked(r, 47)})
		}
		g.AddAll(keys, ts)
	}
	g.Seal()
	build, buildCPU := time.Since(start), processCPU()-cpu0
	runtime.GC()
	bytes := float64(g.Bytes()) / float64(n)
	threshold := Threshold(math.Pow(10, -max(4, math.Log10(float64(n))+2)))
	var times []float64
	var searchCPU, indexCPU time.Duration
	searches := 0
	// ASSENT_LARGE_PROFILE names a file for a CPU profile of the searches
	// alone (not the build).
	if f := os.Getenv("ASSENT_LARGE_PROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	for b.Loop() {
		for range 40 {
			probe := &Template{cyl: *randomPacked(r, 47)}
			t0, c0 := time.Now(), processCPU()
			if _, err := g.Search(context.Background(), probe, threshold, SearchOptions{Indexed: true}); err != nil {
				b.Fatal(err)
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			c1 := processCPU()
			searchCPU += c1 - c0
			// the index pass alone (votes and scores), again
			g.mu.RLock()
			g.indexScores(probe, 0)
			g.mu.RUnlock()
			indexCPU += processCPU() - c1
			searches++
		}
	}
	b.ReportMetric(searchCPU.Seconds()*1000/float64(searches), "search_cpu_ms")
	b.ReportMetric(indexCPU.Seconds()*1000/float64(searches), "index_cpu_ms")
	b.ReportMetric(buildCPU.Seconds(), "build_cpu_s")
	slices.Sort(times)
	pct := func(p float64) float64 { return times[min(len(times)-1, int(math.Ceil(p*float64(len(times))))-1)] }
	b.ReportMetric(pct(0.5), "p50_ms")
	b.ReportMetric(pct(0.95), "p95_ms")
	b.ReportMetric(times[len(times)-1], "max_ms")
	b.ReportMetric(bytes, "bytes/entry")
	b.ReportMetric(float64(g.IndexBytes())/float64(n), "index_bytes/entry")
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
