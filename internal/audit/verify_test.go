package audit

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verifyFixture is a log of 20 events with checkpoints at 5, 12 and 20,
// cut by a Log as the server would.
func verifyFixture(t *testing.T) (*fakeStore, *Signer) {
	t.Helper()
	ctx := context.Background()
	s := &fakeStore{}
	signer := testSigner(t, 1)
	l := newTestLog(t, s, signer, 0)
	for _, n := range []int{5, 7, 8} {
		s.appendEvents(t, n)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s, signer
}

// rewrite replaces row i's data by the encoding of e.
func rewrite(t *testing.T, s *fakeStore, i int, e Event, alsoLeafHash bool) {
	t.Helper()
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s.rows[i].Data = data
	if alsoLeafHash {
		s.rows[i].LeafHash = LeafHash(data)
	}
}

func TestVerifyIntact(t *testing.T) {
	s, signer := verifyFixture(t)
	rep, err := Verify(context.Background(), s.allRows(), s.notes, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	tree := buildTree(t, leafHashes(s))
	want := Report{Entries: 20, Root: tree.Root(), Checkpoints: 3, LatestCheckpoint: 20}
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	s := &fakeStore{}
	signer := testSigner(t, 1)
	if _, err := newTestLog(t, s, signer, 0).Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), s.allRows(), s.notes, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 0 || rep.Checkpoints != 1 {
		t.Errorf("report %+v", rep)
	}
}

func leafHashes(s *fakeStore) [][]byte {
	var out [][]byte
	for _, r := range s.rows {
		out = append(out, r.LeafHash)
	}
	return out
}

func TestVerifyFindsTampering(t *testing.T) {
	other := testSigner(t, 2)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, s *fakeStore)
		key    func(s *Signer) string // nil: the log's key
		want   TamperError            // Detail is not compared
	}{
		{"data changed, leaf hash kept", func(t *testing.T, s *fakeStore) {
			e := testEvent(7)
			e.Outcome, e.Reason = Allow, "" // a denial made to look allowed
			rewrite(t, s, 7, e, false)
		}, nil, TamperError{Kind: KindChanged, Index: 7}},
		{"data garbled", func(t *testing.T, s *fakeStore) {
			s.rows[9].Data = bytes.Replace(s.rows[9].Data, []byte("registrar"), []byte("registrer"), 1)
			s.rows[9].Data = append(s.rows[9].Data, ' ')
		}, nil, TamperError{Kind: KindChanged, Index: 9}},
		{"data and leaf hash changed", func(t *testing.T, s *fakeStore) {
			e := testEvent(8)
			e.PersonID = "someone-else"
			rewrite(t, s, 8, e, true)
		}, nil, TamperError{Kind: KindRootMismatch, Index: 5, Upper: 12, Checkpoint: 1}},
		{"data and leaf hash changed in the first segment", func(t *testing.T, s *fakeStore) {
			e := testEvent(2)
			e.Site = "S2"
			rewrite(t, s, 2, e, true)
		}, nil, TamperError{Kind: KindRootMismatch, Index: 0, Upper: 5, Checkpoint: 0}},
		{"row deleted", func(t *testing.T, s *fakeStore) {
			s.rows = append(s.rows[:7], s.rows[8:]...)
		}, nil, TamperError{Kind: KindDeleted, Index: 7}},
		{"row deleted and later rows renumbered", func(t *testing.T, s *fakeStore) {
			s.rows = append(s.rows[:7], s.rows[8:]...)
			for i := 7; i < len(s.rows); i++ {
				s.rows[i].Index = uint64(i)
			}
		}, nil, TamperError{Kind: KindDeleted, Index: 7}},
		{"row deleted, renumbered and re-encoded", func(t *testing.T, s *fakeStore) {
			s.rows = append(s.rows[:7], s.rows[8:]...)
			for i := 7; i < len(s.rows); i++ {
				e, err := DecodeEvent(s.rows[i].Data)
				if err != nil {
					t.Fatal(err)
				}
				e.Index = uint64(i)
				s.rows[i].Index = uint64(i)
				rewrite(t, s, i, e, true)
			}
		}, nil, TamperError{Kind: KindRootMismatch, Index: 5, Upper: 12, Checkpoint: 1}},
		{"second row with the same idx", func(t *testing.T, s *fakeStore) {
			dup := s.rows[7]
			s.rows = append(s.rows[:8], append([]Row{dup}, s.rows[8:]...)...)
		}, nil, TamperError{Kind: KindInserted, Index: 7}},
		{"copy of an old row appended", func(t *testing.T, s *fakeStore) {
			r := s.rows[3]
			r.Index = 20
			s.rows = append(s.rows, r)
		}, nil, TamperError{Kind: KindInserted, Index: 20}},
		{"row inserted in the middle, later rows renumbered", func(t *testing.T, s *fakeStore) {
			ins := s.rows[3]
			s.rows = append(s.rows[:10], append([]Row{ins}, s.rows[10:]...)...)
			for i := range s.rows {
				s.rows[i].Index = uint64(i)
			}
		}, nil, TamperError{Kind: KindInserted, Index: 10}},
		{"two rows swapped", func(t *testing.T, s *fakeStore) {
			s.rows[7].Data, s.rows[13].Data = s.rows[13].Data, s.rows[7].Data
			s.rows[7].LeafHash, s.rows[13].LeafHash = s.rows[13].LeafHash, s.rows[7].LeafHash
		}, nil, TamperError{Kind: KindReordered, Index: 7}},
		{"last rows removed", func(t *testing.T, s *fakeStore) {
			s.rows = s.rows[:15]
		}, nil, TamperError{Kind: KindTruncated, Index: 15, Upper: 20, Checkpoint: 2}},
		{"checkpoint signature broken", func(t *testing.T, s *fakeStore) {
			n := s.notes[1]
			n[len(n)-4] ^= 1
			if n[len(n)-4] == '\n' || n[len(n)-4] == '=' {
				n[len(n)-4] ^= 3
			}
		}, nil, TamperError{Kind: KindBadSignature, Index: 12, Checkpoint: 1}},
		{"checkpoint forged with another key", func(t *testing.T, s *fakeStore) {
			n, err := other.SignCheckpoint(20, LeafHash(nil))
			if err != nil {
				t.Fatal(err)
			}
			s.notes = append(s.notes, n)
		}, nil, TamperError{Kind: KindBadSignature, Index: 20, Checkpoint: 3}},
		{"checked with the wrong key", func(t *testing.T, s *fakeStore) {}, func(*Signer) string { return other.VerifierKey() },
			TamperError{Kind: KindBadSignature, Index: 5, Checkpoint: 0}},
		{"two histories signed", func(t *testing.T, s *fakeStore) {
			root := buildTree(t, leafHashes(s)).Root()
			fork, err := testSigner(t, 1).SignCheckpoint(12, root) // a valid signature over the wrong root
			if err != nil {
				t.Fatal(err)
			}
			s.notes = append(s.notes, fork)
		}, nil, TamperError{Kind: KindInconsistent, Index: 12, Checkpoint: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, signer := verifyFixture(t)
			tc.tamper(t, s)
			key := signer.VerifierKey()
			if tc.key != nil {
				key = tc.key(signer)
			}
			rep, err := Verify(context.Background(), s.allRows(), s.notes, key)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("err %T is not a *TamperError", err)
			}
			want := tc.want
			if want.Kind.rowEvidence() {
				want.Checkpoint = -1
			}
			got := *te
			got.Detail = ""
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("first problem (-want +got):\n%s\nerror: %v", d, err)
			}
			if len(rep.Problems) == 0 {
				t.Errorf("report lists no problems")
			}
			if !strings.Contains(err.Error(), string(want.Kind)) {
				t.Errorf("message %q does not name the kind", err)
			}
			t.Log(err)
		})
	}
}

