package postgres

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLockDedup: a second holder of a modality's turn, on another DB as
// another node would be, waits until the first unlocks (here: gives up at
// its deadline); another modality does not wait; with NoWriteLock nothing
// is held.
func TestLockDedup(t *testing.T) {
	a, b := openTest(t, Options{}), openTest(t, Options{})
	ctx := context.Background()
	unlock, err := a.LockDedup(ctx, "fingerprint")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.LockDedup(short, "fingerprint"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while the first is held: %v, want it to wait until its deadline", err)
	}
	other, err := b.LockDedup(ctx, "iris")
	if err != nil {
		t.Fatalf("another modality: %v", err)
	}
	other()
	unlock()
	wait, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	again, err := b.LockDedup(wait, "fingerprint")
	if err != nil {
		t.Fatalf("after the unlock: %v", err)
	}
	again()
	c := openTest(t, Options{NoWriteLock: true})
	u1, err := c.LockDedup(ctx, "fingerprint")
	if err != nil {
		t.Fatal(err)
	}
	u2, err := c.LockDedup(ctx, "fingerprint")
	if err != nil {
		t.Fatalf("NoWriteLock: %v", err)
	}
	u1()
	u2()
}
