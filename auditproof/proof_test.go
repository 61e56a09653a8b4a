package auditproof

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
)

func leafData(i uint64) []byte { return fmt.Appendf(nil, `{"index":%d}`, i) }

// refTree builds the reference tree of the merkle module over n entries.
func refTree(n uint64) *testonly.Tree {
	tr := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		tr.AppendData(leafData(i))
	}
	return tr
}

func TestLeafHashIsRFC6962(t *testing.T) {
	leaves, roots := testonly.LeafInputs(), testonly.RootHashes()
	tr := testonly.New(rfc6962.DefaultHasher)
	for i, l := range leaves {
		tr.Append(LeafHash(l))
		if got := tr.HashAt(uint64(i + 1)); !bytes.Equal(got, roots[i+1]) {
			t.Errorf("root at %d = %x, want %x", i+1, got, roots[i+1])
		}
	}
	if !bytes.Equal(EmptyRoot(), roots[0]) {
		t.Errorf("EmptyRoot = %x, want %x", EmptyRoot(), roots[0])
	}
}

func TestVerifyInclusionAllSizes(t *testing.T) {
	const n = 40
	tr := refTree(n)
	for size := uint64(1); size <= n; size++ {
		cp := Checkpoint{"o", size, tr.HashAt(size)}
		for i := range size {
			p, err := tr.InclusionProof(i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(cp, i, leafData(i), p); err != nil {
				t.Fatalf("size %d index %d: %v", size, i, err)
			}
			if err := VerifyInclusionHash(cp, i, LeafHash(leafData(i)), p); err != nil {
				t.Fatalf("hash form, size %d index %d: %v", size, i, err)
			}
		}
	}
}

func TestVerifyInclusionRejects(t *testing.T) {
	tr := refTree(11)
	cp := Checkpoint{"o", 11, tr.HashAt(11)}
	p, err := tr.InclusionProof(6, 11)
	if err != nil {
		t.Fatal(err)
	}
	flipped := func() [][]byte {
		q := make([][]byte, len(p))
		for i := range p {
			q[i] = bytes.Clone(p[i])
		}
		q[1][0] ^= 1
		return q
	}()
	for _, tc := range []struct {
		name  string
		cp    Checkpoint
		index uint64
		data  []byte
		proof [][]byte
		want  error
	}{
		{"other data", cp, 6, leafData(7), p, ErrProof},
		{"other index", cp, 5, leafData(6), p, ErrProof},
		{"index beyond size", cp, 11, leafData(6), p, ErrProof},
		{"other root", Checkpoint{"o", 11, tr.HashAt(10)}, 6, leafData(6), p, ErrProof},
		{"other size", Checkpoint{"o", 10, tr.HashAt(10)}, 6, leafData(6), p, ErrProof},
		{"flipped bit", cp, 6, leafData(6), flipped, ErrProof},
		{"short proof", cp, 6, leafData(6), p[:len(p)-1], ErrProof},
		{"long proof", cp, 6, leafData(6), append(p[:len(p):len(p)], p[0]), ErrProof},
		{"short hash", cp, 6, leafData(6), [][]byte{p[0][:31], p[1], p[2], p[3]}, ErrMalformed},
		{"short root", Checkpoint{"o", 11, []byte{1}}, 6, leafData(6), p, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyInclusion(tc.cp, tc.index, tc.data, tc.proof); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyConsistencyAllPairs(t *testing.T) {
	const n = 33
	tr := refTree(n)
	for from := uint64(0); from <= n; from++ {
		for to := from; to <= n; to++ {
			p, err := tr.ConsistencyProof(from, to)
			if err != nil {
				t.Fatal(err)
			}
			older, newer := Checkpoint{"o", from, tr.HashAt(from)}, Checkpoint{"o", to, tr.HashAt(to)}
			if err := VerifyConsistency(older, newer, p); err != nil {
				t.Fatalf("%d to %d: %v", from, to, err)
			}
		}
	}
}

func TestVerifyConsistencyRejects(t *testing.T) {
	tr := refTree(20)
	p, err := tr.ConsistencyProof(7, 20)
	if err != nil {
		t.Fatal(err)
	}
	older, newer := Checkpoint{"o", 7, tr.HashAt(7)}, Checkpoint{"o", 20, tr.HashAt(20)}
	forked := refTree(20)
	forked.AppendData([]byte("x"))
	for _, tc := range []struct {
		name         string
		older, newer Checkpoint
		proof        [][]byte
		want         error
	}{
		{"other origin", older, Checkpoint{"p", 20, newer.Root}, p, ErrProof},
		{"shrinking", newer, older, p, ErrProof},
		{"other older root", Checkpoint{"o", 7, tr.HashAt(6)}, newer, p, ErrProof},
		{"forked newer", older, Checkpoint{"o", 21, forked.HashAt(21)}, p, ErrProof},
		{"same size, other root", older, Checkpoint{"o", 7, tr.HashAt(8)}, nil, ErrProof},
		{"empty older, wrong root", Checkpoint{"o", 0, tr.HashAt(1)}, newer, nil, ErrProof},
		{"short proof", older, newer, p[:1], ErrProof},
		{"bad hash", older, newer, [][]byte{{1, 2}}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyConsistency(tc.older, tc.newer, tc.proof); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestProofJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hashes [][]byte
		json   string
	}{
		{"empty", [][]byte{}, `{"hashes":[]}`},
		{"two", [][]byte{root(1), EmptyRoot()}, `{"hashes":["S/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo=","47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeProof(tc.hashes)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.json, string(got)); d != "" {
				t.Errorf("EncodeProof (-want +got):\n%s", d)
			}
			back, err := DecodeProof(got)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.hashes, back); d != "" {
				t.Errorf("DecodeProof (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeProofRejects(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"empty", ``},
		{"null", `null`},
		{"missing hashes", `{}`},
		{"null hashes", `{"hashes":null}`},
		{"unknown field", `{"hashes":[],"size":3}`},
		{"trailing", `{"hashes":[]} {}`},
		{"short hash", `{"hashes":["AAAA"]}`},
		{"not base64", `{"hashes":["!!!"]}`},
		{"not a string", `{"hashes":[1]}`},
		{"too many", `{"hashes":[` + string(bytes.Repeat([]byte(`"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",`), 128)) + `"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeProof([]byte(tc.body)); !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzDecodeProof(f *testing.F) {
	f.Add([]byte(`{"hashes":[]}`))
	f.Add(readTestdata(f, "inclusion_3_6.json"))
	f.Add([]byte(`{"hashes":["S/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo="]}`))
	f.Add([]byte(`{"hashes":["S/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		hashes, err := DecodeProof(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := EncodeProof(hashes)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeProof(again)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(hashes, back); d != "" {
			t.Fatalf("(-first +again):\n%s", d)
		}
	})
}
