package iris

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func synthPair(seed uint64) (a, b, other *Template) {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := NewSynth(DefaultRows, DefaultCols)
	f := s.Field(rng)
	return s.Template(f, rng), s.Mate(f, rng), s.Template(s.Field(rng), rng)
}

func TestRotateMatchesBitLoop(t *testing.T) {
	a, _, _ := synthPair(1)
	for _, shift := range []int{-300, -15, -1, 0, 1, 3, 15, 255, 256, 700} {
		t.Run(fmt.Sprint(shift), func(t *testing.T) {
			fast := make([]uint64, len(a.Code))
			rotate(fast, a.Code, a.Rows, a.Cols, shift)
			slow := make([]uint64, len(a.Code))
			per, n := 2*a.Rows, 2*a.Rows*a.Cols
			s := ((shift % a.Cols) + a.Cols) % a.Cols * per
			for i := range n {
				if a.Code[i>>6]>>(i&63)&1 != 0 {
					j := (i + s) % n
					slow[j>>6] |= 1 << (j & 63)
				}
			}
			if diff := cmp.Diff(slow, fast); diff != "" {
				t.Errorf("rotate mismatch (-bit loop +word shift):\n%s", diff)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	a, mate, other := synthPair(2)
	rotated := &Template{Encoder: a.Encoder, Rows: a.Rows, Cols: a.Cols, Code: make([]uint64, len(a.Code)), Mask: make([]uint64, len(a.Mask))}
	rotate(rotated.Code, a.Code, a.Rows, a.Cols, 9)
	rotate(rotated.Mask, a.Mask, a.Rows, a.Cols, 9)
	empty := &Template{Encoder: a.Encoder, Rows: a.Rows, Cols: a.Cols, Code: a.Code, Mask: make([]uint64, len(a.Mask))}
	odd := &Template{Encoder: a.Encoder, Rows: 4, Cols: 256, Code: make([]uint64, 32), Mask: make([]uint64, 32)}
	tests := []struct {
		name   string
		b      *Template
		lo, hi float64
		ok     bool
	}{
		// Identical codes score 0.5 - 0.5 sqrt(n / pairNorm), clamped at
		// 0: above 0 for codes with few degrees of freedom per bit, as
		// the synthetic ones (RowCorrelation about 3.5: 0.25 with the
		// weight 2.5 of the seventh round, 0.06 with 1; real codes,
		// 1.2-1.5, score 0, and 0.06 at an S of 2).
		{"self", a, 0, 0.3, true},
		{"rotated by 9 columns", rotated, 0, 0.3, true},
		{"mate", mate, 0, 0.35, true},
		{"other eye", other, 0.4, 0.6, true},
		{"nothing usable", empty, 1, 1, false},
		{"other geometry", odd, 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hd, ok := Distance(a, tc.b)
			if ok != tc.ok || hd < tc.lo || hd > tc.hi {
				t.Errorf("Distance = %.3f, %v; want [%.2f, %.2f], %v", hd, ok, tc.lo, tc.hi, tc.ok)
			}
		})
	}
}

func TestThresholdForFMRMonotone(t *testing.T) {
	var got []float64
	for _, f := range []float64{1e-8, 1e-6, 1e-4, 1e-2, 0.5} {
		got = append(got, ThresholdForFMR(f))
	}
	if !slices.IsSorted(got) {
		t.Errorf("thresholds not increasing with FMR: %v", got)
	}
}

func TestTemplateRoundTrip(t *testing.T) {
	a, _, _ := synthPair(3)
	data, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != headerSize+2*len(a.Code)*8 {
		t.Errorf("encoded %d bytes", len(data))
	}
	var b Template
	if err := b.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, &b); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	bad := map[string][]byte{
		"empty":         nil,
		"magic":         append([]byte("XXXX"), data[4:]...),
		"version":       append(append([]byte{}, data[:4]...), append([]byte{9}, data[5:]...)...),
		"truncated":     data[:len(data)-1],
		"zero geometry": append(append([]byte{}, data[:6]...), append([]byte{0, 0}, data[8:]...)...),
	}
	for name, d := range bad {
		t.Run(name, func(t *testing.T) {
			var x Template
			if err := x.UnmarshalBinary(d); !errors.Is(err, ErrBadTemplate) {
				t.Errorf("err = %v, want ErrBadTemplate", err)
			}
		})
	}
}

func FuzzUnmarshalTemplate(f *testing.F) {
	a, _, _ := synthPair(4)
	data, _ := a.MarshalBinary()
	f.Add(data)
	f.Add([]byte("AIRC\x01\x01\x01\x00\x20\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x Template
		if err := x.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := x.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded template does not re-encode: %v", err)
		}
		if string(again) != string(data) {
			t.Fatal("re-encoding differs")
		}
		Distance(&x, &x)
	})
}

func TestGallery(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	var fields [][]float64
	for i := range 300 {
		f := s.Field(rng)
		fields = append(fields, f)
		if err := g.Add(fmt.Sprint("k", i), s.Template(f, rng)); err != nil {
			t.Fatal(err)
		}
	}
	if !g.Remove("k7") || g.Remove("k7") {
		t.Error("Remove k7: want true then false")
	}
	if err := g.Add("bad", &Template{Rows: 4, Cols: 8}); !errors.Is(err, ErrIncompatible) {
		t.Errorf("Add(bad) err = %v, want ErrIncompatible", err)
	}
	th := ThresholdForFMR(1e-6)
	for _, coarse := range []bool{false, true} {
		t.Run(fmt.Sprint("coarse=", coarse), func(t *testing.T) {
			for _, i := range []int{0, 7, 150, 299} {
				probe := s.Mate(fields[i], rng)
				got, err := g.Search(context.Background(), probe, th, SearchOptions{Coarse: coarse})
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for _, c := range got {
					keys = append(keys, c.Key)
				}
				var want []string
				if i != 7 {
					want = []string{fmt.Sprint("k", i)}
				}
				if diff := cmp.Diff(want, keys); diff != "" {
					t.Errorf("probe %d: candidates (-want +got):\n%s", i, diff)
				}
				for _, c := range got {
					if d, _ := Distance(probe, mustTemplate(t, s, fields[i])); d > 1 {
						t.Errorf("distance %v", c.Distance)
					}
				}
			}
		})
	}
	if n := g.Len(); n != 299 {
		t.Errorf("Len = %d, want 299", n)
	}
}

func mustTemplate(t *testing.T, s Synth, f []float64) *Template {
	t.Helper()
	return s.Template(f, rand.New(rand.NewPCG(1, 1)))
}

func TestGalleryMatchesDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	var ts []*Template
	for i := range 50 {
		tp := s.Template(s.Field(rng), rng)
		ts = append(ts, tp)
		if err := g.Add(fmt.Sprint(i), tp); err != nil {
			t.Fatal(err)
		}
	}
	probe := s.Template(s.Field(rng), rng)
	got, err := g.Search(context.Background(), probe, 1, SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		var i int
		fmt.Sscan(c.Key, &i)
		// Distance shifts b; the gallery shifts the probe: same set of
		// alignments, mirrored.
		want, _ := Distance(ts[i], probe)
		if diff := c.Distance - want; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("entry %d: gallery %.6f, Distance %.6f", i, c.Distance, want)
		}
	}
}

