package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"pgregory.net/rapid"
)

// The reference below follows RFC 6962 section 2.1 literally (MTH, PATH,
// SUBPROOF), recursively and slowly, as an independent check of Tree.

// ref is the reference over fixed leaves; MTH values are memoised by range.
type ref struct {
	leaves [][]byte
	memo   map[[2]int][]byte
}

func newRef(leaves [][]byte) *ref { return &ref{leaves: leaves, memo: map[[2]int][]byte{}} }

// mth is MTH(D[lo:hi]).
func (r *ref) mth(lo, hi int) []byte {
	if h, ok := r.memo[[2]int{lo, hi}]; ok {
		return h
	}
	var h []byte
	switch n := hi - lo; n {
	case 0:
		s := sha256.Sum256(nil)
		h = s[:]
	case 1:
		h = r.leaves[lo]
	default:
		k := largestPow2Below(n)
		h = rfc6962.DefaultHasher.HashChildren(r.mth(lo, lo+k), r.mth(lo+k, hi))
	}
	r.memo[[2]int{lo, hi}] = h
	return h
}

// largestPow2Below is the largest power of two smaller than n (n > 1).
func largestPow2Below(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// path is PATH(m, D[lo:hi]).
func (r *ref) path(m, lo, hi int) [][]byte {
	n := hi - lo
	if n <= 1 {
		return nil
	}
	k := largestPow2Below(n)
	if m < k {
		return append(r.path(m, lo, lo+k), r.mth(lo+k, hi))
	}
	return append(r.path(m-k, lo+k, hi), r.mth(lo, lo+k))
}

// proof is PROOF(m, D[0:n]).
func (r *ref) proof(m, n int) [][]byte {
	if m == 0 || m == n {
		return nil
	}
	return r.subproof(m, 0, n, true)
}

// subproof is SUBPROOF(m, D[lo:hi], b).
func (r *ref) subproof(m, lo, hi int, b bool) [][]byte {
	n := hi - lo
	if m == n {
		if b {
			return nil
		}
		return [][]byte{r.mth(lo, hi)}
	}
	k := largestPow2Below(n)
	if m <= k {
		return append(r.subproof(m, lo, lo+k, b), r.mth(lo+k, hi))
	}
	return append(r.subproof(m-k, lo+k, hi, false), r.mth(lo, lo+k))
}

// equalHashes is a fast equality for proofs; cmp.Diff explains a mismatch.
func equalHashes(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, bytes.Equal)
}

func testLeaves(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = LeafHash(fmt.Appendf(nil, "entry %d", i))
	}
	return out
}

// fataler is what buildTree needs from *testing.T, *testing.B and *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func buildTree(t fataler, leaves [][]byte) *Tree {
	t.Helper()
	var tr Tree
	for _, l := range leaves {
		if err := tr.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	return &tr
}

func TestTreeRFC6962Vectors(t *testing.T) {
	var tr Tree
	roots := testonly.RootHashes()
	if !bytes.Equal(tr.Root(), roots[0]) {
		t.Errorf("empty root = %x, want %x", tr.Root(), roots[0])
	}
	for i, in := range testonly.LeafInputs() {
		if err := tr.Append(LeafHash(in)); err != nil {
			t.Fatal(err)
		}
		if got := tr.Root(); !bytes.Equal(got, roots[i+1]) {
			t.Errorf("root at %d = %x, want %x", i+1, got, roots[i+1])
		}
	}
}

