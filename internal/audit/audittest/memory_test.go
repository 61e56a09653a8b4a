package audittest

import (
	"context"
	"errors"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
)

func TestMemoryConforms(t *testing.T) {
	Run(t, func(t *testing.T) Harness { return NewMemory().Harness() })
}

func TestMemoryTamperIsFound(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for i := range 8 {
		if _, err := m.Append(ctx, Event(i)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := audit.NewLog(audit.Config{Leaves: m, Checkpoints: m, Signer: Signer(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	m.Tamper(5, func(r *audit.Row) { r.Data[len(r.Data)-3] ^= 1 })
	notes, _ := m.Notes(ctx)
	_, err = audit.Verify(ctx, m.Rows(ctx), notes, l.VerifierKey())
	var te *audit.TamperError
	if !errors.As(err, &te) || te.Index != 5 {
		t.Errorf("err = %v, want entry 5", err)
	}
}
