package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
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

func refMTH(leaves [][]byte) []byte {
	switch n := len(leaves); n {
	case 0:
		s := sha256.Sum256(nil)
		return s[:]
	case 1:
		return leaves[0]
	default:
		k := largestPow2Below(n)
		return rfc6962.DefaultHasher.HashChildren(refMTH(leaves[:k]), refMTH(leaves[k:]))
	}
}

// largestPow2Below is the largest power of two smaller than n (n > 1).
func largestPow2Below(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

func refPath(m int, leaves [][]byte) [][]byte {
	n := len(leaves)
	if n <= 1 {
		return nil
	}
	k := largestPow2Below(n)
	if m < k {
		return append(refPath(m, leaves[:k]), refMTH(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refMTH(leaves[:k]))
}

func refProof(m int, leaves [][]byte) [][]byte {
	if m == 0 || m == len(leaves) {
		return nil
	}
	return refSubproof(m, leaves, true)
}

func refSubproof(m int, leaves [][]byte, b bool) [][]byte {
	n := len(leaves)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(leaves)}
	}
	k := largestPow2Below(n)
	if m <= k {
		return append(refSubproof(m, leaves[:k], b), refMTH(leaves[k:]))
	}
	return append(refSubproof(m-k, leaves[k:], false), refMTH(leaves[:k]))
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
	if got := tr.Size(); got != n {
		t.Fatalf("Size = %d", got)
	}
	for size := 0; size <= n; size++ {
		root, err := tr.RootAt(uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		if want := refMTH(leaves[:size]); !bytes.Equal(root, want) {
			t.Fatalf("RootAt(%d) = %x, want %x", size, root, want)
		}
		for i := range size {
			p, err := tr.InclusionProof(uint64(i), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(refPath(i, leaves[:size]), p, cmpopts.EquateEmpty()); d != "" {
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
			if d := cmp.Diff(refProof(from, leaves[:size]), p, cmpopts.EquateEmpty()); d != "" {
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
