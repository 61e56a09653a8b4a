package registry

import (
	"context"
	"errors"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

// ErrBusy means every extraction slot stayed taken for the whole wait: the
// client should retry shortly (HTTP 503 busy, with Retry-After).
var ErrBusy = errors.New("busy: every template extraction slot is taken")

// extractor bounds concurrent template extractions (CPU and memory heavy)
// to a number of slots, by default the number of cores.
type extractor struct {
	slots chan struct{}
	wait  time.Duration // how long a request waits for a slot before ErrBusy
}

func newExtractor(slots int, wait time.Duration) extractor {
	return extractor{slots: make(chan struct{}, max(1, slots)), wait: wait}
}

// acquire takes a slot, waiting at most wait (or until ctx ends when block
// is set: the offline import waits its turn).
func (x extractor) acquire(ctx context.Context, block bool) (release func(), err error) {
	release = func() { <-x.slots }
	select {
	case x.slots <- struct{}{}:
		return release, nil
	default:
	}
	var timeout <-chan time.Time
	if !block {
		t := time.NewTimer(x.wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case x.slots <- struct{}{}:
		return release, nil
	case <-timeout:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// extract turns a capture into a template (or a face photo), in one of the
// extraction slots. Quality failures become quality_too_low: the registrar
// captures again. Callers decide the policy first: nothing is decoded for a
// request the policy refuses.
func (r *Registry) extract(ctx context.Context, cat consent.Category, c Capture, block bool) (template, error) {
	release, err := r.extraction.acquire(ctx, block)
	if err != nil {
		return nil, err
	}
	defer release()
	if cat == consent.Face {
		return extractFace(c.Format, c.Data)
	}
	t, err := r.engines[cat].extract(c.Format, c.Data, c.DPI)
	if errors.Is(err, errQuality) {
		return nil, &InputError{Code: CodeQualityTooLow, Field: "data", Detail: "the capture is too poor to enrol; capture again"}
	}
	return t, err
}
