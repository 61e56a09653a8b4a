package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"
)

const testOrigin = "assent.test/audit"

// testSigner returns a deterministic Signer; seeds give different keys.
func testSigner(t testing.TB, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(testOrigin, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeStore is an in-memory audit_events and audit_checkpoints table. The
// func fields, when set, inject failures.
type fakeStore struct {
	mu          sync.Mutex
	rows        []Row
	notes       [][]byte
	sizes       []uint64
	leafCalls   []uint64 // from values AuditLeafHashes was called with
	leavesErr   func(from uint64) error
	saveErr     func(size uint64) error
	stalledRows int // when > 0, only this many rows are visible to AuditLeafHashes
}

// appendEvents adds n events the way the store would: idx = count, data =
// the encoded event carrying its own index, leaf_hash = LeafHash(data).
func (s *fakeStore) appendEvents(t fataler, n int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		idx := uint64(len(s.rows))
		e := testEvent(idx)
		e.Index = 999 // NewRow sets it
		r, err := NewRow(idx, e)
		if err != nil {
			t.Fatal(err)
		}
		s.rows = append(s.rows, r)
	}
}

func testEvent(idx uint64) Event {
	e := Event{
		Index:      idx,
		Time:       time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC).Add(time.Duration(idx) * time.Second),
		RequestID:  fmt.Sprintf("req-%d", idx),
		OperatorID: "op-1",
		Role:       "registrar",
		Site:       "S1",
		Purpose:    "registration",
		PersonID:   fmt.Sprintf("person-%d", idx%3),
		Categories: []string{"identity"},
		Action:     "read",
		Route:      "GET /v1/persons/{id}",
		Outcome:    Allow,
	}
	if idx%4 == 3 {
		e.Outcome, e.Reason = Deny, "consent_missing"
	}
	return e
}

func (s *fakeStore) AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leafCalls = append(s.leafCalls, from)
	if s.leavesErr != nil {
		if err := s.leavesErr(from); err != nil {
			return nil, err
		}
	}
	visible := s.rows
	if s.stalledRows > 0 {
		visible = visible[:s.stalledRows]
	}
	var out [][]byte
	for _, r := range visible {
		if r.Index >= from && len(out) < limit {
			out = append(out, bytes.Clone(r.LeafHash))
		}
	}
	return out, nil
}

func (s *fakeStore) SaveCheckpoint(ctx context.Context, size uint64, note []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		if err := s.saveErr(size); err != nil {
			return err
		}
	}
	s.notes = append(s.notes, bytes.Clone(note))
	s.sizes = append(s.sizes, size)
	return nil
}

func (s *fakeStore) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) == 0 {
		return 0, nil, fmt.Errorf("fake: %w", ErrNoCheckpoint)
	}
	return s.sizes[len(s.sizes)-1], s.notes[len(s.notes)-1], nil
}

// checkpointSizes returns the sizes saved so far.
func (s *fakeStore) checkpointSizes() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sizes)
}

// allRows yields the rows ordered by idx (stable, as ORDER BY idx would).
func (s *fakeStore) allRows() iter.Seq2[Row, error] {
	s.mu.Lock()
	rows := slices.Clone(s.rows)
	s.mu.Unlock()
	slices.SortStableFunc(rows, func(a, b Row) int {
		switch {
		case a.Index < b.Index:
			return -1
		case a.Index > b.Index:
			return 1
		}
		return 0
	})
	return func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func newTestLog(t testing.TB, s *fakeStore, signer *Signer, batch int) *Log {
	t.Helper()
	l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: signer, BatchSize: batch, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
