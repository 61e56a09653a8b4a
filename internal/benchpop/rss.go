package benchpop

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// rss is this process's resident memory in bytes (Linux: VmRSS of
// /proc/self/status), or 0 where it cannot be read.
func rss() int64 {
	all, _ := memory()
	return all
}

// memory is this process's resident memory in bytes (VmRSS) and the
// anonymous part of it (RssAnon: the heap, without the mapped files such
// as SQLite's database map), or zeros where /proc/self/status cannot be
// read (Linux only).
func memory() (resident, anon int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	kb := func(v []byte) int64 {
		f := bytes.Fields(v)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		return n * 1024
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			resident = kb(v)
		} else if v, ok := bytes.CutPrefix(line, []byte("RssAnon:")); ok {
			anon = kb(v)
		}
	}
	return resident, anon
}

// peakSampler samples the process's resident memory every 20 ms until
// stop, which returns the peaks seen (resident, and its anonymous part).
func peakSampler() (stop func() (resident, anon int64)) {
	var mu sync.Mutex
	peak, peakAnon := memory()
	sample := func() {
		r, a := memory()
		mu.Lock()
		peak, peakAnon = max(peak, r), max(peakAnon, a)
		mu.Unlock()
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() (int64, int64) {
		close(quit)
		<-done
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak, peakAnon
	}
}
