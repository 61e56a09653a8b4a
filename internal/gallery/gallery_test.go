package gallery

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanFindsEveryEntryAboveThreshold(t *testing.T) {
	scores := make([]float64, 10_000)
	for i := range scores {
		scores[i] = float64((i * 7919) % 1000)
	}
	scorer := func(lo, hi int, emit func(int, float64)) {
		for i := lo; i < hi; i++ {
			if scores[i] >= 995 {
				emit(i, scores[i])
			}
		}
	}
	var want []Candidate
	for s := 999; s >= 995; s-- {
		for i, v := range scores {
			if v == float64(s) {
				want = append(want, Candidate{Index: i, Score: v})
			}
		}
	}
	for _, opt := range []Options{{}, {Workers: 1}, {Workers: 3, ChunkSize: 7}} {
		got, err := Scan(context.Background(), len(scores), scorer, opt)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("options %+v: candidates differ (-want +got):\n%s", opt, d)
		}
	}
	got, err := Scan(context.Background(), len(scores), scorer, Options{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[:3], got); d != "" {
		t.Errorf("limit 3 (-want +got):\n%s", d)
	}
}

func TestScanStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Scan(ctx, 100, func(lo, hi int, emit func(int, float64)) {}, Options{})
	if err == nil {
		t.Fatal("want an error from a cancelled scan")
	}
}