func TestVerifyRowErrorStops(t *testing.T) {
	boom := errors.New("disk on fire")
	rows := func(yield func(Row, error) bool) { yield(Row{}, boom) }
	_, err := Verify(context.Background(), iter.Seq2[Row, error](rows), nil, testSigner(t, 1).VerifierKey())
	if !errors.Is(err, boom) || errors.Is(err, ErrTampered) {
		t.Errorf("err = %v, want the row error and no tampering", err)
	}
}

func TestVerifyBadKeyIsNotTampering(t *testing.T) {
	s, _ := verifyFixture(t)
	_, err := Verify(context.Background(), s.allRows(), s.notes, "not a key")
	if !errors.Is(err, ErrBadKey) || errors.Is(err, ErrTampered) {
		t.Errorf("err = %v, want ErrBadKey", err)
	}
}

func TestVerifyCancelled(t *testing.T) {
	s, signer := verifyFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, s.allRows(), s.notes, signer.VerifierKey()); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestNewRow(t *testing.T) {
	r, err := NewRow(41, testEvent(3))
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEvent(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 41 || e.Index != 41 || !bytes.Equal(r.LeafHash, LeafHash(r.Data)) {
		t.Errorf("row %d, event %d, leaf hash ok %v", r.Index, e.Index, bytes.Equal(r.LeafHash, LeafHash(r.Data)))
	}
	bad := testEvent(3)
	bad.Outcome = ""
	if _, err := NewRow(1, bad); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("err = %v, want ErrInvalidEvent", err)
	}
}

