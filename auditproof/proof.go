package auditproof

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// MaxProofHashes bounds the hashes a decoded proof may hold. A proof in a
// tree of 2^64 entries needs at most 2*64; anything longer is malformed.
const MaxProofHashes = 128

// LeafHash returns the RFC 6962 leaf hash of an audit entry's data: SHA-256
// of a zero byte followed by the data.
func LeafHash(data []byte) []byte {
	return rfc6962.DefaultHasher.HashLeaf(data)
}

// EmptyRoot is the root hash of the empty log: SHA-256 of nothing.
func EmptyRoot() []byte {
	return rfc6962.DefaultHasher.EmptyRoot()
}

// VerifyInclusion checks that leafData, the exact bytes of an audit entry, is
// the entry at index in the log committed to by cp, using proof (the hashes of
// an inclusion proof for index in a tree of cp.Size entries). cp should come
// from OpenCheckpoint.
func VerifyInclusion(cp Checkpoint, index uint64, leafData []byte, hashes [][]byte) error {
	const op = "auditproof.VerifyInclusion"
	if err := verifyInclusionHash(cp, index, LeafHash(leafData), hashes); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// VerifyInclusionHash is VerifyInclusion for a caller that holds the leaf
// hash rather than the entry's data.
func VerifyInclusionHash(cp Checkpoint, index uint64, leafHash []byte, hashes [][]byte) error {
	const op = "auditproof.VerifyInclusionHash"
	if err := verifyInclusionHash(cp, index, leafHash, hashes); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func verifyInclusionHash(cp Checkpoint, index uint64, leafHash []byte, hashes [][]byte) error {
	if index >= cp.Size {
		return fmt.Errorf("index %d is not below checkpoint size %d: %w", index, cp.Size, ErrProof)
	}
	if len(leafHash) != HashSize || len(cp.Root) != HashSize {
		return fmt.Errorf("leaf or root hash is not %d bytes: %w", HashSize, ErrMalformed)
	}
	if err := checkHashes(hashes); err != nil {
		return err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leafHash, hashes, cp.Root); err != nil {
		return fmt.Errorf("entry %d in size %d: %v: %w", index, cp.Size, err, ErrProof)
	}
	return nil
}

// VerifyConsistency checks that the log committed to by newer extends the
// one committed to by older: the first older.Size entries are unchanged.
// hashes is a consistency proof from older.Size to newer.Size. Both
// checkpoints should come from OpenCheckpoint and must share an origin.
func VerifyConsistency(older, newer Checkpoint, hashes [][]byte) error {
	const op = "auditproof.VerifyConsistency"
	if older.Origin != newer.Origin {
		return fmt.Errorf("%s: origins %q and %q differ: %w", op, older.Origin, newer.Origin, ErrProof)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("%s: older size %d exceeds newer size %d: %w", op, older.Size, newer.Size, ErrProof)
	}
	if len(older.Root) != HashSize || len(newer.Root) != HashSize {
		return fmt.Errorf("%s: root hash is not %d bytes: %w", op, HashSize, ErrMalformed)
	}
	if err := checkHashes(hashes); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if older.Size == 0 && !bytes.Equal(older.Root, EmptyRoot()) {
		return fmt.Errorf("%s: empty checkpoint with a non-empty root: %w", op, ErrProof)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, hashes, older.Root, newer.Root); err != nil {
		return fmt.Errorf("%s: sizes %d to %d: %v: %w", op, older.Size, newer.Size, err, ErrProof)
	}
	return nil
}

func checkHashes(hashes [][]byte) error {
	if len(hashes) > MaxProofHashes {
		return fmt.Errorf("proof has %d hashes, at most %d allowed: %w", len(hashes), MaxProofHashes, ErrMalformed)
	}
	for i, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("proof hash %d is %d bytes, want %d: %w", i, len(h), HashSize, ErrMalformed)
		}
	}
	return nil
}

// proofBody is the JSON the server returns for both kinds of proof.
type proofBody struct {
	Hashes []string `json:"hashes"`
}

// EncodeProof returns the JSON form of a proof the server serves:
// {"hashes":["<base64>",...]} with standard, padded base64. An empty proof
// is {"hashes":[]}.
func EncodeProof(hashes [][]byte) ([]byte, error) {
	const op = "auditproof.EncodeProof"
	if err := checkHashes(hashes); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body := proofBody{Hashes: make([]string, len(hashes))}
	for i, h := range hashes {
		body.Hashes[i] = base64.StdEncoding.EncodeToString(h)
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// DecodeProof parses the JSON form of a proof, strictly: one object with
// exactly the "hashes" field, each hash canonical base64 of HashSize bytes,
// at most MaxProofHashes of them. It checks the form only; VerifyInclusion
// and VerifyConsistency check the content.
func DecodeProof(body []byte) ([][]byte, error) {
	const op = "auditproof.DecodeProof"
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var pb struct {
		Hashes *[]string `json:"hashes"`
	}
	if err := dec.Decode(&pb); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", op, err, ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the object: %w", op, ErrMalformed)
	}
	if pb.Hashes == nil {
		return nil, fmt.Errorf("%s: missing hashes: %w", op, ErrMalformed)
	}
	if len(*pb.Hashes) > MaxProofHashes {
		return nil, fmt.Errorf("%s: %d hashes, at most %d allowed: %w", op, len(*pb.Hashes), MaxProofHashes, ErrMalformed)
	}
	hashes := make([][]byte, len(*pb.Hashes))
	for i, s := range *pb.Hashes {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != HashSize || base64.StdEncoding.EncodeToString(h) != s {
			return nil, fmt.Errorf("%s: hash %d is not base64 of %d bytes: %w", op, i, HashSize, ErrMalformed)
		}
		hashes[i] = h
	}
	return hashes, nil
}
