package hugepage

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// anonHuge reads the bytes of this process's memory in transparent huge
// pages.
func anonHuge(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no /proc/self/smaps_rollup: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "AnonHugePages:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("smaps_rollup: %q: %v", sc.Text(), err)
			}
			return kb << 10
		}
	}
	t.Skip("smaps_rollup has no AnonHugePages")
	return 0
}

// thpFallbacks reads how many huge pages the kernel failed to give at a
// page fault, on the whole machine (/proc/vmstat thp_fault_fallback).
func thpFallbacks(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		t.Skipf("no /proc/vmstat: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "thp_fault_fallback "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/proc/vmstat: %q: %v", l, err)
			}
			return n
		}
	}
	t.Skip("/proc/vmstat has no thp_fault_fallback")
	return 0
}

// thpAdvised skips unless the kernel gives huge pages to advised memory.
func thpAdvised(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !(strings.Contains(string(b), "[madvise]") || strings.Contains(string(b), "[always]")) {
		t.Skipf("transparent huge pages not given on advice here (%q, %v)", b, err)
	}
}

// TestPrepareGivesALoadHugePages: after Prepare, the arrays a load then
// makes (16 of 3 MiB; nothing here calls Advise, which could reach at
// most one aligned 2 MiB block of each) are first touched in huge pages
// (48 of 48 MiB on a quiet machine, 0 without Prepare),
// and hold what was written.
func TestPrepareGivesALoadHugePages(t *testing.T) {
	thpAdvised(t)
	defer func(e bool) { enabled = e }(enabled)
	enabled = true
	defer Prepare(256 << 20)()
	before, fellBefore := anonHuge(t), thpFallbacks(t)
	var arrays [][]byte
	for i := range 16 {
		b := make([]byte, 3<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i + j>>12)
		}
		arrays = append(arrays, b)
	}
	got, fell := anonHuge(t)-before, thpFallbacks(t)-fellBefore
	for i, b := range arrays {
		for j := 0; j < len(b); j += 4096 {
			if b[j] != byte(i+j>>12) {
				t.Fatalf("array %d byte %d: %d", i, j, b[j])
			}
		}
	}
	// 48 MiB written; at least a third of it should be in huge pages
	// (an array's ends may share a huge page with memory touched before,
	// and under -race beside other test processes CI saw 26 MiB). A huge page the kernel tried to give and had no free 2 MiB
	// block for (a busy machine: thp_fault_fallback, counted for the whole
	// machine) counts as given: it shows the advice was there. Without
	// Prepare nothing here is advised, and none is tried.
	if got+fell*Size < 16<<20 {
		t.Errorf("after Prepare, %d MiB of 48 MiB written are in huge pages, %d huge pages fell back to small ones; want at least 16 MiB in all", got>>20, fell)
	}
	t.Logf("%d MiB of 48 in huge pages, %d fell back", got>>20, fell)
}

// TestHeapRun: the heap's run of mappings is read from lines of
// /proc/self/maps.
func TestHeapRun(t *testing.T) {
	maps := []mapping{}
	for _, l := range []string{
		"00400000-00500000 r-xp 00000000 fe:00 123 /usr/bin/assent",
		"c000000000-c004000000 rw-p 00000000 00:00 0 ",
		"c004000000-c008000000 rw-p 00000000 00:00 0",
		"c008000000-c00c000000 ---p 00000000 00:00 0",
		"7f0000000000-7f0000100000 rw-p 00000000 00:00 0",
		"7f0000100000-7f0000200000 rw-p 00000000 fe:00 9 /var/db/keys.db-shm",
		"not a mapping",
	} {
		if m, ok := parseMapping(l); ok {
			maps = append(maps, m)
		}
	}
	if len(maps) != 6 {
		t.Fatalf("parsed %d mappings, want 6", len(maps))
	}
	if maps[0].rwAnon || !maps[1].rwAnon || !maps[2].rwAnon || maps[3].rwAnon || maps[5].rwAnon {
		t.Fatalf("rw anonymous flags wrong: %+v", maps)
	}
	for _, c := range []struct{ lo, hi, wantLo, wantHi uintptr }{
		{0xc005000000, 0xc006000000, 0xc000000000, 0xc008000000},         // inside the second of two adjacent heap mappings
		{0xc000001000, 0xc000002000, 0xc000000000, 0xc008000000},         // inside the first
		{0x7f0000000000, 0x7f0000001000, 0x7f0000000000, 0x7f0000100000}, // its file-backed neighbour not joined
		{0x00401000, 0x00402000, 0x00401000, 0x00402000},                 // not anonymous: as it is
		{0x10000000, 0x10001000, 0x10000000, 0x10001000},                 // not mapped: as it is
	} {
		lo, hi := heapRun(maps, c.lo, c.hi)
		if lo != c.wantLo || hi != c.wantHi {
			t.Errorf("heapRun(%#x, %#x) = %#x, %#x; want %#x, %#x", c.lo, c.hi, lo, hi, c.wantLo, c.wantHi)
		}
	}
}
