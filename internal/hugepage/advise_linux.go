package hugepage

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const supported = true

func advise(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

// totalMemory is the machine's memory in bytes (0 if unknown).
func totalMemory() uint64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// adviseHeap advises huge pages over b and over the run of anonymous,
// writable mappings adjacent to it (the Go heap's mapped address space,
// which the runtime maps contiguously), read from /proc/self/maps. Only
// the aligned 2 MiB blocks are advised; pages already resident are left
// as they are.
func adviseHeap(b []byte) {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	if maps, err := readMaps(); err == nil {
		lo, hi = heapRun(maps, lo, hi)
	}
	lo = (lo + Size - 1) &^ (Size - 1)
	hi &^= Size - 1
	if hi <= lo {
		return
	}
	// The range is addresses read from the kernel's map of this
	// process, not a Go object: the system call takes them as numbers.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_HUGEPAGE)
}

// mapping is one line of /proc/self/maps: an address range, whether it
// is private, readable and writable, and whether it maps no file.
type mapping struct {
	lo, hi uintptr
	rwAnon bool
}

func readMaps() ([]mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := parseMapping(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapping reads "lo-hi perms offset dev inode [path]".
func parseMapping(line string) (mapping, bool) {
	f := strings.Fields(line)
	if len(f) < 5 {
		return mapping{}, false
	}
	a, b, ok := strings.Cut(f[0], "-")
	if !ok {
		return mapping{}, false
	}
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil || hi <= lo {
		return mapping{}, false
	}
	return mapping{lo: uintptr(lo), hi: uintptr(hi), rwAnon: strings.HasPrefix(f[1], "rw-p") && len(f) == 5}, true
}

// heapRun widens [lo, hi) to the run of adjacent anonymous writable
// mappings around it; a range not inside one such mapping is returned
// as it is.
func heapRun(maps []mapping, lo, hi uintptr) (uintptr, uintptr) {
	at := -1
	for i, m := range maps {
		if m.rwAnon && m.lo <= lo && lo < m.hi {
			at = i
			break
		}
	}
	if at < 0 {
		return lo, hi
	}
	i, j := at, at
	for i > 0 && maps[i-1].rwAnon && maps[i-1].hi == maps[i].lo {
		i--
	}
	for j+1 < len(maps) && maps[j+1].rwAnon && maps[j+1].lo == maps[j].hi {
		j++
	}
	return maps[i].lo, max(hi, maps[j].hi)
}
