package dedup

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
)

// loadHeadroom is the heap a load lets its garbage take beyond the live
// heap before a collection (see loadPacer): ASSENT_LOAD_HEADROOM in MiB
// (read once, at start), 512 unless set; 0 turns the pacing off
// (docs/deploy.md). A variable for the tests.
var loadHeadroom uint64 = 512 << 20

func init() {
	if v, err := strconv.Atoi(os.Getenv("ASSENT_LOAD_HEADROOM")); err == nil && v >= 0 {
		loadHeadroom = uint64(v) << 20
	}
}

// minLoadGCPercent bounds the GC percent a load sets from below.
const minLoadGCPercent = 5

// gcPace is the process's loads in progress and the GC percent they
// found (restored when the last one ends).
var gcPace struct {
	sync.Mutex
	loads int
	old   int
}

// loadPacer keeps a load's garbage to about loadHeadroom beyond the live
// heap, where the collector would let it reach the live heap again
// (GOGC=100) or the memory limit: a load's live heap grows to the whole
// gallery while it makes garbage (an AES-GCM state of 1.25 KB a key
// opened, about 2.5 GB at a million people), and every page the heap
// grows by is a fresh page the kernel must provide (docs/galleries.md,
// "Twelfth round"). Each time pace is called (a batch) it sets the GC
// percent to loadHeadroom over the live heap, never above the percent
// the first load found (GOGC; off stays off), and done sets that
// percent again when the last load in progress ends. Its methods are
// called from one goroutine. With loadHeadroom 0 it does nothing.
type loadPacer struct {
	sample []metrics.Sample
	off    bool
}

func newLoadPacer() *loadPacer {
	p := &loadPacer{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}, off: loadHeadroom == 0}
	if p.off {
		return p
	}
	gcPace.Lock()
	defer gcPace.Unlock()
	if gcPace.loads == 0 {
		metrics.Read(p.sample)
		gcPace.old = -1 // (off, or unknown: left alone)
		if v := p.sample[1].Value; v.Kind() == metrics.KindUint64 && v.Uint64() <= 1<<20 {
			gcPace.old = int(v.Uint64())
		}
	}
	gcPace.loads++
	return p
}

// pace sets the GC percent for the live heap now.
func (p *loadPacer) pace() {
	if p.off {
		return
	}
	metrics.Read(p.sample[:1])
	live := p.sample[0].Value.Uint64()
	pct := 100 * loadHeadroom / max(live, 1)
	gcPace.Lock()
	defer gcPace.Unlock()
	if gcPace.old <= 0 {
		return
	}
	debug.SetGCPercent(int(max(minLoadGCPercent, min(pct, uint64(gcPace.old)))))
}

// done ends the load: the former percent back if it was the last.
func (p *loadPacer) done() {
	if p.off {
		return
	}
	gcPace.Lock()
	defer gcPace.Unlock()
	if gcPace.loads--; gcPace.loads == 0 && gcPace.old > 0 {
		debug.SetGCPercent(gcPace.old)
	}
}
