package audittest

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/assent-registry/assent/internal/audit"
)

// Memory is an in-memory audit store: audit_events and audit_checkpoints
// in slices. It implements audit.LeafSource and audit.CheckpointStore and
// is safe for concurrent use. It is for tests only.
type Memory struct {
	mu    sync.Mutex
	rows  []audit.Row
	sizes []uint64
	notes [][]byte
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{} }

// Append stores e as the next entry and returns its idx.
func (m *Memory) Append(ctx context.Context, e audit.Event) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := audit.NewRow(uint64(len(m.rows)), e)
	if err != nil {
		return 0, err
	}
	m.rows = append(m.rows, r)
	return r.Index, nil
}

// AuditLeafHashes implements audit.LeafSource.
func (m *Memory) AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for i := from; i < uint64(len(m.rows)) && len(out) < limit; i++ {
		out = append(out, bytes.Clone(m.rows[i].LeafHash))
	}
	return out, nil
}

// SaveCheckpoint implements audit.CheckpointStore.
func (m *Memory) SaveCheckpoint(ctx context.Context, size uint64, note []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sizes = append(m.sizes, size)
	m.notes = append(m.notes, bytes.Clone(note))
	return nil
}

// LatestCheckpoint implements audit.CheckpointStore.
func (m *Memory) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.notes) == 0 {
		return 0, nil, fmt.Errorf("audittest: %w", audit.ErrNoCheckpoint)
	}
	return m.sizes[len(m.sizes)-1], bytes.Clone(m.notes[len(m.notes)-1]), nil
}

// Rows yields a snapshot of the rows in idx order.
func (m *Memory) Rows(ctx context.Context) iter.Seq2[audit.Row, error] {
	m.mu.Lock()
	rows := slices.Clone(m.rows)
	m.mu.Unlock()
	return func(yield func(audit.Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Notes returns the saved checkpoint notes, oldest first.
func (m *Memory) Notes(ctx context.Context) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(m.notes))
	for i, n := range m.notes {
		out[i] = bytes.Clone(n)
	}
	return out, nil
}

// Tamper lets a test change stored row idx in place, as an attacker with
// write access to the database could.
func (m *Memory) Tamper(idx int, change func(r *audit.Row)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	change(&m.rows[idx])
}

// Harness returns m as a conformance Harness.
func (m *Memory) Harness() Harness {
	return Harness{Leaves: m, Checkpoints: m, Append: m.Append, Rows: m.Rows, Notes: m.Notes}
}