func BenchmarkDistance(b *testing.B) {
	a, m, _ := synthPair(7)
	for b.Loop() {
		Distance(a, m)
	}
}

func BenchmarkGallerySearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(8, 8))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	for i := range 10000 {
		if err := g.Add(fmt.Sprint(i), s.Template(s.Field(rng), rng)); err != nil {
			b.Fatal(err)
		}
	}
	probe := s.Template(s.Field(rng), rng)
	for _, coarse := range []bool{false, true} {
		b.Run(fmt.Sprint("coarse=", coarse), func(b *testing.B) {
			for b.Loop() {
				if _, err := g.Search(context.Background(), probe, ThresholdForFMR(1e-6), SearchOptions{Coarse: coarse, Workers: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(g.Len())*float64(b.N)/b.Elapsed().Seconds(), "comparisons/s")
		})
	}
}

func TestGalleryConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s := NewSynth(DefaultRows, DefaultCols)
	var ts []*Template
	for range 64 {
		ts = append(ts, s.Template(s.Field(rng), rng))
	}
	g := NewGallery(GalleryOptions{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			k := fmt.Sprint(i % 32)
			if i%3 == 2 {
				g.Remove(k)
			} else if err := g.Add(k, ts[i%len(ts)]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 50 {
		if _, err := g.Search(context.Background(), ts[i%len(ts)], ThresholdForFMR(1e-6), SearchOptions{Coarse: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}

// TestCoarseKernel: the coarse scan's test (early exit, no square root, on
// the gallery's packed layout) decides exactly as bestStrided's distance
// when the first-half filter is off, and with it never lets through an
// entry that bestStrided would stop.
func TestCoarseKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	m := g.m
	frac := float64(g.coarseWords) / float64(g.words)
	cmin, cnorm := int(float64(m.MinBits)*frac), float64(m.NormBits)*frac
	e := make([]uint64, 2*g.words)
	checked := map[bool]int{}
	for range 200 {
		f := s.Field(rng)
		probe := s.Template(f, rng)
		other := s.Mate(f, rng)
		if rng.IntN(2) == 0 {
			other = s.Template(s.Field(rng), rng)
		}
		pr := g.prepare(probe)
		g.packEntry(e, other.Code, other.Mask)
		q := corrRoot(other.RowCorrelation())
		cf := float32(math.Sqrt(float64(m.NormBits) / pairNorm(float64(m.NormBits), pr.q, q)))
		d := bestStrided(pr.coarse, g.coarsePart(e), 1, pr.coarseShifts, cmin, pairNorm(cnorm, pr.q, q))
		for _, th := range []float64{0.2, 0.3, 0.354, 0.4, 0.45, 0.6} {
			want := d <= th
			exact := g.coarseKernel(pr.coarseShifts, th, 1)
			// Exact but for a millionth of margin: it may keep a
			// distance that far above the threshold, never drop one.
			if got := exact.pass(pr.coarse, g.coarsePart(e), cf); got != want && (want || d > th+1e-6) {
				t.Fatalf("threshold %.3f, coarse distance %.6f: kernel says %v", th, d, got)
			}
			filtered := g.coarseKernel(pr.coarseShifts, th, th+DefaultCoarseHalfMargin-DefaultCoarseMargin)
			if filtered.pass(pr.coarse, g.coarsePart(e), cf) && d > th+1e-6 {
				t.Fatalf("threshold %.3f, coarse distance %.6f: the filtered kernel lets it through", th, d)
			}
			checked[want]++
		}
	}
	if checked[true] == 0 || checked[false] == 0 {
		t.Fatalf("both outcomes should be exercised: %v", checked)
	}
}

// BenchmarkCoarseScan times the coarse scan of one probe over 100,000
// impostor entries on one core, at the 1:N threshold enrolment uses (an
// FMR of 1 in 100 times 200,000). The entries repeat 1,000 synthetic eyes,
// which changes nothing for the scan but the set-up time.
func BenchmarkCoarseScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(10, 10))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	var eyes []*Template
	for range 1000 {
		eyes = append(eyes, s.Template(s.Field(rng), rng))
	}
	for i := range 100000 {
		if err := g.Add(fmt.Sprint(i), eyes[i%len(eyes)]); err != nil {
			b.Fatal(err)
		}
	}
	probe := s.Template(s.Field(rng), rng)
	th := ThresholdForFMR(1 / (100 * 200000.0))
	for b.Loop() {
		if _, err := g.Search(context.Background(), probe, th, SearchOptions{Coarse: true, Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(g.Len()), "ns/entry")
}

// TestMaskedKernels: masked (the assembly loop where the processor has
// POPCNT) and maskedGo count exactly what the definition says, for every
// length up to 40 words, odd ones included (the unpaired last word is not
// read), on random words and on all-ones masks.
func TestMaskedKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	ref := func(p, e []uint64) (diff, n int) {
		for i := 0; i+1 < len(e); i += 2 {
			for b := range 64 {
				if m := p[i+1] & e[i+1] >> b & 1; m == 1 {
					n++
					diff += int((p[i] ^ e[i]) >> b & 1)
				}
			}
		}
		return diff, n
	}
	t.Logf("POPCNT kernel in use: %v", usePOPCNT)
	for words := range 41 {
		for trial := range 20 {
			p, e := make([]uint64, words+3), make([]uint64, words)
			for i := range p {
				p[i] = rng.Uint64()
			}
			for i := range e {
				e[i] = rng.Uint64()
				if trial%4 == 0 && i%2 == 1 {
					e[i], p[i] = ^uint64(0), ^uint64(0)
				}
			}
			wd, wn := ref(p, e)
			if d, n := masked(p, e); d != wd || n != wn {
				t.Fatalf("%d words: masked = %d, %d; want %d, %d", words, d, n, wd, wn)
			}
			if d, n := maskedGo(p, e); d != wd || n != wn {
				t.Fatalf("%d words: maskedGo = %d, %d; want %d, %d", words, d, n, wd, wn)
			}
		}
	}
}

// TestCoarseLimits: the coarse kernel's limits decide as the rescaled
// distance does (with the pair's degrees-of-freedom factor f), for every
// count of bits and every count of differences, but for a millionth of
// margin on the side of keeping.
func TestCoarseLimits(t *testing.T) {
	const bits, minBits, norm = 704, 103, 687.5
	for _, f := range []float64{0.7, 1, 1.23456, 1.5} {
		for _, th := range []float64{-0.1, 0, 0.2, 0.3512, 0.42, 0.5, 0.6} {
			lim := coarseLimits(bits, minBits, norm, th)
			for n := range bits + 1 {
				for d := 0; d <= n; d++ {
					dist := rescale(d, n, norm/(f*f))
					want := n > 0 && n >= minBits && dist <= th
					got := float32(n-2*d)*float32(f) >= lim[n]
					if got != want && (want || n < minBits || dist > th+1e-6) {
						t.Fatalf("factor %v threshold %v, %d of %d bits differ (distance %v): limit %v says %v", f, th, d, n, dist, lim[n], got)
					}
				}
			}
		}
	}
}
