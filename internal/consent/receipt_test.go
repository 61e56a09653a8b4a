package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// testKey is a fixed Ed25519 key so that the golden receipt is stable.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func registrationRecords() []Record {
	return []Record{
		rec(Identity, Registration, Granted, 0),
		rec(Fingerprint, Verification, Granted, 0),
		rec(Fingerprint, Deduplication, Granted, 0),
		rec(Face, Verification, Declined, 0),
		rec(Face, Deduplication, Declined, 0),
		rec(Iris, Verification, Declined, 0),
		rec(Health, Research, Granted, 0),
		rec(DNA, Research, Declined, 0),
	}
}

func testReceipt(t testing.TB) Receipt {
	t.Helper()
	r, err := BuildReceipt(ReceiptInput{
		ReceiptID:    "5f1c7a52-3f0e-4a8e-bb53-0d6c9a1e2f47",
		Jurisdiction: "KE",
		PolicyURL:    "https://registry.example/notice/2026-01",
		Controller:   Controller{Name: "Ministry of Health", Contact: "Data Protection Officer", Address: "PO Box 1, Nairobi", Email: "dpo@health.example"},
		Site:         "site-a",
		Code:         "K7QX-2M9D-PW4R",
		Records:      registrationRecords(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildReceipt(t *testing.T) {
	r := testReceipt(t)
	want := Receipt{
		Version: ReceiptVersion, Jurisdiction: "KE", ConsentTimestamp: t0.Unix(), CollectionMethod: "paper",
		ConsentReceiptID: "5f1c7a52-3f0e-4a8e-bb53-0d6c9a1e2f47", Language: "en", PIIPrincipalID: pid,
		PIIControllers: []Controller{{Name: "Ministry of Health", Contact: "Data Protection Officer", Address: "PO Box 1, Nairobi", Email: "dpo@health.example"}},
		PolicyURL:      "https://registry.example/notice/2026-01",
		Services: []Service{{Service: "Assent population registry", Purposes: []ReceiptPurpose{
			{Purpose: "registration", PurposeCategory: []string{purposeDescription[Registration]}, ConsentType: "EXPLICIT",
				PIICategory: []string{"identity"}, PrimaryPurpose: true, Termination: termination},
			{Purpose: "verification", PurposeCategory: []string{purposeDescription[Verification]}, ConsentType: "EXPLICIT",
				PIICategory: []string{"fingerprint"}, Termination: termination},
			{Purpose: "deduplication", PurposeCategory: []string{purposeDescription[Deduplication]}, ConsentType: "EXPLICIT",
				PIICategory: []string{"fingerprint"}, Termination: termination},
			{Purpose: "research", PurposeCategory: []string{purposeDescription[Research]}, ConsentType: "EXPLICIT",
				PIICategory: []string{"health"}, Termination: termination},
		}}},
		Sensitive:     true,
		SPICat:        []string{"biometric", "health"},
		NoticeVersion: "2026-01",
		Site:          "site-a",
		Granted:       []Pair{{Identity, Registration}, {Fingerprint, Verification}, {Fingerprint, Deduplication}, {Health, Research}},
		Declined:      []Pair{{Face, Verification}, {Face, Deduplication}, {Iris, Verification}, {DNA, Research}},
		Code:          "K7QX-2M9D-PW4R",
		CareData:      CareRetentionStatement(0),
	}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("BuildReceipt (-want +got):\n%s", d)
	}
}

func TestBuildReceiptErrors(t *testing.T) {
	other := registrationRecords()
	other[3].PersonID = "someone-else"
	guardian := registrationRecords()
	guardian[0].GuardianID = "g"
	invalid := registrationRecords()
	invalid[1].Method = ""
	tests := []struct {
		name    string
		records []Record
		want    error
	}{
		{"no records", nil, ErrNoConsents},
		{"two persons", other, ErrMixedRecords},
		{"guardian on some records only", guardian, ErrMixedRecords},
		{"invalid record", invalid, ErrMissingMethod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildReceipt(ReceiptInput{ReceiptID: "x", Records: tt.records})
			if !errors.Is(err, tt.want) {
				t.Errorf("BuildReceipt error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSignAndVerifyReceipt(t *testing.T) {
	pub, priv := testKey(1)
	signed, err := SignReceipt(testReceipt(t), priv)
	mustNoErr(t, err)
	b, err := json.Marshal(signed)
	mustNoErr(t, err)

	got, err := VerifyReceipt(b, pub)
	mustNoErr(t, err)
	if d := cmp.Diff(signed.Receipt, got); d != "" {
		t.Errorf("verified receipt (-signed +got):\n%s", d)
	}

	t.Run("indented JSON still verifies", func(t *testing.T) {
		var ind bytes.Buffer
		mustNoErr(t, json.Indent(&ind, b, "", "  "))
		if _, err := VerifyReceipt(ind.Bytes(), pub); err != nil {
			t.Error(err)
		}
	})
	t.Run("without the portal code still verifies", func(t *testing.T) {
		s := signed
		s.Receipt.Code = ""
		nb, _ := json.Marshal(s)
		if _, err := VerifyReceipt(nb, pub); err != nil {
			t.Error(err)
		}
	})

	otherPub, otherPriv := testKey(2)
	tamper := func(f func(*SignedReceipt)) []byte {
		s := signed
		s.Receipt.Granted = append([]Pair(nil), signed.Receipt.Granted...)
		f(&s)
		nb, err := json.Marshal(s)
		mustNoErr(t, err)
		return nb
	}
	forged, err := SignReceipt(testReceipt(t), otherPriv)
	mustNoErr(t, err)
	forged.KeyID = ""
	forgedJSON, _ := json.Marshal(forged)
	tests := []struct {
		name string
		json []byte
		pub  ed25519.PublicKey
		want error
	}{
		{"granted list changed", tamper(func(s *SignedReceipt) { s.Receipt.Granted[1].Category = Iris }), pub, ErrBadSignature},
		{"person changed", tamper(func(s *SignedReceipt) { s.Receipt.PIIPrincipalID = "other" }), pub, ErrBadSignature},
		{"time changed", tamper(func(s *SignedReceipt) { s.Receipt.ConsentTimestamp++ }), pub, ErrBadSignature},
		{"declined moved to granted", tamper(func(s *SignedReceipt) {
			s.Receipt.Granted = append(s.Receipt.Granted, s.Receipt.Declined[0])
			s.Receipt.Declined = s.Receipt.Declined[1:]
		}), pub, ErrBadSignature},
		{"wrong key", b, otherPub, ErrWrongKey},
		{"signed by another key without key id", forgedJSON, pub, ErrBadSignature},
		{"unknown field", bytes.Replace(b, []byte(`"site":`), []byte(`"religion":"x","site":`), 1), pub, ErrMalformedReceipt},
		{"trailing data", append(append([]byte(nil), b...), []byte(`{}`)...), pub, ErrMalformedReceipt},
		{"not JSON", []byte("receipt"), pub, ErrMalformedReceipt},
		{"other version", tamper(func(s *SignedReceipt) { s.Receipt.Version = "KI-CR-v1.0.0" }), pub, ErrUnsupportedReceipt},
		{"signature not base64", tamper(func(s *SignedReceipt) { s.Signature = "%%%" }), pub, ErrMalformedReceipt},
		{"too large", append(b, bytes.Repeat([]byte(" "), MaxReceiptSize)...), pub, ErrMalformedReceipt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyReceipt(tt.json, tt.pub)
			if !errors.Is(err, tt.want) {
				t.Errorf("VerifyReceipt error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReceiptGolden pins the receipt's JSON and canonical signature: a change
// of field names or encoding shows here and must be deliberate (old receipts
// must keep verifying).
func TestReceiptGolden(t *testing.T) {
	pub, priv := testKey(1)
	signed, err := SignReceipt(testReceipt(t), priv)
	mustNoErr(t, err)
	got, err := json.MarshalIndent(signed, "", "  ")
	mustNoErr(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "receipt.golden.json")
	if *update {
		mustNoErr(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	mustNoErr(t, err)
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("receipt JSON changed (-golden +got); run with -update if deliberate:\n%s", d)
	}
	if _, err := VerifyReceipt(want, pub); err != nil {
		t.Errorf("golden receipt no longer verifies: %v", err)
	}
	// A receipt issued before careData existed still verifies.
	old, err := os.ReadFile(filepath.Join("testdata", "receipt-before-care-data.json"))
	mustNoErr(t, err)
	if _, err := VerifyReceipt(old, pub); err != nil {
		t.Errorf("a receipt from before careData no longer verifies: %v", err)
	}
}

func FuzzVerifyReceipt(f *testing.F) {
	pub, priv := testKey(1)
	signed, err := SignReceipt(testReceipt(f), priv)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(signed)
	f.Add(b)
	if golden, err := os.ReadFile(filepath.Join("testdata", "receipt.golden.json")); err == nil {
		f.Add(golden)
	}
	f.Add([]byte(`{"receipt":{},"signature":""}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"receipt":{"version":"KI-CR-v1.1.0"},"keyId":"","signature":"AAAA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := VerifyReceipt(data, pub)
		if err != nil {
			return
		}
		// Anything that verifies re-signs to the same canonical message.
		again, err := SignReceipt(r, priv)
		if err != nil {
			t.Fatal(err)
		}
		nb, _ := json.Marshal(again)
		if _, err := VerifyReceipt(nb, pub); err != nil {
			t.Fatalf("re-signed receipt does not verify: %v", err)
		}
	})
}

func BenchmarkVerifyReceipt(b *testing.B) {
	pub, priv := testKey(1)
	signed, err := SignReceipt(testReceipt(b), priv)
	if err != nil {
		b.Fatal(err)
	}
	js, _ := json.Marshal(signed)
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		if _, err := VerifyReceipt(js, pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignReceipt(b *testing.B) {
	_, priv := testKey(1)
	r := testReceipt(b)
	for b.Loop() {
		if _, err := SignReceipt(r, priv); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCareRetentionStatement: the receipt states the programme's one rule
// about check-up data, and a withdrawal receipt lists an empty purposes
// array, never null (issue 12, items 5 and 10).
func TestCareRetentionStatement(t *testing.T) {
	for _, tc := range []struct {
		retention time.Duration
		want      string
	}{
		{0, "erased with your record"},
		{90 * 24 * time.Hour, "kept for 90 days, readable only for your care, and then erased"},
		{36 * time.Hour, "kept for 2 days"},
	} {
		got := CareRetentionStatement(tc.retention)
		if !strings.Contains(got, tc.want) || !strings.Contains(Termination(tc.retention), got) {
			t.Errorf("retention %v: %q, want it to say %q", tc.retention, got, tc.want)
		}
	}
	rc, err := BuildReceipt(ReceiptInput{ReceiptID: "r", Jurisdiction: "ZZ", CareRetention: 30 * 24 * time.Hour, Records: []Record{
		{PersonID: pid, Category: Identity, Purpose: Registration, Decision: Withdrawn, Method: "portal", NoticeVersion: "n1", Language: "en", At: t0},
	}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"purposes":[]`) || !strings.Contains(rc.CareData, "kept for 30 days") || len(rc.Withdrawn) != 1 {
		t.Errorf("withdrawal receipt: %s", b)
	}
}
