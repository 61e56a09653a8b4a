package benchpop

import (
	"bytes"
	"os"
	"strconv"
)

// rss is this process's resident memory in bytes (Linux: VmRSS of
// /proc/self/status), or 0 where it cannot be read.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return n * 1024 // kB
			}
		}
	}
	return 0
}
