package fingerprint

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
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

// perturbed is another impression of a random entry's cylinders: about a
// sixth of them missing, 6 of each one's bits moved, directions and
// positions jittered.
func perturbed(r *rand.Rand, c *cylinders) *Template {
	o := &cylinders{}
	for i := range c.n() {
		if r.IntN(6) == 0 {
			continue
		}
		b := c.bits[i]
		for moved := 0; moved < 6; {
			p, q := r.IntN(cylBitsUsed), r.IntN(cylBitsUsed)
			if b[p/64]>>(p%64)&1 == 1 && b[q/64]>>(q%64)&1 == 0 {
				b[p/64] &^= 1 << (p % 64)
				b[q/64] |= 1 << (q % 64)
				moved++
			}
		}
		d := float32(math.Mod(float64(c.dir[i])+(r.Float64()-0.5)*0.1+2*math.Pi, 2*math.Pi))
		o.x = append(o.x, c.x[i]+float32(r.NormFloat64()))
		o.y = append(o.y, c.y[i]+float32(r.NormFloat64()))
		o.dir = append(o.dir, d)
		o.cos = append(o.cos, float32(math.Cos(float64(d))))
		o.sin = append(o.sin, float32(math.Sin(float64(d))))
		o.norm = append(o.norm, sqrtTab[34])
		o.bits = append(o.bits, b)
		o.typ = append(o.typ, c.typ[i])
	}
	return &Template{cyl: o.sortedByDir()}
}