func TestPagedRows(t *testing.T) {
	s, signer := verifyFixture(t)
	var froms []uint64
	fetch := func(ctx context.Context, from uint64, limit int) ([]Row, error) {
		froms = append(froms, from)
		var out []Row
		for _, r := range s.rows {
			if r.Index >= from && len(out) < limit {
				out = append(out, r)
			}
		}
		return out, nil
	}
	ctx := context.Background()
	var got []uint64
	for r, err := range PagedRows(ctx, 6, fetch) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Index)
	}
	if len(got) != 20 || got[19] != 19 {
		t.Errorf("indexes %v", got)
	}
	if d := cmp.Diff([]uint64{0, 6, 12, 18}, froms); d != "" {
		t.Errorf("pages (-want +got):\n%s", d)
	}
	if _, err := Verify(ctx, PagedRows(ctx, 6, fetch), s.notes, signer.VerifierKey()); err != nil {
		t.Errorf("Verify over pages: %v", err)
	}
	// A gap still shows: pages continue after the last idx seen.
	s.rows = append(s.rows[:6], s.rows[7:]...)
	_, err := Verify(ctx, PagedRows(ctx, 6, fetch), s.notes, signer.VerifierKey())
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != KindDeleted || te.Index != 6 {
		t.Errorf("err = %v, want entry 6 deleted", err)
	}
	boom := errors.New("disk on fire")
	failing := func(context.Context, uint64, int) ([]Row, error) { return nil, boom }
	if _, err := Verify(ctx, PagedRows(ctx, 6, failing), s.notes, signer.VerifierKey()); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the fetch error", err)
	}
}

func TestVerifyChecksPersonColumn(t *testing.T) {
	s, signer := verifyFixture(t)
	rows := func(column func(i int, ev Event) string) iter.Seq2[Row, error] {
		return func(yield func(Row, error) bool) {
			for i, r := range s.rows {
				ev, err := DecodeEvent(r.Data)
				if err != nil {
					t.Fatal(err)
				}
				p := column(i, ev)
				r.PersonID = &p
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	ctx := context.Background()
	if _, err := Verify(ctx, rows(func(_ int, ev Event) string { return ev.PersonID }), s.notes, signer.VerifierKey()); err != nil {
		t.Fatalf("intact: %v", err)
	}
	hidden := rows(func(i int, ev Event) string {
		if i == 11 {
			return "someone-else"
		}
		return ev.PersonID
	})
	_, err := Verify(ctx, hidden, s.notes, signer.VerifierKey())
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != KindChanged || te.Index != 11 {
		t.Errorf("err = %v, want entry 11 changed", err)
	}
}

// TestVerifyReportsRunsOnce: renumbering after a deletion or insertion
// shifts every later row; that is one problem, not one per row.
func TestVerifyReportsRunsOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(s *fakeStore)
		want   []Kind // row evidence, in order
	}{
		{"deleted and renumbered", func(s *fakeStore) {
			s.rows = append(s.rows[:7], s.rows[8:]...)
			for i := range s.rows {
				s.rows[i].Index = uint64(i)
			}
		}, []Kind{KindDeleted}},
		{"inserted and renumbered", func(s *fakeStore) {
			s.rows = append(s.rows[:10], append([]Row{s.rows[3]}, s.rows[10:]...)...)
			for i := range s.rows {
				s.rows[i].Index = uint64(i)
			}
		}, []Kind{KindInserted, KindInserted}},
		{"swapped", func(s *fakeStore) {
			s.rows[7].Data, s.rows[13].Data = s.rows[13].Data, s.rows[7].Data
			s.rows[7].LeafHash, s.rows[13].LeafHash = s.rows[13].LeafHash, s.rows[7].LeafHash
		}, []Kind{KindReordered, KindReordered}},
		{"renumbered run with a changed row inside", func(s *fakeStore) {
			s.rows = append(s.rows[:7], s.rows[8:]...)
			for i := range s.rows {
				s.rows[i].Index = uint64(i)
			}
			s.rows[15].LeafHash = LeafHash(nil)
		}, []Kind{KindDeleted, KindChanged}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, signer := verifyFixture(t)
			tc.tamper(s)
			rep, _ := Verify(context.Background(), s.allRows(), s.notes, signer.VerifierKey())
			var got []Kind
			for _, p := range rep.Problems {
				if p.Kind.rowEvidence() {
					got = append(got, p.Kind)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("row problems (-want +got):\n%s\n%+v", d, rep.Problems)
			}
		})
	}
}
