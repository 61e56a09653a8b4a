package audit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/assent-registry/assent/auditproof"
)

func TestLogCheckpointLifecycle(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{}
	signer := testSigner(t, 1)
	l := newTestLog(t, s, signer, 0)

	if _, err := l.Latest(ctx); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("Latest on a new log: err = %v, want ErrNoCheckpoint", err)
	}
	steps := []struct {
		name      string
		add       int
		wantSize  uint64
		wantSaved []uint64
	}{
		{"empty log gets a checkpoint", 0, 0, []uint64{0}},
		{"no growth, no new checkpoint", 0, 0, []uint64{0}},
		{"growth", 5, 5, []uint64{0, 5}},
		{"more growth, not a power of two", 6, 11, []uint64{0, 5, 11}},
		{"unchanged again", 0, 11, []uint64{0, 5, 11}},
	}
	for _, st := range steps {
		s.appendEvents(t, st.add)
		got, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got.Size != st.wantSize {
			t.Errorf("%s: size %d, want %d", st.name, got.Size, st.wantSize)
		}
		if d := cmp.Diff(st.wantSaved, s.checkpointSizes()); d != "" {
			t.Errorf("%s: saved sizes (-want +got):\n%s", st.name, d)
		}
		opened, err := auditproof.OpenCheckpoint(got.Note, l.VerifierKey())
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if d := cmp.Diff(got.Checkpoint, opened); d != "" {
			t.Errorf("%s: returned checkpoint differs from its note (-ret +note):\n%s", st.name, d)
		}
		latest, err := l.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(got, latest); d != "" {
			t.Errorf("%s: Latest (-checkpoint +latest):\n%s", st.name, d)
		}
	}
}

func TestLogSyncInBatches(t *testing.T) {
	s := &fakeStore{}
	s.appendEvents(t, 10)
	l := newTestLog(t, s, testSigner(t, 1), 3)
	size, err := l.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if size != 10 || l.Size() != 10 {
		t.Errorf("size %d, Size() %d, want 10", size, l.Size())
	}
	if d := cmp.Diff([]uint64{0, 3, 6, 9}, s.leafCalls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestLogProofsVerifyPublicly(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{}
	s.appendEvents(t, 13)
	l := newTestLog(t, s, testSigner(t, 1), 4)
	first, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.appendEvents(t, 9)
	// Proofs for sizes beyond what the Log has seen sync first.
	incl, err := l.InclusionProof(ctx, 20, 22)
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := auditproof.VerifyInclusion(second.Checkpoint, 20, s.rows[20].Data, incl); err != nil {
		t.Errorf("inclusion of 20 in 22: %v", err)
	}
	for i := range uint64(13) {
		p, err := l.InclusionProof(ctx, i, first.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := auditproof.VerifyInclusion(first.Checkpoint, i, s.rows[i].Data, p); err != nil {
			t.Errorf("inclusion of %d in %d: %v", i, first.Size, err)
		}
	}
	cons, err := l.ConsistencyProof(ctx, first.Size, second.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := auditproof.VerifyConsistency(first.Checkpoint, second.Checkpoint, cons); err != nil {
		t.Errorf("consistency: %v", err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"inclusion beyond the log", func() error { _, err := l.InclusionProof(ctx, 3, 23); return err }},
		{"inclusion index at size", func() error { _, err := l.InclusionProof(ctx, 22, 22); return err }},
		{"consistency backwards", func() error { _, err := l.ConsistencyProof(ctx, 5, 4); return err }},
		{"consistency beyond the log", func() error { _, err := l.ConsistencyProof(ctx, 5, 30); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("err = %v, want ErrOutOfRange", err)
			}
		})
	}
}

func TestLogRefusesToSignOverTampering(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(s *fakeStore)
	}{
		{"leaf hash rewritten", func(s *fakeStore) { s.rows[2].LeafHash = LeafHash([]byte("forged")) }},
		{"rows removed from the end", func(s *fakeStore) { s.rows = s.rows[:3] }},
		{"latest checkpoint signed by another key", func(s *fakeStore) {
			other, err := testSigner(t, 9).SignCheckpoint(6, LeafHash(nil))
			if err != nil {
				t.Fatal(err)
			}
			s.notes[len(s.notes)-1] = other
		}},
		{"latest checkpoint size column disagrees with its note", func(s *fakeStore) { s.sizes[len(s.sizes)-1] = 5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeStore{}
			s.appendEvents(t, 6)
			if _, err := newTestLog(t, s, testSigner(t, 1), 0).Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			tc.tamper(s)
			s.appendEvents(t, 2)
			// A restarted server rebuilds its tree from the store.
			before := len(s.checkpointSizes())
			_, err := newTestLog(t, s, testSigner(t, 1), 0).Checkpoint(ctx)
			if !errors.Is(err, ErrInconsistent) {
				t.Errorf("err = %v, want ErrInconsistent", err)
			}
			if after := len(s.checkpointSizes()); after != before {
				t.Errorf("a checkpoint was saved over a tampered log")
			}
		})
	}
}

func TestLogStoreErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("disk on fire")
	s := &fakeStore{leavesErr: func(uint64) error { return boom }}
	l := newTestLog(t, s, testSigner(t, 1), 0)
	if _, err := l.Sync(ctx); !errors.Is(err, boom) {
		t.Errorf("Sync: err = %v, want the store's error", err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, boom) {
		t.Errorf("Checkpoint: err = %v, want the store's error", err)
	}
	s.leavesErr = nil
	s.saveErr = func(uint64) error { return boom }
	if _, err := l.Checkpoint(ctx); !errors.Is(err, boom) {
		t.Errorf("Checkpoint: err = %v, want the save error", err)
	}
	s.saveErr = nil
	s.rows = append(s.rows, Row{Index: 0, LeafHash: []byte{1, 2, 3}})
	if _, err := l.Sync(ctx); !errors.Is(err, ErrBadHash) {
		t.Errorf("Sync of a short hash: err = %v, want ErrBadHash", err)
	}
}

func TestNewLogAndRunValidate(t *testing.T) {
	s := &fakeStore{}
	signer := testSigner(t, 1)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no leaves", Config{Checkpoints: s, Signer: signer}},
		{"no checkpoints", Config{Leaves: s, Signer: signer}},
		{"no signer", Config{Leaves: s, Checkpoints: s}},
		{"negative batch", Config{Leaves: s, Checkpoints: s, Signer: signer, BatchSize: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewLog(tc.cfg); err == nil {
				t.Error("NewLog accepted a bad config")
			}
		})
	}
	l := newTestLog(t, s, signer, 0)
	if err := l.Run(context.Background(), 0, 0); err == nil {
		t.Error("Run with neither interval nor count should fail")
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRunCutsCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		every   time.Duration
		entries uint64
		notify  bool
	}{
		{"by count, woken by Notify", 0, 3, true},
		{"by count, polling", 0, 3, false},
		{"by time", 10 * time.Millisecond, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeStore{}
			l := newTestLog(t, s, testSigner(t, 1), 0)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx, tc.every, tc.entries) }()

			waitFor(t, "the initial checkpoint", func() bool { return len(s.checkpointSizes()) == 1 })
			s.appendEvents(t, 2)
			if tc.notify {
				l.Notify()
			}
			if tc.entries > 0 {
				// Two entries are below the count: nothing new yet.
				time.Sleep(30 * time.Millisecond)
				if got := s.checkpointSizes(); len(got) != 1 {
					t.Fatalf("checkpoint cut below the entry count: %v", got)
				}
			}
			s.appendEvents(t, 2)
			if tc.notify {
				l.Notify()
			}
			waitFor(t, "a checkpoint of 4 entries", func() bool { return slices.Contains(s.checkpointSizes(), 4) })

			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run returned %v", err)
			}
			// Shutdown: entries after Run stopped get a final checkpoint.
			s.appendEvents(t, 1)
			final, err := l.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if final.Size != 5 {
				t.Errorf("final checkpoint covers %d entries, want 5", final.Size)
			}
			if _, err := Verify(context.Background(), s.allRows(), s.notes, l.VerifierKey()); err != nil {
				t.Errorf("Verify after Run: %v", err)
			}
		})
	}
}

