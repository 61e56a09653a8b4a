package hugepage

import (
	"bufio"
	"os"
	"runtime"
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
// as they are. It returns the low end of the advised range.
func adviseHeap(b []byte) uintptr {
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(len(b))
	if maps, err := readMaps(); err == nil {
		lo, hi = heapRun(maps, lo, hi)
	}
	lo = (lo + Size - 1) &^ (Size - 1)
	hi &^= Size - 1
	if hi <= lo {
		return 0
	}
	// The range is addresses read from the kernel's map of this
	// process, not a Go object: the system call takes them as numbers.
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_HUGEPAGE); e != 0 {
		return 0
	}
	return lo
}

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): the pages of a
// range made resident and writable, as a write to each would, without
// writing them.
const madvPopulateWrite = 23

// schedIdle is the SCHED_IDLE scheduling policy: a thread that runs only
// when a core would otherwise be idle.
const schedIdle = 5

// populate makes [lo, hi) resident in steps of a few huge pages, in
// address order (the order in which the runtime hands out free pages),
// from a thread of its own at SCHED_IDLE, until it reaches hi, the
// process's resident memory reaches limit bytes, or stop is closed.
// Pages already resident are left as they are; a page made resident
// holds zeros, as a fresh one. It gives up where the kernel has no such
// advice or policy.
func populate(lo, hi, limit uintptr, stop <-chan struct{}) {
	runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
	var param [1]int32     // sched_param: priority 0
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedIdle, uintptr(unsafe.Pointer(&param[0]))); e != 0 {
		return
	}
	const step = 2 * Size
	for a := lo; a+step <= hi; a += step {
		select {
		case <-stop:
			return
		default:
		}
		if resident() >= limit {
			return
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, a, step, madvPopulateWrite); e != 0 {
			return
		}
	}
}

// resident is the process's resident memory in bytes, from
// /proc/self/statm (its second field, in pages); the largest value if
// it cannot be read, so that nothing is made resident on a guess.
func resident() uintptr {
	var buf [128]byte
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		return ^uintptr(0)
	}
	n, _ := f.Read(buf[:])
	f.Close()
	fields := strings.Fields(string(buf[:n]))
	if len(fields) < 2 {
		return ^uintptr(0)
	}
	pages, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return ^uintptr(0)
	}
	return uintptr(pages) * uintptr(os.Getpagesize())
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