// TestTreeAgainstReference checks roots, inclusion proofs and consistency
// proofs for every size, index and pair up to 70 entries, against the RFC
// 6962 reference and the merkle module's verifier.
func TestTreeAgainstReference(t *testing.T) {
	const n = 70
	leaves := testLeaves(n)
	tr := buildTree(t, leaves)
	r := newRef(leaves)
	if got := tr.Size(); got != n {
		t.Fatalf("Size = %d", got)
	}
	for size := 0; size <= n; size++ {
		root, err := tr.RootAt(uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if want := r.mth(0, size); !bytes.Equal(root, want) {
			t.Fatalf("RootAt(%d) = %x, want %x", size, root, want)
		}
		for i := range size {
			p, err := tr.InclusionProof(uint64(i), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if want := r.path(i, 0, size); !equalHashes(want, p) {
				d := cmp.Diff(want, p, cmpopts.EquateEmpty())
				t.Fatalf("InclusionProof(%d, %d) (-ref +got):\n%s", i, size, d)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), leaves[i], p, root); err != nil {
				t.Fatalf("InclusionProof(%d, %d) does not verify: %v", i, size, err)
			}
		}
		for from := 0; from <= size; from++ {
			p, err := tr.ConsistencyProof(uint64(from), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if want := r.proof(from, size); !equalHashes(want, p) {
				d := cmp.Diff(want, p, cmpopts.EquateEmpty())
				t.Fatalf("ConsistencyProof(%d, %d) (-ref +got):\n%s", from, size, d)
			}
			old, _ := tr.RootAt(uint64(from))
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(from), uint64(size), p, old, root); err != nil {
				t.Fatalf("ConsistencyProof(%d, %d) does not verify: %v", from, size, err)
			}
		}
	}
}

// TestTreeLargeSizes spot-checks sizes around powers of two up to 2^12 with
// the merkle module's verifier.
func TestTreeLargeSizes(t *testing.T) {
	leaves := testLeaves(4097)
	tr := buildTree(t, leaves)
	ref := testonly.New(rfc6962.DefaultHasher)
	ref.Append(leaves...)
	for _, size := range []uint64{127, 128, 129, 1000, 1023, 1024, 1025, 4095, 4096, 4097} {
		root, err := tr.RootAt(size)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root, ref.HashAt(size)) {
			t.Fatalf("RootAt(%d) differs from the reference tree", size)
		}
		for _, i := range []uint64{0, 1, size / 3, size / 2, size - 2, size - 1} {
			p, err := tr.InclusionProof(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, leaves[i], p, root); err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, size, err)
			}
			old, _ := tr.RootAt(i)
			c, err := tr.ConsistencyProof(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, i, size, c, old, root); err != nil {
				t.Fatalf("consistency %d to %d: %v", i, size, err)
			}
		}
	}
}

func TestTreeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 300).Draw(t, "n")
		leaves := testLeaves(n)
		tr := buildTree(t, leaves)
		size := rapid.IntRange(1, n).Draw(t, "size")
		i := rapid.IntRange(0, size-1).Draw(t, "index")
		from := rapid.IntRange(0, size).Draw(t, "from")
		root, _ := tr.RootAt(uint64(size))
		p, err := tr.InclusionProof(uint64(i), uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), leaves[i], p, root); err != nil {
			t.Fatalf("inclusion: %v", err)
		}
		old, _ := tr.RootAt(uint64(from))
		c, err := tr.ConsistencyProof(uint64(from), uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(from), uint64(size), c, old, root); err != nil {
			t.Fatalf("consistency: %v", err)
		}
	})
}

func TestTreeErrors(t *testing.T) {
	tr := buildTree(t, testLeaves(5))
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"short leaf", func() error { return tr.Append([]byte{1}) }, ErrBadHash},
		{"root beyond size", func() error { _, err := tr.RootAt(6); return err }, ErrOutOfRange},
		{"index at size", func() error { _, err := tr.InclusionProof(5, 5); return err }, ErrOutOfRange},
		{"size beyond tree", func() error { _, err := tr.InclusionProof(1, 6); return err }, ErrOutOfRange},
		{"consistency backwards", func() error { _, err := tr.ConsistencyProof(4, 3); return err }, ErrOutOfRange},
		{"consistency beyond tree", func() error { _, err := tr.ConsistencyProof(4, 6); return err }, ErrOutOfRange},
		{"leaf beyond tree", func() error { _, err := tr.LeafHash(5); return err }, ErrOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if tr.Size() != 5 {
		t.Errorf("a refused append changed the size to %d", tr.Size())
	}
}

func TestTreeProofsDoNotAlias(t *testing.T) {
	leaves := testLeaves(8)
	tr := buildTree(t, leaves)
	p, _ := tr.InclusionProof(0, 8)
	p[0][0] ^= 0xff
	l, _ := tr.LeafHash(1)
	l[0] ^= 0xff
	q, _ := tr.InclusionProof(0, 8)
	root := tr.Root()
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 0, 8, leaves[0], q, root); err != nil {
		t.Errorf("changing a returned slice changed the tree: %v", err)
	}
}

// TestTreeConcurrentUse runs readers while a writer appends (run with -race).
func TestTreeConcurrentUse(t *testing.T) {
	leaves := testLeaves(2000)
	var tr Tree
	if err := tr.Append(leaves[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				size := tr.Size()
				i := size / 2
				p, err := tr.InclusionProof(i, size)
				if err == nil {
					var root []byte
					root, err = tr.RootAt(size)
					if err == nil {
						err = proof.VerifyInclusion(rfc6962.DefaultHasher, i, size, leaves[i], p, root)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, l := range leaves[1:] {
		if err := tr.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