// BenchmarkLargeIndexedSearch builds a gallery of ASSENT_LARGE_GALLERY
// random entries (47 cylinders each, as the synthetic fingers of assent
// bench enrol), seals it as a load does, and times indexed searches at the
// 1:N threshold enrolment uses for that many templates, one at a time on
// every core: 40 probes, every other one another impression of a gallery
// entry (a mate, which must be found) and the others strangers, each
// searched with the second stage (the default; suffix _cut0) and without
// it (_cut-1: the index's whole shortlist compared in full). It reports
// p50, p95 and max of the wall time and the CPU of each, the mates found,
// the index pass's and the second stage's CPU alone, how many entries the
// stages keep (shortlist, stage2_passed: random strangers hardly ever pass
// the second stage, real ones do more often, see docs/fingerprint.md), and
// the memory per entry. Skipped unless the variable is set (1,000,000
// entries take about 3.6 GB).
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
	mates := map[int]*cylinders{} // entries that mated probes are made from
	start, cpu0 := time.Now(), processCPU()
	for lo := 0; lo < n; lo += batch {
		hi := min(n, lo+batch)
		keys := make([]string, 0, hi-lo)
		ts := make([]*Template, 0, hi-lo)
		for i := lo; i < hi; i++ {
			keys = append(keys, strconv.Itoa(i))
			ts = append(ts, &Template{cyl: *randomPacked(r, 47)})
			if i%max(1, n/20) == 7 {
				mates[i] = &ts[len(ts)-1].cyl
			}
		}
		g.AddAll(keys, ts)
	}
	g.Seal()
	build, buildCPU := time.Since(start), processCPU()-cpu0
	runtime.GC()
	bytes := float64(g.Bytes()) / float64(n)
	// ASSENT_LARGE_THRESHOLD_N sets the gallery size whose 1:N threshold
	// the searches use (by default the gallery's own): a smaller gallery
	// searched at a 4,000,000-entry shard's threshold and cut.
	thn := n
	if v := os.Getenv("ASSENT_LARGE_THRESHOLD_N"); v != "" {
		var err error
		if thn, err = strconv.Atoi(v); err != nil || thn <= 0 {
			b.Fatalf("ASSENT_LARGE_THRESHOLD_N=%q", v)
		}
	}
	threshold := Threshold(math.Pow(10, -max(4, math.Log10(float64(thn))+2)))
	mateKeys := make([]int, 0, len(mates))
	for k := range mates {
		mateKeys = append(mateKeys, k)
	}
	slices.Sort(mateKeys)
	type run struct {
		opt          SearchOptions
		times        []float64
		cpu          time.Duration
		found, mated int
	}
	// ASSENT_LARGE_STAGE lists the second-stage cuts to measure (0 is
	// SecondStageCut(threshold), -1 turns the second stage off); by
	// default both.
	cuts := []int{0, -1}
	if v := os.Getenv("ASSENT_LARGE_STAGE"); v != "" {
		cuts = nil
		for _, f := range strings.Split(v, ",") {
			x, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			cuts = append(cuts, x)
		}
	}
	var runs []*run
	for _, x := range cuts {
		runs = append(runs, &run{opt: SearchOptions{Indexed: true, SecondStage: x}})
	}
	// ASSENT_LARGE_MODEL_PASS adds a run (suffix _model) with the default
	// second stage that also passes this share of the shortlist, as real
	// fingers' impostors do (random strangers hardly ever pass): 0.292 at
	// a 4,000,000-template threshold on the FVC sets (docs/fingerprint.md,
	// "A stricter second stage").
	if v := os.Getenv("ASSENT_LARGE_MODEL_PASS"); v != "" {
		share, err := strconv.ParseFloat(v, 64)
		if err != nil || share <= 0 || share > 1 {
			b.Fatalf("ASSENT_LARGE_MODEL_PASS=%q: a share in (0, 1]", v)
		}
		runs = append(runs, &run{opt: SearchOptions{Indexed: true, modelPass: share}})
	}
	var indexCPU, stageCPU time.Duration
	shortlisted, passed := 0, 0
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
		for k := range 40 {
			probe, want := &Template{cyl: *randomPacked(r, 47)}, ""
			if k%2 == 1 {
				e := mateKeys[(k/2)%len(mateKeys)]
				probe, want = perturbed(r, mates[e]), strconv.Itoa(e)
			}
			for _, ru := range runs {
				t0, c0 := time.Now(), processCPU()
				got, err := g.Search(context.Background(), probe, threshold, ru.opt)
				if err != nil {
					b.Fatal(err)
				}
				ru.times = append(ru.times, float64(time.Since(t0).Microseconds())/1000)
				ru.cpu += processCPU() - c0
				if want != "" {
					ru.mated++
					if len(got) > 0 && got[0].Key == want {
						ru.found++
					}
				}
			}
			// the index pass alone (votes and scores), and the second
			// stage alone, again
			c1 := processCPU()
			g.mu.RLock()
			short, rot, err := g.shortlist(context.Background(), probe, ShortlistSize(n, SearchOptions{Penetration: SearchPenetration(threshold)}), 0)
			c2 := processCPU()
			shortlisted += len(short)
			if err == nil {
				short, err = g.secondStage(context.Background(), probe, short, rot, SecondStageCut(threshold), 0)
				passed += len(short)
			}
			g.mu.RUnlock()
			if err != nil {
				b.Fatal(err)
			}
			indexCPU += c2 - c1
			stageCPU += processCPU() - c2
			searches++
		}
	}
	b.ReportMetric(indexCPU.Seconds()*1000/float64(searches), "index_cpu_ms")
	b.ReportMetric(stageCPU.Seconds()*1000/float64(searches), "stage2_cpu_ms")
	b.ReportMetric(float64(shortlisted)/float64(searches), "shortlist")
	b.ReportMetric(float64(passed)/float64(searches), "stage2_passed")
	b.ReportMetric(buildCPU.Seconds(), "build_cpu_s")
	b.ReportMetric(float64(SecondStageCut(threshold)), "stage2_cut")
	for _, ru := range runs {
		suffix := fmt.Sprintf("_cut%d", ru.opt.SecondStage)
		if ru.opt.modelPass > 0 {
			suffix = "_model"
		}
		if ru.opt.SecondStage < 0 {
			// every shortlisted entry compared in full: the CPU of one
			// full comparison (unpacking included) in this gallery
			full := (ru.cpu.Seconds()*1000/float64(len(ru.times)) - indexCPU.Seconds()*1000/float64(searches)) / (float64(shortlisted) / float64(searches))
			b.ReportMetric(full*1000, "full_cmp_cpu_us")
		}
		times := ru.times
		slices.Sort(times)
		pct := func(p float64) float64 { return times[min(len(times)-1, int(math.Ceil(p*float64(len(times))))-1)] }
		b.ReportMetric(ru.cpu.Seconds()*1000/float64(len(times)), "search_cpu_ms"+suffix)
		b.ReportMetric(pct(0.5), "p50_ms"+suffix)
		b.ReportMetric(pct(0.95), "p95_ms"+suffix)
		b.ReportMetric(times[len(times)-1], "max_ms"+suffix)
		b.ReportMetric(float64(ru.found), "mates_found"+suffix)
		b.ReportMetric(float64(ru.mated), "mates"+suffix)
	}
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

// cpuPerOp returns a function that reports the process's CPU time per
// iteration of b since the call (cpu-ns/op): on a machine shared with
// other work, wall time per operation (ns/op) is inflated by the load,
// CPU time much less so. Meant for benchmarks run with -cpu 1.
func cpuPerOp(b *testing.B) func() {
	c0 := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-c0).Nanoseconds())/float64(max(1, b.N)), "cpu-ns/op")
	}
}

// TestWithShare checks the benchmarks' model of real impostors passing
// the second stage: the share is spread over the shortlist, entries that
// passed on their own are not doubled, and the order stays increasing.
func TestWithShare(t *testing.T) {
	got := withShare([]int32{3}, []int32{1, 3, 5, 7, 9, 11}, 0.5)
	if want := []int32{3, 7, 11}; !slices.Equal(got, want) {
		t.Fatalf("withShare = %v, want %v", got, want)
	}
	if got := withShare([]int32{5}, []int32{1, 3, 5}, 1); !slices.Equal(got, []int32{1, 3, 5}) {
		t.Fatalf("share 1 = %v, want the whole shortlist", got)
	}
}
