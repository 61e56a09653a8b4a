package audit

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
)

// benchLeaves returns n distinct leaf hashes.
func benchLeaves(n int) [][]byte {
	out := make([][]byte, n)
	var buf [8]byte
	for i := range out {
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		out[i] = LeafHash(buf[:])
	}
	return out
}

func BenchmarkTreeAppend(b *testing.B) {
	leaves := benchLeaves(1 << 16)
	var tr Tree
	i := 0
	for b.Loop() {
		if err := tr.Append(leaves[i&(len(leaves)-1)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkInclusionProof1M measures one inclusion proof at a spread of
// indexes in a tree of a million entries (size not a power of two).
func BenchmarkInclusionProof1M(b *testing.B) {
	const n = 1_000_003
	tr := buildTree(b, benchLeaves(n))
	i := uint64(0)
	for b.Loop() {
		if _, err := tr.InclusionProof(i%n, n); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

func BenchmarkConsistencyProof1M(b *testing.B) {
	const n = 1_000_003
	tr := buildTree(b, benchLeaves(n))
	i := uint64(1)
	for b.Loop() {
		if _, err := tr.ConsistencyProof(i%n, n); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

func BenchmarkRootAt1M(b *testing.B) {
	const n = 1_000_003
	tr := buildTree(b, benchLeaves(n))
	for b.Loop() {
		if _, err := tr.RootAt(n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeLeafHash is the audit cost on the request path: encode the
// event and hash it for the row.
func BenchmarkEncodeLeafHash(b *testing.B) {
	e := testEvent(12345)
	for b.Loop() {
		data, err := e.Encode()
		if err != nil {
			b.Fatal(err)
		}
		_ = LeafHash(data)
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	data, err := testEvent(12345).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeEvent(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignCheckpoint(b *testing.B) {
	s := testSigner(b, 1)
	root := LeafHash(nil)
	for b.Loop() {
		if _, err := s.SignCheckpoint(1_000_000, root); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify10k is `audit verify` over 10,000 rows and one checkpoint;
// divide by 10,000 for the cost per entry.
func BenchmarkVerify10k(b *testing.B) {
	s := &fakeStore{}
	s.appendEvents(b, 10_000)
	signer := testSigner(b, 1)
	if _, err := newTestLog(b, s, signer, 0).Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Verify(context.Background(), s.allRows(), s.notes, signer.VerifierKey()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTreeMemory1M reports the heap a tree of a million entries keeps
// (bytes/entry), including slice growth slack.
func BenchmarkTreeMemory1M(b *testing.B) {
	const n = 1_000_003
	leaves := benchLeaves(n)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := buildTree(b, leaves)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/entry")
		runtime.KeepAlive(tr)
	}
}
