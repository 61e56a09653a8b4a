package audit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of every hash in the tree (SHA-256).
const HashSize = sha256.Size

// ErrOutOfRange is wrapped when an index or size lies beyond the tree, or
// when sizes are given in the wrong order.
var ErrOutOfRange = errors.New("out of range")

// ErrBadHash is wrapped when a leaf hash is not HashSize bytes.
var ErrBadHash = errors.New("leaf hash is not 32 bytes")

type hash = [HashSize]byte

// Tree is an in-memory RFC 6962 Merkle tree over leaf hashes. It keeps every
// node of every perfect subtree: level 0 holds the leaf hashes, level k the
// hash of each complete run of 2^k leaves. That is about 2 hashes, 64 bytes,
// per entry (64 MB for a million entries, plus slice growth slack of up to
// as much again while appending), in exchange for which roots and proofs for
// any size up to Size() take O(log n) hashing and no storage round trips.
//
// A Tree is safe for concurrent use: Append takes a write lock, readers a
// read lock. The zero value is an empty tree ready to use.
type Tree struct {
	mu     sync.RWMutex
	levels [][]hash // levels[k][i] = hash of leaves [i<<k, (i+1)<<k)
}

// hashChildren is RFC 6962's interior node hash, SHA-256(0x01 || l || r).
func hashChildren(l, r *hash) hash {
	var buf [1 + 2*HashSize]byte
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], l[:])
	copy(buf[1+HashSize:], r[:])
	return sha256.Sum256(buf[:])
}

// Append adds a leaf hash at index Size() and completes the perfect
// subtrees it closes. It refuses a hash that is not HashSize bytes.
func (t *Tree) Append(leafHash []byte) error {
	if len(leafHash) != HashSize {
		return fmt.Errorf("audit.Tree.Append: %d bytes: %w", len(leafHash), ErrBadHash)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.append(hash(leafHash))
	return nil
}

func (t *Tree) append(h hash) {
	for level := 0; ; level++ {
		if level == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[level] = append(t.levels[level], h)
		n := len(t.levels[level])
		if n%2 == 1 {
			return
		}
		h = hashChildren(&t.levels[level][n-2], &t.levels[level][n-1])
	}
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.size()
}

func (t *Tree) size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// LeafHash returns the leaf hash at index.
func (t *Tree) LeafHash(index uint64) ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if index >= t.size() {
		return nil, fmt.Errorf("audit.Tree.LeafHash: index %d, size %d: %w", index, t.size(), ErrOutOfRange)
	}
	h := t.levels[0][index]
	return h[:], nil
}

// Root returns the root hash of the whole tree (SHA-256 of nothing when
// empty).
func (t *Tree) Root() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.rootAt(t.size())
}

// RootAt returns the root hash the tree had when it held size leaves.
func (t *Tree) RootAt(size uint64) ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size > t.size() {
		return nil, fmt.Errorf("audit.Tree.RootAt: size %d beyond %d: %w", size, t.size(), ErrOutOfRange)
	}
	return t.rootAt(size), nil
}

func (t *Tree) rootAt(size uint64) []byte {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	// The perfect subtrees covering [0, size), left to right, folded from
	// the right.
	ids := compact.RangeNodes(0, size, nil)
	root := *t.node(ids[len(ids)-1])
	for i := len(ids) - 2; i >= 0; i-- {
		root = hashChildren(t.node(ids[i]), &root)
	}
	return root[:]
}

// node returns a stored node; the caller ensures it is complete.
func (t *Tree) node(id compact.NodeID) *hash {
	return &t.levels[id.Level][id.Index]
}

// InclusionProof returns the RFC 6962 inclusion proof (audit path) for the
// leaf at index in the tree of the given size, which may be any size up to
// Size(). It needs index < size.
func (t *Tree) InclusionProof(index, size uint64) ([][]byte, error) {
	const op = "audit.Tree.InclusionProof"
	t.mu.RLock()
	defer t.mu.RUnlock()
	if index >= size || size > t.size() {
		return nil, fmt.Errorf("%s: index %d, size %d, tree size %d: %w", op, index, size, t.size(), ErrOutOfRange)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", op, err, ErrOutOfRange)
	}
	return t.rehash(op, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes from and to, with from <= to <= Size(). It is empty when from is
// 0 or equals to.
func (t *Tree) ConsistencyProof(from, to uint64) ([][]byte, error) {
	const op = "audit.Tree.ConsistencyProof"
	t.mu.RLock()
	defer t.mu.RUnlock()
	if from > to || to > t.size() {
		return nil, fmt.Errorf("%s: from %d, to %d, tree size %d: %w", op, from, to, t.size(), ErrOutOfRange)
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", op, err, ErrOutOfRange)
	}
	return t.rehash(op, nodes)
}

// rehash fetches the nodes of a proof and folds the ephemeral node, if any.
// Every ID in a proof for a size up to t.size() is a complete node.
func (t *Tree) rehash(op string, nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h := *t.node(id)
		hashes[i] = h[:]
	}
	out, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
