package audit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// leaseTable is one lease shared by several nodes, as a store row would
// be; overlap records whether two checkpoint saves ever overlapped.
type leaseTable struct {
	mu      sync.Mutex
	holder  string
	until   time.Time
	overlap bool
}

type fakeLease struct {
	t    *leaseTable
	name string
}

func (l fakeLease) Acquire(ctx context.Context, ttl time.Duration) (bool, error) {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	now := time.Now()
	if l.t.holder != "" && l.t.holder != l.name && now.Before(l.t.until) {
		return false, nil
	}
	l.t.holder, l.t.until = l.name, now.Add(ttl)
	return true, nil
}

func (l fakeLease) Release(ctx context.Context) error {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	if l.t.holder == l.name {
		l.t.holder = ""
	}
	return nil
}

// TestLeaseOneCutterAtATime: two Logs (two API nodes) over one store, with
// entries appended while both cut checkpoints as fast as they can: every
// size is signed and saved once, in increasing order, and the log verifies
// with every checkpoint; proofs from either Log agree.
func TestLeaseOneCutterAtATime(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{}
	table := &leaseTable{}
	signer := testSigner(t, 1)
	var saving sync.Mutex
	busy := false
	s.saveErr = func(uint64) error {
		// Called under the store's lock: record overlap of two cuts by
		// looking at who holds the lease.
		saving.Lock()
		if busy {
			table.overlap = true
		}
		busy = true
		saving.Unlock()
		time.Sleep(200 * time.Microsecond)
		saving.Lock()
		busy = false
		saving.Unlock()
		return nil
	}
	logs := make([]*Log, 2)
	for i, name := range []string{"node-a", "node-b"} {
		l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: signer, Lease: fakeLease{t: table, name: name}})
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for range 200 {
			s.appendEvents(t, 1)
			time.Sleep(50 * time.Microsecond)
		}
		close(stop)
	})
	for _, l := range logs {
		wg.Go(func() {
			for {
				if _, err := l.Checkpoint(ctx); err != nil {
					t.Error(err)
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	for _, l := range logs {
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sizes := s.checkpointSizes()
	if !slices.IsSorted(sizes) || len(slices.Compact(slices.Clone(sizes))) != len(sizes) {
		t.Fatalf("checkpoint sizes not each cut once in order: %v", sizes)
	}
	if sizes[len(sizes)-1] != 200 {
		t.Fatalf("last checkpoint covers %d entries, want 200", sizes[len(sizes)-1])
	}
	rep, err := Verify(ctx, s.allRows(), s.notes, signer.VerifierKey())
	if err != nil || len(rep.Problems) != 0 || rep.Checkpoints != len(s.notes) || rep.Entries != 200 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	for _, idx := range []uint64{0, 77, 199} {
		pa, err1 := logs[0].InclusionProof(ctx, idx, 200)
		pb, err2 := logs[1].InclusionProof(ctx, idx, 200)
		if err1 != nil || err2 != nil || !slices.EqualFunc(pa, pb, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Errorf("proofs of %d from the two nodes differ: %v %v", idx, err1, err2)
		}
	}
	if table.overlap {
		t.Error("two checkpoints were saved at once")
	}
	t.Logf("%d checkpoints cut by two nodes", len(sizes))
}

// TestLeaseBusy: while another node holds the lease (and does not give it
// up), Checkpoint waits LeaseWait, then fails with ErrLeaseBusy and saves
// nothing; once the lease lapses it cuts.
func TestLeaseBusy(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{}
	s.appendEvents(t, 3)
	table := &leaseTable{holder: "dead-node", until: time.Now().Add(300 * time.Millisecond)}
	l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: testSigner(t, 1), Lease: fakeLease{t: table, name: "me"}, LeaseWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrLeaseBusy) {
		t.Fatalf("checkpoint while the lease is held: %v, want ErrLeaseBusy", err)
	}
	if n := len(s.checkpointSizes()); n != 0 {
		t.Fatalf("%d checkpoints saved without the lease", n)
	}
	time.Sleep(300 * time.Millisecond)
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 3 {
		t.Fatalf("after the lease lapsed: %d %v", cp.Size, err)
	}
	if table.holder != "" {
		t.Errorf("lease still held by %q after the cut", table.holder)
	}
}

// TestLeaseRenewedDuringLongCut: a cut that takes several times the lease's
// TTL (here a slow checkpoint save) keeps the lease the whole time, so
// another node trying all along never gets it; afterwards it is free.
func TestLeaseRenewedDuringLongCut(t *testing.T) {
	ctx := context.Background()
	const ttl = 60 * time.Millisecond
	s := &fakeStore{}
	s.appendEvents(t, 5)
	table := &leaseTable{}
	saving := make(chan struct{})
	s.saveErr = func(uint64) error {
		close(saving)
		time.Sleep(4 * ttl)
		return nil
	}
	l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: testSigner(t, 1), Lease: fakeLease{t: table, name: "me"}, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	stolen := make(chan bool, 1)
	go func() {
		<-saving
		other := fakeLease{t: table, name: "other"}
		got := false
		for deadline := time.Now().Add(3 * ttl); time.Now().Before(deadline); time.Sleep(ttl / 10) {
			if ok, _ := other.Acquire(ctx, ttl); ok {
				got = true
				other.Release(ctx)
				break
			}
		}
		stolen <- got
	}()
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 5 {
		t.Fatalf("long cut: size %d, %v", cp.Size, err)
	}
	if <-stolen {
		t.Fatal("another node took the lease while a cut that outlived its TTL was saving")
	}
	if table.holder != "" {
		t.Errorf("lease still held by %q after the cut", table.holder)
	}
}

// TestLeaseLostSavesNothing: when the lease lapses and another node takes
// it during a cut (the renewal finds another holder), the cut fails with
// ErrLeaseBusy and saves no checkpoint, and the other node's lease is kept.
func TestLeaseLostSavesNothing(t *testing.T) {
	ctx := context.Background()
	const ttl = 60 * time.Millisecond
	s := &fakeStore{}
	s.appendEvents(t, 5)
	table := &leaseTable{}
	calls := 0
	s.leavesErr = func(uint64) error {
		calls++
		if calls == 2 { // the catch-up under the lease
			table.mu.Lock()
			table.holder, table.until = "thief", time.Now().Add(time.Hour)
			table.mu.Unlock()
			time.Sleep(2 * ttl)
		}
		return nil
	}
	l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: testSigner(t, 1), Lease: fakeLease{t: table, name: "me"}, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrLeaseBusy) {
		t.Fatalf("cut after losing the lease: %v, want ErrLeaseBusy", err)
	}
	if n := len(s.checkpointSizes()); n != 0 {
		t.Fatalf("%d checkpoints saved after the lease was lost", n)
	}
	if table.holder != "thief" {
		t.Errorf("the new holder's lease was released: holder %q", table.holder)
	}
}
