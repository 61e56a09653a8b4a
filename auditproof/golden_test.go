package auditproof

import (
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenFiles checks files produced by the server code (internal/audit)
// once and kept: a signed checkpoint of 6 entries, entry 3 and its
// inclusion proof. They must keep verifying, whatever changes.
func TestGoldenFiles(t *testing.T) {
	cp, err := OpenCheckpoint(readTestdata(t, "checkpoint.note"), string(readTestdata(t, "verifier.key")))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != "registry.example.org/audit" || cp.Size != 6 {
		t.Errorf("checkpoint %+v", cp)
	}
	hashes, err := DecodeProof(readTestdata(t, "inclusion_3_6.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(cp, 3, readTestdata(t, "entry3.json"), hashes); err != nil {
		t.Error(err)
	}
}
