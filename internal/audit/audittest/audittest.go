// Package audittest checks that a store's audit adapter satisfies what
// package audit expects of it, and offers an in-memory store for tests of
// code that uses an audit.Log (handlers, the CLI).
//
// A store backend runs Run from its own tests, once per backend (SQLite
// always, PostgreSQL when its URL is set), the same way the store
// conformance suite runs.
package audittest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
)

// Harness is a store under test, seen through the interfaces package audit
// consumes plus the two abilities the tests need to drive it.
type Harness struct {
	Leaves      audit.LeafSource
	Checkpoints audit.CheckpointStore
	// Append stores e as the next entry in a transaction of its own, the
	// way the request path does (idx assigned inside the transaction, the
	// row built with audit.NewRow), commits, and returns the idx.
	Append func(ctx context.Context, e audit.Event) (uint64, error)
	// Rows yields every stored row in idx order, for audit.Verify.
	Rows func(ctx context.Context) iter.Seq2[audit.Row, error]
	// Notes returns every stored checkpoint note.
	Notes func(ctx context.Context) ([][]byte, error)
}

// Run runs the conformance tests. newHarness must return an empty store
// each time it is called; it should register its own cleanup.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, h Harness)
	}{
		{"Empty", testEmpty},
		{"AppendIsContiguous", testAppend},
		{"LeafHashesPage", testPaging},
		{"LatestCheckpoint", testCheckpoints},
		{"LogAndVerify", testLogAndVerify},
		{"ConcurrentAppends", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newHarness(t)) })
	}
}

// Event returns a valid event for tests, distinct for each i.
func Event(i int) audit.Event {
	e := audit.Event{
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		RequestID:  fmt.Sprintf("req-%d", i),
		OperatorID: "operator-1",
		Role:       "registrar",
		Site:       "SITE-1",
		Purpose:    "registration",
		PersonID:   fmt.Sprintf("person-%d", i%5),
		Categories: []string{"identity"},
		Action:     "read",
		Route:      "GET /v1/persons/{id}",
		Outcome:    audit.Allow,
	}
	if i%3 == 2 {
		e.Outcome, e.Reason = audit.Deny, "consent_missing"
	}
	return e
}

// Signer returns a fixed test signer for the origin "assent.test/audit".
func Signer(t testing.TB) *audit.Signer {
	t.Helper()
	s, err := audit.NewSigner("assent.test/audit", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendN(t *testing.T, h Harness, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		idx, err := h.Append(context.Background(), Event(i))
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("append %d got idx %d", i, idx)
		}
	}
}

func collect(t *testing.T, h Harness) []audit.Row {
	t.Helper()
	var rows []audit.Row
	for r, err := range h.Rows(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

func testEmpty(t *testing.T, h Harness) {
	ctx := context.Background()
	hashes, err := h.Leaves.AuditLeafHashes(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 0 {
		t.Errorf("%d leaf hashes in an empty store", len(hashes))
	}
	if _, _, err := h.Checkpoints.LatestCheckpoint(ctx); !errors.Is(err, audit.ErrNoCheckpoint) {
		t.Errorf("LatestCheckpoint on an empty store: err = %v, want audit.ErrNoCheckpoint", err)
	}
	if rows := collect(t, h); len(rows) != 0 {
		t.Errorf("%d rows in an empty store", len(rows))
	}
}

func testAppend(t *testing.T, h Harness) {
	appendN(t, h, 0, 25)
	rows := collect(t, h)
	if len(rows) != 25 {
		t.Fatalf("%d rows, want 25", len(rows))
	}
	for i, r := range rows {
		e, err := audit.DecodeEvent(r.Data)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if r.Index != uint64(i) || e.Index != uint64(i) {
			t.Errorf("row %d has idx %d and event index %d", i, r.Index, e.Index)
		}
		if !bytes.Equal(r.LeafHash, audit.LeafHash(r.Data)) {
			t.Errorf("row %d: stored leaf hash is not LeafHash(data)", i)
		}
		want := Event(i)
		want.Index = uint64(i)
		if e.RequestID != want.RequestID || e.Outcome != want.Outcome || e.PersonID != want.PersonID {
			t.Errorf("row %d holds %+v, want %+v", i, e, want)
		}
	}
}

func testPaging(t *testing.T, h Harness) {
	ctx := context.Background()
	appendN(t, h, 0, 20)
	rows := collect(t, h)
	for _, tc := range []struct {
		from  uint64
		limit int
		want  int
	}{{0, 100, 20}, {0, 7, 7}, {10, 7, 7}, {15, 7, 5}, {20, 7, 0}, {99, 7, 0}} {
		hashes, err := h.Leaves.AuditLeafHashes(ctx, tc.from, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(hashes) != tc.want {
			t.Errorf("from %d limit %d: %d hashes, want %d", tc.from, tc.limit, len(hashes), tc.want)
			continue
		}
		for i, got := range hashes {
			if want := rows[int(tc.from)+i].LeafHash; !bytes.Equal(got, want) {
				t.Errorf("from %d: hash %d is not row %d's", tc.from, i, int(tc.from)+i)
			}
		}
	}
}

func testCheckpoints(t *testing.T, h Harness) {
	ctx := context.Background()
	s := Signer(t)
	for _, size := range []uint64{0, 3, 9} {
		n, err := s.SignCheckpoint(size, audit.LeafHash(fmt.Appendf(nil, "%d", size)))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoints.SaveCheckpoint(ctx, size, n); err != nil {
			t.Fatal(err)
		}
		gotSize, gotNote, err := h.Checkpoints.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if gotSize != size || !bytes.Equal(gotNote, n) {
			t.Errorf("latest after saving %d: size %d, same note %v", size, gotSize, bytes.Equal(gotNote, n))
		}
	}
	notes, err := h.Notes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 3 {
		t.Errorf("%d notes kept, want 3", len(notes))
	}
}

func testLogAndVerify(t *testing.T, h Harness) {
	ctx := context.Background()
	l, err := audit.NewLog(audit.Config{Leaves: h.Leaves, Checkpoints: h.Checkpoints, Signer: Signer(t), BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	for _, n := range []int{0, 5, 6, 1} {
		appendN(t, h, next, n)
		next += n
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != uint64(next) {
			t.Errorf("checkpoint covers %d, want %d", cp.Size, next)
		}
	}
	notes, err := h.Notes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, h.Rows(ctx), notes, l.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 12 || rep.Checkpoints != 4 || rep.LatestCheckpoint != 12 {
		t.Errorf("report %+v", rep)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const workers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	var mu sync.Mutex
	var idxs []uint64
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				idx, err := h.Append(context.Background(), Event(w*each+i))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				idxs = append(idxs, idx)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(idxs)
	for i, idx := range idxs {
		if idx != uint64(i) {
			t.Fatalf("indexes are not 0..%d: %v", workers*each-1, idxs)
		}
	}
	if _, err := audit.Verify(context.Background(), h.Rows(context.Background()), nil, Signer(t).VerifierKey()); err != nil {
		t.Errorf("Verify after concurrent appends: %v", err)
	}
}
