package auditproof_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/assent-registry/assent/auditproof"
)

// A third party (an auditor, a journalist, the person themself) holds the
// registry's published verifier key and one audit entry, for example from
// the person's access log. It checks that the server's latest checkpoint is
// signed by the registry, that the entry is in the log, and that a later
// checkpoint extends the one it saw before.
func Example() {
	srv, verifierKey, entry := fakeRegistry()
	defer srv.Close()

	// 1. The checkpoint, verified against the published key.
	older, err := auditproof.OpenCheckpoint(get(srv.URL+"/v1/audit/checkpoint"), verifierKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("checkpoint of %s: %d entries\n", older.Origin, older.Size)

	// 2. The entry at index 3 is in the log this checkpoint commits to.
	proof, err := auditproof.DecodeProof(get(fmt.Sprintf("%s/v1/audit/proof/inclusion?index=%d&size=%d", srv.URL, 3, older.Size)))
	if err != nil {
		log.Fatal(err)
	}
	if err := auditproof.VerifyInclusion(older, 3, entry, proof); err != nil {
		log.Fatal(err)
	}
	fmt.Println("entry 3 is included")

	// 3. Later: the log grew, and the new checkpoint keeps the old history.
	newer, err := auditproof.OpenCheckpoint(get(srv.URL+"/v1/audit/checkpoint"), verifierKey)
	if err != nil {
		log.Fatal(err)
	}
	proof, err = auditproof.DecodeProof(get(fmt.Sprintf("%s/v1/audit/proof/consistency?from=%d&to=%d", srv.URL, older.Size, newer.Size)))
	if err != nil {
		log.Fatal(err)
	}
	if err := auditproof.VerifyConsistency(older, newer, proof); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d entries extend the %d seen before\n", newer.Size, older.Size)
	// Output:
	// checkpoint of registry.example/audit: 6 entries
	// entry 3 is included
	// 9 entries extend the 6 seen before
}

func get(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	return body
}

// fakeRegistry stands in for an Assent server: it serves the audit
// endpoints over a small log that grows by three entries after the first
// checkpoint is fetched. It returns the server, the verifier key the
// registry publishes and the data of entry 3.
func fakeRegistry() (*httptest.Server, string, []byte) {
	const origin = "registry.example/audit"
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	vkey, err := note.NewEd25519VerifierKey(origin, priv.Public().(ed25519.PublicKey))
	if err != nil {
		log.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	signer := exampleSigner{origin, v.KeyHash(), priv}
	entry := func(i int) []byte { return fmt.Appendf(nil, `{"v":1,"index":%d}`, i) }
	tree := testonly.New(rfc6962.DefaultHasher)
	for i := range 6 {
		tree.AppendData(entry(i))
	}
	served := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/audit/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		if served++; served == 2 {
			for i := 6; i < 9; i++ {
				tree.AppendData(entry(i))
			}
		}
		cp := auditproof.Checkpoint{Origin: origin, Size: tree.Size(), Root: tree.Hash()}
		signed, err := note.Sign(&note.Note{Text: string(cp.Text())}, signer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(signed)
	})
	proofHandler := func(a, b string, prove func(x, y uint64) ([][]byte, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			x, err1 := strconv.ParseUint(r.URL.Query().Get(a), 10, 64)
			y, err2 := strconv.ParseUint(r.URL.Query().Get(b), 10, 64)
			if err1 != nil || err2 != nil {
				http.Error(w, "bad query", http.StatusBadRequest)
				return
			}
			hashes, err := prove(x, y)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body, err := auditproof.EncodeProof(hashes)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /v1/audit/proof/inclusion", proofHandler("index", "size", tree.InclusionProof))
	mux.HandleFunc("GET /v1/audit/proof/consistency", proofHandler("from", "to", tree.ConsistencyProof))
	return httptest.NewServer(mux), vkey, entry(3)
}

type exampleSigner struct {
	name string
	hash uint32
	priv ed25519.PrivateKey
}

func (s exampleSigner) Name() string                    { return s.name }
func (s exampleSigner) KeyHash() uint32                 { return s.hash }
func (s exampleSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.priv, msg), nil }

// Checking one entry of a person's access log offline, from saved files:
// the registry's published key, a checkpoint note, the entry's exact bytes
// and its inclusion proof.
func ExampleVerifyInclusion() {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	cp, err := auditproof.OpenCheckpoint(read("checkpoint.note"), string(read("verifier.key")))
	if err != nil {
		log.Fatal(err)
	}
	hashes, err := auditproof.DecodeProof(read("inclusion_3_6.json"))
	if err != nil {
		log.Fatal(err)
	}
	entry := read("entry3.json")
	if err := auditproof.VerifyInclusion(cp, 3, entry, hashes); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry 3 of %d is in the log of %s\n", cp.Size, cp.Origin)

	// One changed byte, and the proof fails.
	entry[len(entry)-3] ^= 1
	err = auditproof.VerifyInclusion(cp, 3, entry, hashes)
	fmt.Println(errors.Is(err, auditproof.ErrProof))
	// Output:
	// entry 3 of 6 is in the log of registry.example.org/audit
	// true
}
