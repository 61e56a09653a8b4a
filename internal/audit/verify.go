package audit

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"golang.org/x/mod/sumdb/note"

	"github.com/assent-registry/assent/auditproof"
)

// Row is one stored audit row as Verify reads it: idx, data and leaf_hash.
type Row struct {
	Index    uint64
	Data     []byte
	LeafHash []byte
	// PersonID, when not nil, is the store's person index column for the
	// row (used to list a person's access log). Verify then checks it equals
	// the event's PersonID, so a row cannot be hidden from a person's log by
	// editing that column alone. Nil skips the check.
	PersonID *string
}

// NewRow returns the row to store for event e at position idx: e.Index is
// set to idx, Data is the canonical encoding and LeafHash its leaf hash.
// The store calls it inside the transaction that assigned idx.
func NewRow(idx uint64, e Event) (Row, error) {
	e.Index = idx
	data, err := e.Encode()
	if err != nil {
		return Row{}, fmt.Errorf("audit.NewRow: %w", err)
	}
	return Row{Index: idx, Data: data, LeafHash: LeafHash(data)}, nil
}

// PagedRows turns a paged reader (rows with idx >= from, in idx order, at
// most limit, fewer meaning the end) into the iterator Verify reads. It asks
// for the page after the last idx it saw, so it needs idx to be unique (a
// primary key). pageSize <= 0 means 10000.
func PagedRows(ctx context.Context, pageSize int, fetch func(ctx context.Context, from uint64, limit int) ([]Row, error)) iter.Seq2[Row, error] {
	if pageSize <= 0 {
		pageSize = 10000
	}
	return func(yield func(Row, error) bool) {
		var from uint64
		for {
			page, err := fetch(ctx, from, pageSize)
			if err != nil {
				yield(Row{}, fmt.Errorf("audit.PagedRows: from %d: %w", from, err))
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			last := page[len(page)-1].Index
			if last < from || last == ^uint64(0) {
				yield(Row{}, fmt.Errorf("audit.PagedRows: page from %d ended at idx %d", from, last))
				return
			}
			from = last + 1
		}
	}
}

// Kind names what Verify found wrong.
type Kind string

// Kinds of tampering. The first four are about rows; the rest about
// checkpoints.
const (
	// KindChanged: an entry's data no longer matches its stored leaf hash, or
	// does not decode.
	KindChanged Kind = "changed"
	// KindDeleted: an entry is missing: a gap in idx, or (rows renumbered to
	// close the gap) an entry whose own index is ahead of its position and
	// whose expected entry appears nowhere later.
	KindDeleted Kind = "deleted"
	// KindInserted: an extra entry: a duplicate idx, or an entry whose own
	// index is behind its position (a copy of an earlier entry, or any entry
	// pushed in ahead of the rest).
	KindInserted Kind = "inserted"
	// KindReordered: an entry sits at another entry's position and the
	// expected entry appears later.
	KindReordered Kind = "reordered"
	// KindTruncated: a checkpoint covers more entries than the log holds.
	KindTruncated Kind = "truncated"
	// KindRootMismatch: a validly signed checkpoint's root is not the root
	// recomputed from the stored data at its size, while every row looked
	// fine on its own: data and leaf hash were rewritten together. Index and
	// Upper bound the first bad entry.
	KindRootMismatch Kind = "root mismatch"
	// KindBadSignature: a checkpoint note is malformed or not signed by the
	// given key.
	KindBadSignature Kind = "bad signature"
	// KindInconsistent: two validly signed checkpoints contradict each
	// other: one disagrees with the data while a checkpoint at least as
	// large agrees (the key signed two histories), or two that agree with
	// the data have no valid consistency proof between them.
	KindInconsistent Kind = "inconsistent checkpoints"
)

// ErrTampered is wrapped by every *TamperError.
var ErrTampered = errors.New("audit log tampered with")

// TamperError describes one piece of evidence of tampering. Index is the
// first bad entry. When Upper > Index the evidence bounds the first bad
// entry only to [Index, Upper): the checkpoint covering Upper entries
// disagrees with the data, the one covering Index entries agrees. For
// KindBadSignature and KindInconsistent, Index is the checkpoint's size (as
// claimed, when the note did not verify).
type TamperError struct {
	Kind       Kind
	Index      uint64
	Upper      uint64
	Checkpoint int // position in the notes given to Verify; -1 for row evidence
	Detail     string
}

func (e *TamperError) Error() string {
	var where string
	switch {
	case e.Kind == KindBadSignature || e.Kind == KindInconsistent:
		where = fmt.Sprintf("checkpoint %d (size %d)", e.Checkpoint, e.Index)
	case e.Upper > e.Index:
		where = fmt.Sprintf("first bad entry in [%d, %d)", e.Index, e.Upper)
	default:
		where = fmt.Sprintf("entry %d", e.Index)
	}
	msg := fmt.Sprintf("audit log tampered with: %s: %s", where, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns ErrTampered.
func (e *TamperError) Unwrap() error { return ErrTampered }

// rowEvidence reports whether the kind comes from checking rows.
func (k Kind) rowEvidence() bool {
	return k == KindChanged || k == KindDeleted || k == KindInserted || k == KindReordered
}

// Report is what Verify found.
type Report struct {
	// Entries is the number of rows read.
	Entries uint64
	// Root is the root recomputed from the stored data over all rows.
	Root []byte
	// Checkpoints is the number of notes that verified under the key.
	Checkpoints int
	// LatestCheckpoint is the largest size among them.
	LatestCheckpoint uint64
	// Problems lists the evidence found (at most MaxProblems), ordered by
	// Index. Verify's error is the first of them, as explained there.
	Problems []TamperError
}

// MaxProblems bounds Report.Problems.
const MaxProblems = 100

// Verify recomputes the audit log from the stored rows and checks it against
// the signed checkpoints. rows must yield every row in idx order (an error
// from it stops Verify and is returned wrapped); notes are the stored
// checkpoint notes in any order; verifierKey is the log's published key.
//
// For every row it checks that idx continues from 0 without gaps or
// repeats, that the data decodes, that the event's own Index equals idx,
// that LeafHash(data) equals the stored leaf hash and, when the row carries
// it, that the person index column matches the event. For every note it checks
// the signature, that its size is within the log, and that its root equals
// the tree recomputed from the data at that size; successive checkpoints (by
// size) must agree and be provably consistent.
//
// Verify returns a nil error when everything holds, a *TamperError (wrapping
// ErrTampered) for the first problem otherwise, and another error when it
// could not run (bad verifier key, rows error, ctx done). The first problem
// is the one with the smallest Index, row evidence first, except that a row
// problem inside the range of an earlier-starting root mismatch is preferred
// (it explains the mismatch; the range is still in Report.Problems).
// Checkpoint signature and consistency problems come after all index
// evidence. What cannot be detected: entries appended after the latest
// checkpoint and rewritten with a consistent leaf hash and index, or removed
// from the end beyond the latest checkpoint.
func Verify(ctx context.Context, rows iter.Seq2[Row, error], notes [][]byte, verifierKey string) (Report, error) {
	const op = "audit.Verify"
	if _, err := note.NewVerifier(verifierKey); err != nil {
		return Report{}, fmt.Errorf("%s: verifier key: %v: %w", op, err, ErrBadKey)
	}
	v := verifier{}
	var tree Tree
	var next uint64 // the idx the next row should have
	var count uint64
	for row, err := range rows {
		if err != nil {
			return Report{}, fmt.Errorf("%s: reading row %d: %w", op, count, err)
		}
		if count%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, fmt.Errorf("%s: %w", op, err)
			}
		}
		v.row(row, next)
		if row.Index >= next {
			next = row.Index + 1
		}
		leaf := LeafHash(row.Data)
		if err := tree.Append(leaf); err != nil {
			return Report{}, fmt.Errorf("%s: %w", op, err)
		}
		count++
	}
	v.resolve()
	rep := Report{Entries: count, Root: tree.Root()}
	v.checkpoints(&rep, &tree, notes, verifierKey)
	rep.Problems = v.ordered()
	if len(rep.Problems) > MaxProblems {
		rep.Problems = rep.Problems[:MaxProblems]
	}
	if first := v.first(); first != nil {
		return rep, first
	}
	return rep, nil
}

// verifier accumulates evidence.
type verifier struct {
	problems []*TamperError
	// pending maps an idx whose entry was missing at its place to the
	// problem to reclassify as reordered if the entry shows up later.
	pending map[uint64]pendingMove
	// shift is the last row's event index minus its idx. A run of rows with
	// the same non-zero shift (everything after a deleted or inserted row,
	// renumbered) is reported once, where the shift starts.
	shift int64
}

type pendingMove struct {
	p    *TamperError
	held uint64 // the entry found at p.Index instead
}

func (v *verifier) add(p *TamperError) {
	if len(v.problems) < 4*MaxProblems {
		v.problems = append(v.problems, p)
	}
}

func (v *verifier) row(r Row, next uint64) {
	switch {
	case r.Index > next:
		missing := fmt.Sprintf("no row with idx %d", next)
		if r.Index-next > 1 {
			missing = fmt.Sprintf("no rows with idx %d to %d", next, r.Index-1)
		}
		v.add(&TamperError{Kind: KindDeleted, Index: next, Checkpoint: -1, Detail: missing})
	case r.Index < next:
		kind, what := KindReordered, "out of order"
		if r.Index == next-1 {
			kind, what = KindInserted, "a second row"
		}
		v.add(&TamperError{Kind: kind, Index: r.Index, Checkpoint: -1,
			Detail: fmt.Sprintf("%s with idx %d", what, r.Index)})
		return // the data check below would only repeat this
	}
	ev, err := DecodeEvent(r.Data)
	if err != nil {
		v.add(&TamperError{Kind: KindChanged, Index: r.Index, Checkpoint: -1, Detail: "data does not decode as an audit event"})
		return
	}
	// Inside a renumbered run already reported at its start, only the
	// row's own data is checked.
	shift := int64(ev.Index - r.Index)
	inRun := ev.Index != r.Index && shift == v.shift
	v.shift = shift
	if !inRun && v.indexMismatch(r, ev) {
		return
	}
	if !bytes.Equal(LeafHash(r.Data), r.LeafHash) {
		v.add(&TamperError{Kind: KindChanged, Index: r.Index, Checkpoint: -1, Detail: "data does not match the stored leaf hash"})
		return
	}
	if r.PersonID != nil && *r.PersonID != ev.PersonID {
		v.add(&TamperError{Kind: KindChanged, Index: r.Index, Checkpoint: -1,
			Detail: "the row's person index column does not match the event's person id"})
	}
}

// indexMismatch checks the event's own index against the row's idx and
// reports whether it recorded a problem.
func (v *verifier) indexMismatch(r Row, ev Event) bool {
	moved := false
	if pm, ok := v.pending[ev.Index]; ok {
		pm.p.Kind = KindReordered
		pm.p.Detail = fmt.Sprintf("row %d holds entry %d, and entry %d is at row %d", pm.p.Index, pm.held, ev.Index, r.Index)
		delete(v.pending, ev.Index)
		moved = true
	}
	switch {
	case ev.Index > r.Index:
		p := &TamperError{Kind: KindDeleted, Index: r.Index, Checkpoint: -1,
			Detail: fmt.Sprintf("row %d holds entry %d and entry %d is nowhere later (later rows renumbered)", r.Index, ev.Index, r.Index)}
		v.add(p)
		if v.pending == nil {
			v.pending = make(map[uint64]pendingMove)
		}
		if len(v.pending) < MaxProblems {
			v.pending[r.Index] = pendingMove{p: p, held: ev.Index}
		}
		return true
	case ev.Index < r.Index:
		kind := KindInserted
		if moved {
			kind = KindReordered
		}
		v.add(&TamperError{Kind: kind, Index: r.Index, Checkpoint: -1,
			Detail: fmt.Sprintf("row %d holds entry %d, which belongs earlier", r.Index, ev.Index)})
		return true
	}
	return false
}

// resolve is called after the last row; pending problems stay "deleted".
func (v *verifier) resolve() { v.pending = nil }

func (v *verifier) checkpoints(rep *Report, tree *Tree, notes [][]byte, verifierKey string) {
	type good struct {
		pos int
		cp  Checkpoint
	}
	var cps []good
	for i, n := range notes {
		cp, err := OpenCheckpoint(n, verifierKey)
		if err != nil {
			v.add(&TamperError{Kind: KindBadSignature, Index: claimedSize(n), Checkpoint: i, Detail: err.Error()})
			continue
		}
		cps = append(cps, good{i, cp})
	}
	slices.SortStableFunc(cps, func(a, b good) int { return cmp.Compare(a.cp.Size, b.cp.Size) })
	rep.Checkpoints = len(cps)
	size := tree.Size()
	// First: which checkpoints match the tree recomputed from the data.
	matched := make([]bool, len(cps))
	var maxMatched uint64
	maxPos := -1
	for i, g := range cps {
		rep.LatestCheckpoint = g.cp.Size
		if g.cp.Size > size {
			continue
		}
		root, _ := tree.RootAt(g.cp.Size) // size checked above
		if bytes.Equal(root, g.cp.Root) {
			matched[i] = true
			maxMatched, maxPos = g.cp.Size, g.pos
		}
	}
	var agreed uint64 // largest matching size so far, in size order
	for i, g := range cps {
		switch {
		case matched[i]:
			agreed = g.cp.Size
		case g.cp.Size > size:
			v.add(&TamperError{Kind: KindTruncated, Index: size, Upper: g.cp.Size, Checkpoint: g.pos,
				Detail: fmt.Sprintf("the log holds %d entries, checkpoint %d covers %d", size, g.pos, g.cp.Size)})
		case maxPos >= 0 && maxMatched >= g.cp.Size:
			// The data agrees with a signed checkpoint at least as large,
			// so this one contradicts it: two histories were signed.
			v.add(&TamperError{Kind: KindInconsistent, Index: g.cp.Size, Checkpoint: g.pos,
				Detail: fmt.Sprintf("its root contradicts checkpoint %d of size %d, which matches the stored data", maxPos, maxMatched)})
		default:
			v.add(&TamperError{Kind: KindRootMismatch, Index: agreed, Upper: g.cp.Size, Checkpoint: g.pos,
				Detail: fmt.Sprintf("checkpoint %d of size %d disagrees with the stored data and the largest agreeing checkpoint covers %d: an entry in between was changed, deleted, inserted or reordered with its leaf hash rewritten", g.pos, g.cp.Size, agreed)})
		}
	}
	// Successive checkpoints that match the data must be provably
	// consistent (a check of the proofs this package serves, too).
	prev := -1
	for i, g := range cps {
		if !matched[i] {
			continue
		}
		if prev >= 0 {
			a := cps[prev]
			hashes, err := tree.ConsistencyProof(a.cp.Size, g.cp.Size)
			if err == nil {
				err = auditproof.VerifyConsistency(a.cp, g.cp, hashes)
			}
			if err != nil {
				v.add(&TamperError{Kind: KindInconsistent, Index: g.cp.Size, Checkpoint: g.pos,
					Detail: fmt.Sprintf("no consistency proof from checkpoint %d: %v", a.pos, err)})
			}
		}
		prev = i
	}
}

// claimedSize is the size a note claims, unverified, or 0.
func claimedSize(n []byte) uint64 {
	text, _, ok := bytes.Cut(n, []byte("\n\n"))
	if !ok {
		return 0
	}
	cp, err := auditproof.ParseCheckpoint(append(text, '\n'))
	if err != nil {
		return 0
	}
	return cp.Size
}

// rank orders evidence at one index: rows, then checkpoints against data,
// then checkpoints among themselves.
func rank(k Kind) int {
	switch {
	case k.rowEvidence():
		return 0
	case k == KindRootMismatch || k == KindTruncated:
		return 1
	default:
		return 2
	}
}

func (v *verifier) ordered() []TamperError {
	if len(v.problems) == 0 {
		return nil
	}
	ps := slices.Clone(v.problems)
	slices.SortStableFunc(ps, func(a, b *TamperError) int {
		ga, gb := rank(a.Kind) == 2, rank(b.Kind) == 2
		if ga != gb {
			if ga {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.Index, b.Index); c != 0 {
			return c
		}
		return cmp.Compare(rank(a.Kind), rank(b.Kind))
	})
	out := make([]TamperError, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// first picks the error Verify returns (see Verify).
func (v *verifier) first() *TamperError {
	ps := v.ordered()
	if len(ps) == 0 {
		return nil
	}
	f := ps[0]
	if f.Upper > f.Index {
		// A range: prefer the first row evidence inside it.
		for _, p := range ps {
			if p.Kind.rowEvidence() && p.Index >= f.Index && p.Index < f.Upper {
				p.Detail += fmt.Sprintf(" (checkpoint %d covering %d entries disagrees too)", f.Checkpoint, f.Upper)
				return &p
			}
		}
	}
	return &f
}
