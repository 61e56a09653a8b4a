package fingerprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/gallery"
)

// cpuNow is the CPU time (user and system) of this process.
func cpuNow() time.Duration {
	u, s, _ := usageNow()
	return u + s
}

// usageNow is the user and system CPU time of this process and its minor
// page faults.
func usageNow() (user, sys time.Duration, faults int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), ru.Minflt
}

// TestBuilderMakesTheLoadedGallery: a gallery built from the gallery forms
// of another's entries, in its order, is the gallery AddAll and Seal made:
// the same packed cylinders, byte for byte the same sealed index segments
// (escapes included), the same search results; and it goes on taking
// adds and removes.
func TestBuilderMakesTheLoadedGallery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, seg int
		from   int
	}{
		{"indexed, several segments", 3000, 700, 100},
		{"indexed, escapes", 2*unitEscape + 500, segEntries, 100},
		// segments of one and two entries: coded on one core (under
		// codeSerialBelow postings a table), and the smallest on two
		{"one entry a segment", 300, 1, 100},
		{"two entries a segment", 300, 2, 100},
		{"too small to index", 50, segEntries, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(31, uint64(tc.n)))
			pool := make([]*Template, 150)
			for i := range pool {
				pool[i] = sampleTemplateSeed(r)
			}
			keys, ts := make([]string, tc.n), make([]*Template, tc.n)
			for i := range keys {
				keys[i], ts[i] = fmt.Sprint("k", i), pool[r.IntN(len(pool))]
			}
			want := NewGallery()
			want.indexFrom, want.segEntries = tc.from, tc.seg
			for lo := 0; lo < tc.n; lo += 512 {
				hi := min(tc.n, lo+512)
				want.AddAll(keys[lo:hi], ts[lo:hi])
			}
			want.Seal()

			b := newBuilder(0, tc.seg)
			b.g.indexFrom = tc.from
			for _, k := range keys {
				form, ok := want.AppendForm(nil, k)
				if !ok {
					t.Fatalf("no form for %s", k)
				}
				if err := b.Add(k, form); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.Gallery()
			if err != nil {
				t.Fatal(err)
			}
			if (want.idx == nil) != (got.idx == nil) {
				t.Fatalf("index built: %v, want %v", got.idx != nil, want.idx != nil)
			}
			if want.idx != nil {
				if len(got.idx.sealed) != len(want.idx.sealed) {
					t.Fatalf("%d segments, want %d", len(got.idx.sealed), len(want.idx.sealed))
				}
				for i, s := range want.idx.sealed {
					g := got.idx.sealed[i]
					if g.start != s.start || g.n != s.n || g.postings != s.postings || !slices.Equal(g.off, s.off) || !bytes.Equal(g.units, s.units) {
						t.Fatalf("segment %d differs (start %d/%d, n %d/%d, postings %d/%d)", i, g.start, s.start, g.n, s.n, g.postings, s.postings)
					}
				}
				if got.idx.count != want.idx.count || got.idx.tailStart != want.idx.tailStart {
					t.Fatalf("index count %d start %d, want %d %d", got.idx.count, got.idx.tailStart, want.idx.count, want.idx.tailStart)
				}
				// The second search stage's sketches come with the forms.
				for i := range want.entries {
					if w, g := want.cyl.view(want.entries[i]).sk, got.cyl.view(got.entries[i]).sk; !slices.Equal(w, g) {
						t.Fatalf("entry %d: sketches %x, want %x", i, g, w)
					}
				}
			}
			ctx := context.Background()
			for _, opt := range []SearchOptions{{}, {Indexed: true, Penetration: 0.01, MinShortlist: 1}} {
				for _, p := range []*Template{pool[0], jittered(r, pool[1]), sampleTemplateSeed(r)} {
					w, err1 := want.Search(ctx, p, DefaultThreshold(), opt)
					g, err2 := got.Search(ctx, p, DefaultThreshold(), opt)
					if err1 != nil || err2 != nil {
						t.Fatal(err1, err2)
					}
					if d := cmpCandidates(w, g); d != "" {
						t.Fatalf("search (indexed %v) differs: %s", opt.Indexed, d)
					}
				}
			}
			// Still a working gallery.
			lone := sampleTemplateSeed(r)
			got.Add("new", lone)
			got.Remove("k0")
			cs, err := got.Search(ctx, lone, DefaultThreshold(), SearchOptions{Indexed: true})
			if err != nil || len(cs) == 0 || cs[0].Key != "new" {
				t.Fatalf("after an add: %v %v", keysOf(cs), err)
			}
		})
	}
}

