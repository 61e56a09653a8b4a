package envelope

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// TestCutOwners: the cuts are in increasing order inside [lo, hi], and
// cut UUIDs into ranges of a few hundredths of the owners each.
func TestCutOwners(t *testing.T) {
	var owners []string
	for range 20000 {
		owners = append(owners, uuid.NewString())
	}
	slices.Sort(owners)
	lo, hi := owners[0], owners[len(owners)-1]
	cuts := cutOwners(lo, hi, scanChunks)
	if len(cuts) < 16 {
		t.Fatalf("%d cuts of UUIDs", len(cuts))
	}
	largest, prev := 0, 0
	for i, c := range cuts {
		if c <= lo || c > hi || i > 0 && c <= cuts[i-1] {
			t.Fatalf("cut %d %q: out of order or outside [%q, %q]", i, c, lo, hi)
		}
		at, _ := slices.BinarySearch(owners, c)
		largest, prev = max(largest, at-prev), at
	}
	largest = max(largest, len(owners)-prev)
	if largest > len(owners)/12 {
		t.Errorf("the largest range holds %d of %d owners", largest, len(owners))
	}
	for _, c := range []struct{ lo, hi string }{{"a", "a"}, {"b", "a"}, {"", ""}, {"p1", "p1\x00"}} {
		if got := cutOwners(c.lo, c.hi, 8); len(got) != 0 {
			t.Errorf("cutOwners(%q, %q) = %q, want none", c.lo, c.hi, got)
		}
	}
	got := cutOwners("person-000", "person-299", 4)
	if len(got) != 3 || !strings.HasPrefix(got[0], "person-") {
		t.Errorf("cuts of person-000 to person-299: %q", got)
	}
}

// TestScanNamedParts: the parts of a SQLite scan read exactly the keys of
// the one-pass scan, each owner's keys in one run of one part, and the
// work is shared; an error of fn stops every part and is returned.
func TestScanNamedParts(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, t.TempDir()+"/keys.db")
	var wks []WrappedKey
	for i := range 3000 {
		o := uuid.NewString()
		if i%10 == 0 {
			o = fmt.Sprintf("short-%d", i) // owners unlike the others
		}
		for _, n := range []string{"data:fingerprint", "data:iris", "data:identity"} {
			w := wk(o, n, uint32(1+i%3), fmt.Sprint(o, n))
			if i%17 == 0 {
				w.MasterID = "another"
			}
			wks = append(wks, w)
		}
	}
	if err := s.Import(ctx, wks); err != nil {
		t.Fatal(err)
	}
	names := []string{"data:fingerprint", "data:iris"}
	type key struct {
		owner   string
		name    int
		version uint32
		master  bool
		wrapped string
	}
	var want []key
	err := s.ScanNamed(ctx, names, "0123456789abcdef", func(owner string, name int, version uint32, master bool, wrapped []byte) error {
		want = append(want, key{owner, name, version, master, string(wrapped)})
		return nil
	})
	if err != nil || len(want) != 6000 {
		t.Fatalf("ScanNamed: %d keys, %v", len(want), err)
	}
	for _, parts := range []int{1, 2, 3} {
		var mu sync.Mutex
		var got []key
		runs := make(map[string]int) // owner: its part
		last := make([]string, parts)
		perPart := make([]int, parts)
		err := s.ScanNamedParts(ctx, names, "0123456789abcdef", parts, func(part int, owner string, name int, version uint32, master bool, wrapped []byte) error {
			mu.Lock()
			defer mu.Unlock()
			if part < 0 || part >= parts {
				return fmt.Errorf("part %d of %d", part, parts)
			}
			if p, seen := runs[owner]; seen && (p != part || last[part] != owner) {
				return fmt.Errorf("owner %s's keys apart (parts %d and %d)", owner, p, part)
			}
			runs[owner], last[part] = part, owner
			perPart[part]++
			got = append(got, key{owner, name, version, master, string(wrapped)})
			return nil
		})
		if err != nil {
			t.Fatalf("%d parts: %v", parts, err)
		}
		cmpKey := func(a, b key) int {
			if c := strings.Compare(a.owner, b.owner); c != 0 {
				return c
			}
			return a.name - b.name
		}
		slices.SortFunc(got, cmpKey)
		if !slices.Equal(got, want) {
			t.Errorf("%d parts: %d keys read, not those of ScanNamed (%d)", parts, len(got), len(want))
		}
		busy := 0 // parts that read a tenth of the keys or more
		for _, n := range perPart {
			if n >= len(want)/10 {
				busy++
			}
		}
		if busy < min(parts, 2) {
			t.Errorf("%d parts: keys read a part %d, of %d", parts, perPart, len(want))
		}
	}
	stop := errors.New("stop")
	calls := 0
	var mu sync.Mutex
	err = s.ScanNamedParts(ctx, names, "0123456789abcdef", 2, func(part int, owner string, name int, version uint32, master bool, wrapped []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls > 3000 {
		t.Errorf("fn's error: %v after %d calls", err, calls)
	}
	if err := s.ScanNamedParts(ctx, nil, "x", 2, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("no names: %v", err)
	}
	empty := newSQLiteStore(t, t.TempDir()+"/keys.db")
	if err := empty.ScanNamedParts(ctx, names, "x", 2, func(int, string, int, uint32, bool, []byte) error { return errors.New("a key") }); err != nil {
		t.Errorf("an empty store: %v", err)
	}
}

// BenchmarkReadDataKeys measures ReadDataKeys alone (the scan of a
// shard's start, before any value is opened) over a keys.db of 200,000
// persons with three keys each, two of them wanted: ns/person is the
// wall time, cpu-ns/person the process's CPU (every core). With -cpu 1
// the scan is one pass; with more, ScanNamedParts reads it in parts.
func BenchmarkReadDataKeys(b *testing.B) {
	ctx := context.Background()
	store, _, m, _ := benchKeysDB(b)
	const persons = 200000
	var wks []WrappedKey
	wrapped := make([]byte, wrappedDataKeySize)
	wrapped[0] = wrapFormatV1
	for range persons {
		o := uuid.NewString()
		for _, cat := range []string{"fingerprint", "identity", "iris"} {
			wks = append(wks, WrappedKey{Ref: Ref{Owner: o, Name: dataKeyPrefix + cat}, Version: 1, MasterID: m.ID(), Wrapped: wrapped})
		}
	}
	if err := store.Import(ctx, wks); err != nil {
		b.Fatal(err)
	}
	wks = nil
	k := newKeyring(b, store, m, Options{})
	var cpu int64
	n := 0
	for b.Loop() {
		cpu0 := cpuNanos()
		open, done, err := k.ReadDataKeys(ctx, []string{"fingerprint", "iris"}, persons)
		if err != nil || open == nil {
			b.Fatal(open != nil, err)
		}
		done()
		cpu += cpuNanos() - cpu0
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*persons), "ns/person")
	b.ReportMetric(float64(cpu)/float64(n*persons), "cpu-ns/person")
}