func TestProveAgainstLatest(t *testing.T) {
	ctx := context.Background()
	s := &fakeStore{}
	l := newTestLog(t, s, testSigner(t, 1), 0)
	if _, _, err := l.ProveAgainstLatest(ctx, []uint64{0}); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("err = %v, want ErrNoCheckpoint", err)
	}
	s.appendEvents(t, 1)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.appendEvents(t, 6)
	// A fresh Log (a restarted server) proves against the saved checkpoint.
	l = newTestLog(t, s, testSigner(t, 1), 0)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	s.appendEvents(t, 2) // 7 and 8: not yet checkpointed
	cp, proofs, err := l.ProveAgainstLatest(ctx, []uint64{0, 3, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 7 {
		t.Fatalf("checkpoint size %d, want 7", cp.Size)
	}
	for i, idx := range []uint64{0, 3, 6} {
		if err := auditproof.VerifyInclusion(cp.Checkpoint, idx, s.rows[idx].Data, proofs[i]); err != nil {
			t.Errorf("entry %d: %v", idx, err)
		}
	}
	if proofs[3] != nil || proofs[4] != nil {
		t.Errorf("entries after the checkpoint got proofs: %v %v", proofs[3], proofs[4])
	}
	// Size 1 tree: the proof of its only entry is empty but not nil.
	s1 := &fakeStore{}
	s1.appendEvents(t, 1)
	l1 := newTestLog(t, s1, testSigner(t, 1), 0)
	if _, err := l1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	_, proofs, err = l1.ProveAgainstLatest(ctx, []uint64{0})
	if err != nil {
		t.Fatal(err)
	}
	if proofs[0] == nil || len(proofs[0]) != 0 {
		t.Errorf("proof of the only entry = %#v, want empty non-nil", proofs[0])
	}
}