func TestBuilderRefusesBadForms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := NewGallery()
	g.Add("a", sampleTemplateSeed(r))
	form, _ := g.AppendForm(nil, "a")
	for name, f := range map[string][]byte{
		"empty":     nil,
		"truncated": form[:len(form)/2],
		"longer":    append(slices.Clone(form), 0),
		"too many cylinders": func() []byte {
			b := slices.Clone(form)
			b[0] = 255
			return b
		}(),
		"bucket out of range": func() []byte {
			b := slices.Clone(form)
			f, err := parseForm(b)
			if err != nil || f.k == 0 {
				t.Fatal("no index keys", err)
			}
			at := len(b) - len(f.sk) - len(f.keys)
			b[at+formKeyBytes*(f.k-1)+2*indexTables] = 0x80 // the last bucket's high byte
			return b
		}(),
	} {
		if err := NewBuilder(0).Add("a", f); !errors.Is(err, ErrForm) {
			t.Errorf("%s: %v, want ErrForm", name, err)
		}
	}
	b := NewBuilder(0)
	if err := b.Add("a", form); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("a", form); !errors.Is(err, ErrForm) {
		t.Errorf("a key twice: %v", err)
	}
	// A form refused for a bucket out of range leaves nothing behind.
	bad := slices.Clone(form)
	f, _ := parseForm(bad)
	bad[len(bad)-len(f.sk)-len(f.keys)+2] = 0xff
	b = NewBuilder(0)
	if err := b.Add("a", bad); !errors.Is(err, ErrForm) {
		t.Fatalf("bucket out of range: %v", err)
	}
	if err := b.Add("a", form); err != nil {
		t.Fatal(err)
	}
	got, err := b.Gallery()
	if err != nil || got.Len() != 1 {
		t.Fatalf("after a refused form: %v", err)
	}
	if w, _ := got.AppendForm(nil, "a"); !bytes.Equal(w, form) {
		t.Fatal("the built entry's form differs")
	}
}

