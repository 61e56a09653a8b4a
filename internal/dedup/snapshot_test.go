package dedup

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/google/uuid"
)

// snapPop is a small population in a Local: person i has two fingers and
// two eyes, their data keys in a keyring.
type snapPop struct {
	l       *Local
	keys    *envelope.Keyring
	persons []string
	fingers [][2]synth.Finger
	fields  [][2][]float64
	eyes    iris.Synth
	rng     *rand.Rand
}

func newSnapPop(t *testing.T, n int, seed uint64) *snapPop {
	t.Helper()
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return newSnapPopIn(t, n, seed, m, &envelope.MemStore{})
}

// newSnapPopIn is newSnapPop with the keys in store under m.
func newSnapPopIn(t *testing.T, n int, seed uint64, m *envelope.MasterKey, store envelope.KeyStore) *snapPop {
	t.Helper()
	ctx := context.Background()
	kr, err := envelope.NewKeyring(ctx, store, m, envelope.Options{CacheSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 77))
	p := &snapPop{l: NewLocal(), keys: kr, eyes: iris.NewSynth(iris.DefaultRows, iris.DefaultCols), rng: rng}
	for i := range n {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d-%d", seed, i)).String()
		p.persons = append(p.persons, id)
		f := [2]synth.Finger{synth.NewFinger(rng), synth.NewFinger(rng)}
		e := [2][]float64{p.eyes.Field(rng), p.eyes.Field(rng)}
		p.fingers, p.fields = append(p.fingers, f), append(p.fields, e)
		for k := range 2 {
			ref := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s-f%d", id, k)).String()
			if err := p.l.Add(ctx, Fingerprint, id, ref, raw(t, f[k].Template())); err != nil {
				t.Fatal(err)
			}
			ref = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s-e%d", id, k)).String()
			if err := p.l.Add(ctx, Iris, id, ref, raw(t, p.eyes.Template(e[k], rng))); err != nil {
				t.Fatal(err)
			}
		}
		// the person's data keys, as their stored templates would have made
		for _, c := range []string{Fingerprint, Iris} {
			if _, err := kr.Seal(ctx, id, c, "template", []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

// probes returns a mate of person i's first finger and first eye.
func (p *snapPop) probes(t *testing.T, i int) map[string][]byte {
	return map[string][]byte{
		Fingerprint: raw(t, p.fingers[i][0].Mate(p.rng)),
		Iris:        raw(t, p.eyes.Mate(p.fields[i][0], p.rng)),
	}
}

func search(t *testing.T, l *Local, mod string, probe []byte) []string {
	t.Helper()
	c, _, err := l.Search(context.Background(), mod, probe, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSnapshotLoadsTheSameGallery(t *testing.T) {
	ctx := context.Background()
	p := newSnapPop(t, 60, 1)
	// a non-UUID person id, as tests and other callers use
	if err := p.l.Add(ctx, Fingerprint, "named-person", "named-ref", raw(t, p.fingers[0][1].Template())); err != nil {
		t.Fatal(err)
	}
	if _, err := p.keys.Seal(ctx, "named-person", Fingerprint, "template", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// a person with more references than a person's entry holds inline
	for k := range 4 {
		if err := p.l.Add(ctx, Fingerprint, p.persons[1], fmt.Sprint("more-", k), raw(t, p.fingers[1][k%2].Mate(p.rng))); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "g.snapshot")
	ws, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 42))
	if err != nil {
		t.Fatal(err)
	}
	if ws.Persons != 61 || ws.Templates[Fingerprint] != 125 || ws.Templates[Iris] != 120 || ws.Skipped != 0 {
		t.Fatalf("written %+v", ws)
	}
	file, _ := os.ReadFile(path)
	for _, id := range p.persons[:3] {
		if !bytes.Contains(file, []byte(id)) {
			t.Fatalf("person id %s not in clear (the key lookup)", id)
		}
	}
	if bytes.Contains(file, []byte("named-ref")) {
		t.Fatal("a reference id in clear")
	}
	got, h, ls, err := LoadSnapshot(ctx, path, p.keys, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 42 || ls.Persons != 61 || ls.Skipped != 0 || ls.Templates[Fingerprint] != 125 {
		t.Fatalf("loaded %+v, header %+v", ls, h)
	}
	for _, id := range p.persons[:3] {
		refs := func(l *Local) []string {
			pid, _ := l.names.lookup(id)
			var out []string
			for _, r := range l.refsOf(nil, pid) {
				out = append(out, l.names.text(r))
			}
			slices.Sort(out)
			return out
		}
		if want, have := refs(p.l), refs(got); !slices.Equal(want, have) || len(have) < 4 {
			t.Errorf("%s holds %v after the load, %v before", id, have, want)
		}
	}
	if d := fmt.Sprint(got.Sizes()); d != fmt.Sprint(p.l.Sizes()) {
		t.Fatalf("sizes %s, want %v", d, p.l.Sizes())
	}
	for _, i := range []int{0, 7, 59} {
		for mod, probe := range p.probes(t, i) {
			want, have := search(t, p.l, mod, probe), search(t, got, mod, probe)
			if !slices.Equal(want, have) || !slices.Contains(have, p.persons[i]) {
				t.Errorf("person %d, %s: %v from the snapshot, %v from the gallery", i, mod, have, want)
			}
		}
	}
	// named ids come back as they were
	if c := search(t, got, Fingerprint, raw(t, p.fingers[0][1].Mate(p.rng))); !slices.Contains(c, "named-person") {
		t.Errorf("named person not found: %v", c)
	}
	// the loaded gallery takes changes
	if err := got.Remove(ctx, p.persons[7], ""); err != nil {
		t.Fatal(err)
	}
	if c := search(t, got, Fingerprint, p.probes(t, 7)[Fingerprint]); slices.Contains(c, p.persons[7]) {
		t.Error("a removed person still found")
	}
}

// TestSnapshotBlocks: a snapshot read in blocks of any size (records cut
// by a block's end, records longer than a block) loads the same gallery,
// and cut anywhere it is refused.
func TestSnapshotBlocks(t *testing.T) {
	ctx := context.Background()
	p := newSnapPop(t, 12, 3)
	path := filepath.Join(t.TempDir(), "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 5)); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func(b int) { snapshotBlock = b }(snapshotBlock)
	probe := p.probes(t, 4)
	bothReads(t, func(t *testing.T) {
		for _, size := range []int{1, 1000, 4099, 7777, 30000, len(good) - 1, len(good), 8 << 20} {
			snapshotBlock = size
			got, _, ls, err := LoadSnapshot(ctx, path, p.keys, 0, 1)
			if err != nil {
				t.Fatalf("blocks of %d bytes: %v", size, err)
			}
			if ls.Persons != 12 || ls.Templates[Fingerprint] != 24 || ls.Templates[Iris] != 24 || ls.Bytes != int64(len(good)-13) {
				t.Fatalf("blocks of %d bytes: loaded %+v", size, ls)
			}
			for mod, pr := range probe {
				if c := search(t, got, mod, pr); !slices.Equal(c, []string{p.persons[4]}) {
					t.Fatalf("blocks of %d bytes, %s: found %v", size, mod, c)
				}
			}
		}
		dir := t.TempDir()
		for _, size := range []int{1000, 8 << 20} {
			snapshotBlock = size
			for cut := 0; cut < len(good); cut += 1 + cut%997 {
				q := filepath.Join(dir, "cut.snapshot")
				if err := os.WriteFile(q, good[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				if l, _, _, err := LoadSnapshot(ctx, q, p.keys, 0, 1); !errors.Is(err, ErrSnapshot) || l != nil {
					t.Fatalf("blocks of %d, cut at %d of %d: loaded %v, %v", size, cut, len(good), l != nil, err)
				}
			}
		}
	})
}

// bothReads runs f with the snapshots read direct (O_DIRECT, where the
// test's file system allows it) and through the page cache.
func bothReads(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func(d bool) { snapshotDirect = d }(snapshotDirect)
	for _, direct := range []bool{true, false} {
		snapshotDirect = direct
		t.Run(map[bool]string{true: "direct", false: "page cache"}[direct], f)
	}
}

// TestSnapshotReadDirect: a snapshot's records are read the same past
// the page cache (O_DIRECT), through it, and with the direct reading
// refused in the middle (EINVAL: the rest through the page cache), in
// blocks of any size and whatever the file's length.
func TestSnapshotReadDirect(t *testing.T) {
	ctx := context.Background()
	p := newSnapPop(t, 40, 4)
	path := filepath.Join(t.TempDir(), "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 5)); err != nil {
		t.Fatal(err)
	}
	if f, err := openDirect(path); err != nil {
		t.Skipf("the test's file system refuses O_DIRECT: %v", err)
	} else {
		f.Close()
	}
	defer func(b int) { snapshotBlock = b }(snapshotBlock)
	// read reads the file's records (modality, person, sealed record),
	// the file opened direct or not, its n-th read refused (0: none).
	read := func(t *testing.T, path string, direct bool, refuse int) []string {
		t.Helper()
		var f *os.File
		var err error
		if direct {
			f, err = openDirect(path)
		} else {
			f, err = os.Open(path)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := &refusing{f: f, refuse: refuse}
		sr := &snapshotReader{r: r, f: f, direct: direct, chunked: direct, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli)), free: make(chan snapBatch, 4)}
		if _, _, err := readHeader(sr); err != nil {
			t.Fatal(err)
		}
		var recs []string
		for {
			b := sr.next()
			if b.err != nil {
				t.Fatal(b.err)
			}
			for m := range 2 {
				for i, id := range b.ids[m] {
					recs = append(recs, fmt.Sprint(m, id, b.sealed[m][i]))
				}
			}
			if b.end {
				break
			}
			sr.recycle(b)
		}
		if r.refused && (sr.direct || isDirect(f)) {
			t.Errorf("read %d refused, and the reading is still direct", refuse)
		}
		return recs
	}
	snapshotBlock = 8 << 20
	want := read(t, path, false, 0)
	if len(want) != 80 {
		t.Fatalf("%d records read, want 80", len(want))
	}
	// A file whose length is a multiple of the alignment (its last read
	// whole, the end found before the file's end is): persons with named
	// ids whose lengths pad it.
	pad := func(lens []int) string {
		l := NewLocal()
		for i, n := range lens {
			id := fmt.Sprintf("%03d", i) + strings.Repeat("p", n-3)
			if err := l.Add(ctx, Fingerprint, id, fmt.Sprint(i, "-ref"), raw(t, p.fingers[i][0].Template())); err != nil {
				t.Fatal(err)
			}
			if _, err := p.keys.Seal(ctx, id, Fingerprint, "template", []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		q := filepath.Join(t.TempDir(), "padded.snapshot")
		h := NewSnapshotHeader(0, 1, 5)
		h.Written = time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC) // (its length fixed)
		if _, err := l.WriteSnapshot(ctx, q, p.keys, h); err != nil {
			t.Fatal(err)
		}
		return q
	}
	lens := make([]int, 20)
	for i := range lens {
		lens[i] = 3
	}
	fi, err := os.Stat(pad(lens))
	if err != nil {
		t.Fatal(err)
	}
	for d, i := int(-fi.Size())&(directAlign-1), 0; d > 0; i++ {
		lens[i] += min(d, 250)
		d -= min(d, 250)
	}
	padded := pad(lens)
	if fi, err := os.Stat(padded); err != nil || fi.Size()%directAlign != 0 {
		t.Fatalf("the padded file is not aligned: %v, %v", fi.Size(), err)
	}
	snapshotBlock = 8 << 20
	wantPadded := read(t, padded, false, 0)
	for _, size := range []int{1, 1000, 4096, 4099, 30000, 8 << 20} {
		snapshotBlock = size
		for _, refuse := range []int{0, 1, 2, 3, 7} {
			name := fmt.Sprint("blocks of ", size, ", read ", refuse, " refused")
			if have := read(t, path, true, refuse); !slices.Equal(have, want) {
				t.Fatalf("%s: %d records, want %d (or other)", name, len(have), len(want))
			}
			if have := read(t, padded, true, refuse); !slices.Equal(have, wantPadded) || len(have) != 20 {
				t.Fatalf("%s, aligned file: %d records, want %d (or other)", name, len(have), len(wantPadded))
			}
		}
	}
}

// refusing reads f, its refuse-th read refused, if direct, as a file
// system refusing O_DIRECT would (EINVAL).
type refusing struct {
	f       *os.File
	refuse  int
	reads   int
	refused bool
}

func (r *refusing) Read(p []byte) (int, error) {
	r.reads++
	if r.reads == r.refuse && isDirect(r.f) {
		r.refused = true
		return 0, &os.PathError{Op: "read", Path: r.f.Name(), Err: syscall.EINVAL}
	}
	return r.f.Read(p)
}

// TestSnapshotMisalignedDirectRead: a direct read the kernel refuses (a
// misaligned buffer) is made again through the page cache.
func TestSnapshotMisalignedDirectRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, bytes.Repeat([]byte("0123456789abcdef"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openDirect(path)
	if err != nil {
		t.Skipf("the test's file system refuses O_DIRECT: %v", err)
	}
	defer f.Close()
	sr := &snapshotReader{r: f, f: f, direct: true}
	buf := alignedBytes(2 * directAlign)[1 : 1+directAlign]
	n, err := sr.readFile(buf)
	if err != nil || n != directAlign || string(buf[:16]) != "0123456789abcdef" {
		t.Fatalf("read %d bytes, %v: %q", n, err, buf[:16])
	}
	if sr.direct || isDirect(f) {
		t.Skip("the kernel read a misaligned buffer direct")
	}
}

// TestSnapshotErasedPersonUnreadable: a person whose keys were shredded
// after the write is never loaded (their records do not open), and the
// next write leaves them out.
func TestSnapshotErasedPersonUnreadable(t *testing.T) {
	ctx := context.Background()
	p := newSnapPop(t, 30, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.keys.ShredPerson(ctx, p.persons[4]); err != nil {
		t.Fatal(err)
	}
	if err := p.keys.Shred(ctx, p.persons[5], Iris); err != nil { // iris erased only
		t.Fatal(err)
	}
	got, _, ls, err := LoadSnapshot(ctx, path, p.keys, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Skipped != 3 || ls.Persons != 29 {
		t.Errorf("skipped %d records, %d persons loaded; want 3, 29", ls.Skipped, ls.Persons)
	}
	pr := p.probes(t, 4)
	for mod, probe := range pr {
		if c := search(t, got, mod, probe); slices.Contains(c, p.persons[4]) {
			t.Errorf("erased person found by %s", mod)
		}
	}
	pr = p.probes(t, 5)
	if c := search(t, got, Iris, pr[Iris]); slices.Contains(c, p.persons[5]) {
		t.Error("erased iris found")
	}
	if c := search(t, got, Fingerprint, pr[Fingerprint]); !slices.Contains(c, p.persons[5]) {
		t.Error("the fingerprint of a person whose iris was erased is lost")
	}
	// The gallery still holds person 4 (its remove has not come): the next
	// write leaves them out, and makes no key for them.
	ws, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if ws.Skipped != 3 || ws.Persons != 29 {
		t.Errorf("second write: %+v", ws)
	}
	if _, err := p.keys.Open(ctx, p.persons[4], Fingerprint, "template", []byte("x")); !errors.Is(err, envelope.ErrShredded) && !errors.Is(err, envelope.ErrTampered) {
		t.Errorf("a key was made again for the erased person: %v", err)
	}
	if ms, _ := filepath.Glob(filepath.Join(dir, "*tmp*")); len(ms) != 0 {
		t.Errorf("temporary files left: %v", ms)
	}
}

// TestSnapshotRefused: a file that is missing, truncated, altered, of
// another version or another shard is refused with ErrSnapshot (the
// caller loads from the store).
func TestSnapshotRefused(t *testing.T) {
	ctx := context.Background()
	p := newSnapPop(t, 20, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(1, 3, 9)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	hdrEnd := bytes.IndexByte(good, '}') + 1
	edit := func(f func(b []byte) []byte) string {
		b := f(slices.Clone(good))
		q := filepath.Join(dir, fmt.Sprint("bad-", len(b), "-", rand.Int()))
		if err := os.WriteFile(q, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return q
	}
	cases := map[string]struct {
		path      string
		index, of int
	}{
		"missing":        {filepath.Join(dir, "none"), 1, 3},
		"another shard":  {path, 0, 3},
		"another count":  {path, 1, 4},
		"empty":          {edit(func(b []byte) []byte { return nil }), 1, 3},
		"truncated head": {edit(func(b []byte) []byte { return b[:hdrEnd-3] }), 1, 3},
		"truncated":      {edit(func(b []byte) []byte { return b[:len(b)*2/3] }), 1, 3},
		"no end":         {edit(func(b []byte) []byte { return b[:len(b)-13] }), 1, 3},
		"a byte changed": {edit(func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }), 1, 3},
		"bytes after":    {edit(func(b []byte) []byte { return append(b, 0) }), 1, 3},
		"other version": {edit(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"iris_form":"iris-gallery/2`), []byte(`"iris_form":"iris-gallery/1`), 1)
		}), 1, 3},
		"change point moved": {edit(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"stream_seq":9`), []byte(`"stream_seq":8`), 1)
		}), 1, 3},
		"other format": {edit(func(b []byte) []byte { b[len(snapshotMagic)] = 2; return b }), 1, 3},
	}
	bothReads(t, func(t *testing.T) {
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				l, _, _, err := LoadSnapshot(ctx, tc.path, p.keys, tc.index, tc.of)
				if !errors.Is(err, ErrSnapshot) || l != nil {
					t.Fatalf("loaded: %v, %v", l != nil, err)
				}
			})
		}
		if _, _, _, err := LoadSnapshot(ctx, path, p.keys, 1, 3); err != nil {
			t.Fatalf("the good file: %v", err)
		}
	})
	if !strings.Contains(string(good[:hdrEnd]), `"stream_seq":9`) {
		t.Fatal("the test's edits do not match the header")
	}
}

// TestSnapshotKilledWhileWriting: a process killed (SIGKILL, failpoint
// snapshot-writing) in the middle of a write leaves the former snapshot
// whole and usable; the next write removes what the killed one left.
func TestSnapshotKilledWhileWriting(t *testing.T) {
	if dir := os.Getenv("SNAPSHOT_CHILD_DIR"); dir != "" {
		p := newSnapPop(t, 2*snapshotBatch+10, 5)
		_, err := p.l.WriteSnapshot(context.Background(), filepath.Join(dir, "g.snapshot"), p.keys, NewSnapshotHeader(0, 1, 2))
		t.Fatalf("the write was not killed: %v", err)
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx := context.Background()
	p := newSnapPop(t, 40, 6)
	dir := t.TempDir()
	path := filepath.Join(dir, "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSnapshotKilledWhileWriting$")
	cmd.Env = append(os.Environ(), "SNAPSHOT_CHILD_DIR="+dir, failpoint.Env+"="+failpoint.SnapshotWriting)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "failpoint "+failpoint.SnapshotWriting) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	left, _ := filepath.Glob(path + ".tmp-*")
	if len(left) != 1 {
		t.Fatalf("the killed write left %v", left)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the snapshot changed")
	}
	got, h, _, err := LoadSnapshot(ctx, path, p.keys, 0, 1)
	if err != nil || h.Seq != 1 {
		t.Fatalf("the former snapshot: %v (seq %d)", err, h.Seq)
	}
	if c := search(t, got, Fingerprint, p.probes(t, 3)[Fingerprint]); !slices.Contains(c, p.persons[3]) {
		t.Error("the former snapshot lost a person")
	}
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 3)); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) != 0 {
		t.Errorf("still left: %v", left)
	}
}

// BenchmarkSnapshotLoad: a snapshot of 5,000 persons (two fingers, two
// eyes each; ASSENT_SNAPSHOT_PERSONS to change) loaded, CPU time per
// person (every core) reported. ASSENT_SNAPSHOT_CACHE=DIR keeps the
// snapshot and its keys in DIR (a fixed test master key) for later runs;
// ASSENT_SNAPSHOT_CPUPROFILE=FILE profiles the loads only.
func BenchmarkSnapshotLoad(b *testing.B) {
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("ASSENT_SNAPSHOT_PERSONS")); err == nil {
		n = v
	}
	path, keys := benchSnapshot(b, n)
	ctx := context.Background()
	if f := os.Getenv("ASSENT_SNAPSHOT_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	runtime.GC()
	cpu0 := cpuNow()
	for b.Loop() {
		if _, _, _, err := LoadSnapshot(ctx, path, keys, 0, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/float64(b.N*n), "cpu-us/person")
}

// benchSnapshot writes a snapshot of n persons, or finds the one kept in
// ASSENT_SNAPSHOT_CACHE.
func benchSnapshot(b *testing.B, n int) (string, SnapshotKeys) {
	ctx := context.Background()
	dir := os.Getenv("ASSENT_SNAPSHOT_CACHE")
	if dir == "" {
		p := newSnapPop(&testing.T{}, n, 9)
		path := filepath.Join(b.TempDir(), "g.snapshot")
		if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
			b.Fatal(err)
		}
		return path, p.keys
	}
	m, err := envelope.NewMasterKey(bytes.Repeat([]byte{7}, envelope.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("g-%d.snapshot", n))
	kpath := path + ".keys"
	store := &envelope.MemStore{}
	if kf, err := os.Open(kpath); err == nil {
		var wks []envelope.WrappedKey
		err := gob.NewDecoder(kf).Decode(&wks)
		kf.Close()
		if err != nil {
			b.Fatal(err)
		}
		for _, wk := range wks {
			if err := store.Create(ctx, wk); err != nil {
				b.Fatal(err)
			}
		}
		kr, err := envelope.NewKeyring(ctx, store, m, envelope.Options{CacheSize: 16})
		if err != nil {
			b.Fatal(err)
		}
		return path, kr
	}
	p := newSnapPopIn(&testing.T{}, n, 9, m, store)
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
		b.Fatal(err)
	}
	var wks []envelope.WrappedKey
	if err := store.Rewrap(ctx, func(wk envelope.WrappedKey) (envelope.WrappedKey, error) {
		wks = append(wks, wk)
		return wk, nil
	}); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(wks); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(kpath, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path, p.keys
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestParseBatchRefsInOrder: a batch's references reach their persons in
// the order they came, per modality, whether a person's iris record is
// next in the fingerprint records' order or not (persons with one
// modality only, another order, a person twice in a modality).
func TestParseBatchRefsInOrder(t *testing.T) {
	p := func(i int) string { return uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}).String() }
	r := func(i int) ident { return ident{b: uuid.NewSHA1(uuid.NameSpaceURL, []byte{byte(i)})} }
	plain := func(refs ...int) []byte {
		var b []byte
		for _, i := range refs {
			id := r(i)
			b = append(append(b, 0), id.b[:]...)
			b = append(b, 1, 'f') // a form of one byte (not parsed here)
		}
		return b
	}
	type rec struct {
		person int
		refs   []int
	}
	cases := map[string][2][]rec{
		"same order": {{{1, []int{1, 2}}, {2, []int{3, 4}}}, {{1, []int{5, 6}}, {2, []int{7, 8}}}},
		"one modality only": {{{1, []int{1}}, {2, []int{2}}, {3, []int{3}}},
			{{2, []int{4}}, {4, []int{5}}, {3, []int{6}}}},
		"another order":  {{{1, []int{1}}, {2, []int{2}}}, {{2, []int{3}}, {1, []int{4}}}},
		"a person twice": {{{1, []int{1}}, {1, []int{2}}}, {{1, []int{3}}, {2, []int{4}}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := NewLocal()
			var b snapBatch
			var plains [2][][]byte
			want := map[ident][2][]ident{} // person -> its references per modality, in order
			for m := range 2 {
				for _, rc := range c[m] {
					b.ids[m] = append(b.ids[m], p(rc.person))
					plains[m] = append(plains[m], plain(rc.refs...))
					pid := ident{b: uuid.MustParse(p(rc.person))}
					w := want[pid]
					for _, i := range rc.refs {
						w[m] = append(w[m], r(i))
					}
					want[pid] = w
				}
			}
			var st SnapshotStats
			st.Templates = map[string]int{}
			if _, err := l.parseBatch(b, plains, &st, nil); err != nil {
				t.Fatal(err)
			}
			for pid, w := range want {
				var got [2][]ident
				for _, rid := range l.refsOf(nil, pid) {
					o, _ := l.owner.get(rid)
					m := int(o.modality) - 1
					got[m] = append(got[m], rid)
					if o.person != pid {
						t.Errorf("%v owned by %v, want %v", rid, o.person, pid)
					}
				}
				for m := range 2 {
					if !slices.Equal(got[m], w[m]) {
						t.Errorf("person %v, modality %d: %v, want %v", pid, m, got[m], w[m])
					}
				}
			}
		})
	}
}

// bulkSpy is a keyring that tells whether a load read its keys in one
// pass.
type bulkSpy struct {
	*envelope.Keyring
	read bool
}

func (b *bulkSpy) ReadDataKeys(ctx context.Context, cats []string, persons int) (envelope.OpenFunc, func(), error) {
	open, done, err := b.Keyring.ReadDataKeys(ctx, cats, persons)
	b.read = open != nil
	return open, done, err
}

// TestSnapshotKeysInOnePass: a load whose keys are read in one pass of
// the key store (keys.db) gives what a load reading them a batch at a
// time gives, erased persons skipped alike.
func TestSnapshotKeysInOnePass(t *testing.T) {
	ctx := context.Background()
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	store, err := envelope.OpenSQLiteStore(ctx, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p := newSnapPopIn(t, 40, 3, m, store)
	path := filepath.Join(t.TempDir(), "g.snapshot")
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.keys.ShredPerson(ctx, p.persons[4]); err != nil {
		t.Fatal(err)
	}
	if err := p.keys.Shred(ctx, p.persons[5], Iris); err != nil {
		t.Fatal(err)
	}
	spy := &bulkSpy{Keyring: p.keys}
	bulk, _, bs, err := LoadSnapshot(ctx, path, spy, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !spy.read {
		t.Fatal("the keys were not read in one pass")
	}
	plain, _, ps, err := LoadSnapshot(ctx, path, struct{ SnapshotKeys }{p.keys}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if bs.Skipped != 3 || bs.Persons != 39 || fmt.Sprint(bs.Templates) != fmt.Sprint(ps.Templates) || ps.Skipped != 3 || ps.Persons != 39 {
		t.Errorf("in one pass %+v, a batch at a time %+v; want 3 records skipped, 39 persons", bs, ps)
	}
	if fmt.Sprint(bulk.Sizes()) != fmt.Sprint(plain.Sizes()) {
		t.Errorf("sizes %v in one pass, %v a batch at a time", bulk.Sizes(), plain.Sizes())
	}
	for _, i := range []int{0, 4, 5, 39} {
		for mod, probe := range p.probes(t, i) {
			if want, have := search(t, plain, mod, probe), search(t, bulk, mod, probe); !slices.Equal(want, have) {
				t.Errorf("person %d, %s: %v in one pass, %v a batch at a time", i, mod, have, want)
			}
		}
	}
}

// TestSnapshotLoadRestoresGCPercent: a load lowers the GC percent while
// it runs (loadPacer) and sets the caller's back when it ends, whether
// it ended well or not; a GC turned off stays off.
func TestSnapshotLoadRestoresGCPercent(t *testing.T) {
	p := newSnapPop(t, 30, 5)
	path := filepath.Join(t.TempDir(), "g.snapshot")
	ctx := context.Background()
	if _, err := p.l.WriteSnapshot(ctx, path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer func(h uint64) { loadHeadroom = h }(loadHeadroom)
	loadHeadroom = 1 // (the percent lowered to minLoadGCPercent)
	for _, c := range []struct {
		name    string
		percent int
		of      int
	}{{"loaded", 77, 1}, {"refused", 33, 2}, {"off", -1, 1}} {
		debug.SetGCPercent(c.percent)
		_, _, _, err := LoadSnapshot(ctx, path, p.keys, 0, c.of)
		if (err != nil) != (c.of != 1) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := debug.SetGCPercent(100); got != c.percent {
			t.Errorf("%s: GC percent %d after the load, want %d", c.name, got, c.percent)
		}
	}
}

// BenchmarkSnapshotRead reads a snapshot's records without opening them
// (the reader alone: its reads, checksum and record parsing), direct and
// through the page cache: the file ASSENT_SNAPSHOT_FILE, or one of 2,000
// persons. It reports the reader's CPU (user and system) per MB.
func BenchmarkSnapshotRead(b *testing.B) {
	path := os.Getenv("ASSENT_SNAPSHOT_FILE")
	if path == "" {
		p := newSnapPop(&testing.T{}, 2000, 9)
		path = filepath.Join(b.TempDir(), "g.snapshot")
		if _, err := p.l.WriteSnapshot(context.Background(), path, p.keys, NewSnapshotHeader(0, 1, 1)); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, direct := range []bool{true, false} {
		b.Run(map[bool]string{true: "direct", false: "page-cache"}[direct], func(b *testing.B) {
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.SetBytes(fi.Size())
			for b.Loop() {
				var f *os.File
				if direct {
					f, err = openDirect(path)
				} else {
					f, err = os.Open(path)
				}
				if err != nil {
					b.Skip(err)
				}
				sr := &snapshotReader{r: f, f: f, direct: direct, chunked: direct, crc: crc32.New(crc32.MakeTable(crc32.Castagnoli)), free: make(chan snapBatch, 4)}
				if _, _, err := readHeader(sr); err != nil {
					b.Fatal(err)
				}
				for {
					bt := sr.next()
					if bt.err != nil {
						b.Fatal(bt.err)
					}
					if bt.end {
						break
					}
					sr.recycle(bt)
				}
				f.Close()
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			mb := float64(b.N) * float64(fi.Size()) / 1e6
			b.ReportMetric(float64(ru1.Utime.Nano()-ru0.Utime.Nano())/1e3/mb, "user-us/MB")
			b.ReportMetric(float64(ru1.Stime.Nano()-ru0.Stime.Nano())/1e3/mb, "sys-us/MB")
		})
	}
}
