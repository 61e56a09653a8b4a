package audit

import (
	"context"
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestVerifyNamesTheTamperedEntry tampers once, in a random way, at a
// random place in a random log with random checkpoints, and checks that
// Verify names that entry (or, when only checkpoints can tell, a range
// holding it), and stays silent only where the design says nothing can be
// seen.
func TestVerifyNamesTheTamperedEntry(t *testing.T) {
	signer := testSigner(t, 1)
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		n := rapid.IntRange(2, 60).Draw(rt, "entries")
		cuts := rapid.SliceOfNDistinct(rapid.IntRange(1, n), 0, 4, rapid.ID[int]).Draw(rt, "checkpoints")
		slices.Sort(cuts)
		s := &fakeStore{}
		l, err := NewLog(Config{Leaves: s, Checkpoints: s, Signer: signer})
		if err != nil {
			rt.Fatal(err)
		}
		for _, c := range append(cuts, n) {
			s.appendEvents(rt, c-len(s.rows))
			if _, err := l.Checkpoint(ctx); err != nil {
				rt.Fatal(err)
			}
		}
		covered := n // the latest checkpoint covers every entry
		i := rapid.IntRange(0, n-1).Draw(rt, "index")
		kind := rapid.SampledFrom([]string{"change", "change+hash", "delete", "swap", "duplicate"}).Draw(rt, "tamper")
		switch kind {
		case "change":
			e := testEvent(uint64(i))
			e.RequestID = "forged"
			data, err := e.Encode()
			if err != nil {
				rt.Fatal(err)
			}
			s.rows[i].Data = data
		case "change+hash":
			e := testEvent(uint64(i))
			e.RequestID = "forged"
			r, err := NewRow(uint64(i), e)
			if err != nil {
				rt.Fatal(err)
			}
			s.rows[i] = r
		case "delete":
			s.rows = slices.Delete(s.rows, i, i+1)
		case "swap":
			if i == n-1 {
				i--
			}
			j := rapid.IntRange(i+1, n-1).Draw(rt, "other")
			s.rows[i].Data, s.rows[j].Data = s.rows[j].Data, s.rows[i].Data
			s.rows[i].LeafHash, s.rows[j].LeafHash = s.rows[j].LeafHash, s.rows[i].LeafHash
		case "duplicate":
			s.rows = slices.Insert(s.rows, i+1, s.rows[i])
		}
		_, err = Verify(ctx, s.allRows(), s.notes, signer.VerifierKey())
		var te *TamperError
		if !errors.As(err, &te) {
			rt.Fatalf("%s at %d: err = %v, want a *TamperError", kind, i, err)
		}
		want := map[string]Kind{"change": KindChanged, "delete": KindDeleted, "swap": KindReordered, "duplicate": KindInserted}
		switch {
		case kind == "change+hash":
			if te.Kind != KindRootMismatch || uint64(i) < te.Index || uint64(i) >= te.Upper {
				rt.Fatalf("change+hash at %d: %v, want a root mismatch range holding %d", i, err, i)
			}
		case kind == "delete" && i == n-1:
			if te.Kind != KindTruncated || te.Index != uint64(covered-1) {
				rt.Fatalf("last row deleted: %v, want truncated at %d", err, covered-1)
			}
		default:
			if te.Kind != want[kind] || te.Index != uint64(i) {
				rt.Fatalf("%s at %d: %v", kind, i, err)
			}
		}
	})
}