func FuzzParseForm(f *testing.F) {
	g := NewGallery()
	r := rand.New(rand.NewPCG(7, 8))
	g.Add("a", sampleTemplateSeed(r))
	form, _ := g.AppendForm(nil, "a")
	f.Add(form)
	f.Fuzz(func(t *testing.T, b []byte) {
		// Add never panics nor reads beyond the form (whether a form's bit
		// positions lie in their cylinders is not checked: forms come
		// authenticated, from AppendForm).
		bl := NewBuilder(0)
		if bl.Add("x", b) == nil {
			if _, err := bl.Gallery(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func BenchmarkBuilder(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	src := NewGallery()
	const n = 20000
	keys := make([]string, n)
	ts := make([]*Template, n)
	pool := make([]*Template, 200)
	for i := range pool {
		pool[i] = sampleTemplateSeed(r)
	}
	for i := range keys {
		keys[i], ts[i] = fmt.Sprint("k", i), pool[r.IntN(len(pool))]
	}
	src.AddAll(keys, ts)
	forms := make([][]byte, n)
	for i, k := range keys {
		forms[i], _ = src.AppendForm(nil, k)
	}
	cpu0 := cpuNow()
	for b.Loop() {
		bl := NewBuilder(n)
		for i, k := range keys {
			if err := bl.Add(k, forms[i]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.Gallery(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*n)/1000, "cpu-us/entry")
}

// BenchmarkBuilderLoad: a build the size of a 100,000-person load's
// fingerprints (200,000 entries of 35 minutiae, their forms taken from
// 2,000 templates; three index segments, built beside the adds as in a
// load), CPU time per entry, and its user and system parts apart (the
// system time, fresh pages' first touches, swings with the host on the
// project's virtual machines). BenchmarkBuilder's 20,000 entries make one
// segment, built after the last entry into fresh staging.
func BenchmarkBuilderLoad(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	src := NewGallery()
	const m, n = 2000, 200000
	keys := make([]string, m)
	ts := make([]*Template, m)
	for i := range keys {
		keys[i], ts[i] = fmt.Sprint("k", i), sampleTemplateSeed(r)
	}
	src.AddAll(keys, ts)
	forms := make([][]byte, m)
	for i, k := range keys {
		forms[i], _ = src.AppendForm(nil, k)
	}
	nk := make([]string, n)
	for i := range nk {
		nk[i] = fmt.Sprintf("person-%010d-f%d", i/2, i%2)
	}
	u0, s0, _ := usageNow()
	for b.Loop() {
		bl := NewBuilder(n)
		for i, k := range nk {
			if err := bl.Add(k, forms[i%m]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.Gallery(); err != nil {
			b.Fatal(err)
		}
	}
	u1, s1, _ := usageNow()
	per := float64(b.N*n) * 1000
	b.ReportMetric(float64((u1-u0+s1-s0).Nanoseconds())/per, "cpu-us/entry")
	b.ReportMetric(float64((u1-u0).Nanoseconds())/per, "user-us/entry")
	b.ReportMetric(float64((s1-s0).Nanoseconds())/per, "sys-us/entry")
}

// BenchmarkBuildSegment: one full segment (65,536 entries of 40 indexed
// cylinders, random buckets), CPU time per posting.
func BenchmarkBuildSegment(b *testing.B) {
	per, tb, dirs := randomSegmentInput()
	cpu0 := cpuNow()
	for b.Loop() {
		buildSegment(0, per, &tb, dirs)
	}
	b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*len(dirs)*indexTables), "cpu-ns/posting")
}

// randomSegmentInput is one full segment's input for the segment-build
// benchmarks: 65,536 entries of 40 indexed cylinders, random buckets and
// directions (a fixed seed).
func randomSegmentInput() (per []uint8, tb [indexTables][]uint16, dirs []uint8) {
	r := rand.New(rand.NewPCG(1, 2))
	per = make([]uint8, segEntries)
	for e := range per {
		per[e] = 40
		for range 40 {
			dirs = append(dirs, uint8(r.IntN(1<<unitDirBits)))
			for t := range tb {
				tb[t] = append(tb[t], uint16(r.IntN(1<<indexBucketBits)))
			}
		}
	}
	return per, tb, dirs
}

// TestKeysHoldNoPointers: a gallery's keys and their index hold no
// pointer, so a garbage collection does not visit an entry's key.
func TestKeysHoldNoPointers(t *testing.T) {
	g := NewGallery()
	k, m := reflect.TypeOf(g.keys), reflect.TypeOf(g.index)
	if gallery.HoldsPointers(k.Elem()) || gallery.HoldsPointers(m.Key()) || gallery.HoldsPointers(m.Elem()) || gallery.HoldsPointers(reflect.TypeOf(g.entries).Elem()) {
		t.Errorf("keys %v, index %v or entries hold pointers", k, m)
	}
}

// BenchmarkBuildSegments: the segments of 1,048,576 entries (16 full
// segments of 40 indexed cylinders an entry, random buckets), built one
// after the other with one scratch and all kept, as a load builds them
// (each segment's units in fresh pages: about 1.4 GB in all); CPU time
// and minor page faults per posting, user and system time apart.
// BenchmarkBuildSegment's single segment reuses the memory the last
// iteration freed.
func BenchmarkBuildSegments(b *testing.B) {
	const segs = 16
	per, tb, dirs := randomSegmentInput()
	var user, sys time.Duration
	var faults int64
	for b.Loop() {
		b.StopTimer()
		debug.FreeOSMemory() // (the last iteration's segments: fresh pages again)
		b.StartTimer()
		u0, s0, f0 := usageNow()
		var sc segScratch
		kept := make([]*segment, 0, segs)
		for k := range segs {
			kept = append(kept, sc.build(k*segEntries, per, &tb, dirs))
		}
		u1, s1, f1 := usageNow()
		user += u1 - u0
		sys += s1 - s0
		faults += f1 - f0
		runtime.KeepAlive(kept)
	}
	n := float64(b.N * segs * len(dirs) * indexTables)
	b.ReportMetric(float64(user.Nanoseconds())/n, "user-ns/posting")
	b.ReportMetric(float64(sys.Nanoseconds())/n, "sys-ns/posting")
	b.ReportMetric(float64(faults)/float64(b.N*segs), "faults/segment")
}
