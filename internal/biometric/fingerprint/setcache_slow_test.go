package fingerprint

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// extracted is one shared FVC set read and extracted once for every slow
// test of the package (the evaluation, the cross-year figures, the pooled
// tail and the index retention all start from the same templates).
type extracted struct {
	imps []Impression
	ts   []*Template // nil where extraction failed (counted in FTE)
	// perImage is the wall-clock extraction time per image, on every core.
	perImage time.Duration
	err      error
}

var (
	setCacheMu sync.Mutex
	setCache   = map[string]*extracted{}
	setOnce    = map[string]*sync.Once{}
)

// extractSet returns the templates of the set dir (under root) at dpi,
// extracting them on every core the first time any test asks.
func extractSet(t *testing.T, root, dir string, dpi int) *extracted {
	t.Helper()
	key := fmt.Sprintf("%s@%d", dir, dpi)
	setCacheMu.Lock()
	once, ok := setOnce[key]
	if !ok {
		once = new(sync.Once)
		setOnce[key] = once
	}
	setCacheMu.Unlock()
	once.Do(func() {
		e := &extracted{}
		e.imps, e.err = ListDataset(filepath.Join(root, dir))
		if e.err == nil {
			e.ts = make([]*Template, len(e.imps))
			start := time.Now()
			parallel(len(e.imps), func(i int) {
				b, err := os.ReadFile(e.imps[i].Path)
				if err != nil {
					return
				}
				if img, err := DecodeImage(b); err == nil {
					e.ts[i], _ = Extract(img, dpi)
				}
			})
			if len(e.imps) > 0 {
				e.perImage = time.Since(start) / time.Duration(len(e.imps))
			}
		}
		setCacheMu.Lock()
		setCache[key] = e
		setCacheMu.Unlock()
	})
	setCacheMu.Lock()
	e := setCache[key]
	setCacheMu.Unlock()
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e
}
