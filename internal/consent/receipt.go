package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ReceiptVersion is the Kantara Consent Receipt version whose field names the
// receipt follows.
const ReceiptVersion = "KI-CR-v1.1.0"

// MaxReceiptSize bounds the JSON VerifyReceipt accepts.
const MaxReceiptSize = 64 << 10

// receiptDomain separates receipt signatures from every other use of the key.
const receiptDomain = "assent consent receipt v1\n"

// Receipt errors, wrapped with an op prefix; test with errors.Is.
var (
	ErrMalformedReceipt   = errors.New("malformed receipt")
	ErrUnsupportedReceipt = errors.New("unsupported receipt version")
	ErrWrongKey           = errors.New("receipt was signed by another key")
	ErrBadSignature       = errors.New("receipt signature does not verify")
	ErrNoConsents         = errors.New("no consent records for the receipt")
	ErrMixedRecords       = errors.New("receipt records disagree on person, method, language, notice or guardian")
)

// Controller is a PII controller of the Kantara receipt (piiControllers).
// Address is free text here (Kantara has a postal address object).
type Controller struct {
	Name     string `json:"piiController"`
	OnBehalf bool   `json:"onBehalf"`
	Contact  string `json:"contact"`
	Address  string `json:"address"`
	Email    string `json:"email"`
	Phone    string `json:"phone,omitempty"`
	URL      string `json:"piiControllerUrl,omitempty"`
}

// ReceiptPurpose is one purpose of a service (Kantara services[].purposes[]).
type ReceiptPurpose struct {
	Purpose              string   `json:"purpose"`
	PurposeCategory      []string `json:"purposeCategory"`
	ConsentType          string   `json:"consentType"`
	PIICategory          []string `json:"piiCategory"`
	PrimaryPurpose       bool     `json:"primaryPurpose"`
	Termination          string   `json:"termination"`
	ThirdPartyDisclosure bool     `json:"thirdPartyDisclosure"`
}

// Service is a Kantara service: what the consents are for.
type Service struct {
	Service  string           `json:"service"`
	Purposes []ReceiptPurpose `json:"purposes"`
}

// Receipt is the consent receipt given to a person: the Kantara Consent
// Receipt v1.1 fields where they fit, then Assent's own. It holds ids, never
// names. Code is the portal code, shown once; it is carried in the receipt but
// left out of what is signed, so a person can show a receipt without the code
// and it still verifies.
type Receipt struct {
	Version          string       `json:"version"`
	Jurisdiction     string       `json:"jurisdiction"`
	ConsentTimestamp int64        `json:"consentTimestamp"` // seconds since 1970 UTC
	CollectionMethod string       `json:"collectionMethod"`
	ConsentReceiptID string       `json:"consentReceiptID"`
	PublicKey        string       `json:"publicKey,omitempty"` // base64 Ed25519 public key of the signer, set by SignReceipt
	Language         string       `json:"language"`
	PIIPrincipalID   string       `json:"piiPrincipalId"`
	PIIControllers   []Controller `json:"piiControllers"`
	PolicyURL        string       `json:"policyUrl"`
	Services         []Service    `json:"services"`
	Sensitive        bool         `json:"sensitive"`
	SPICat           []string     `json:"spiCat"`

	// Assent's fields.
	NoticeVersion string `json:"noticeVersion"`
	Site          string `json:"site"`
	GuardianID    string `json:"guardianId,omitempty"`
	Granted       []Pair `json:"granted"`
	Declined      []Pair `json:"declined"`
	Withdrawn     []Pair `json:"withdrawn,omitempty"`
	Code          string `json:"code,omitempty"`
	// PersonNumber is the number the person reads and types (grouped for
	// reading), so the receipt alone is enough to open the portal.
	PersonNumber string `json:"personNumber,omitempty"`
	// CareData is CareRetentionStatement for the programme's retention.
	CareData string `json:"careData,omitempty"`
}

// ReceiptInput is what BuildReceipt needs besides the consent records.
type ReceiptInput struct {
	ReceiptID    string // a fresh unique id (UUID), chosen by the caller
	Jurisdiction string // ISO 3166 code
	PolicyURL    string
	Controller   Controller
	ServiceName  string // e.g. "Assent population registry"; empty means that
	Site         string
	Code         string // portal code in clear, or empty
	// CareRetention is the programme's care retention period (stated on
	// the receipt; 0: care data is erased with the person).
	CareRetention time.Duration
	// Records are the answers given in this one transaction, all for one
	// person, with one method, language, notice version and guardian.
	Records      []Record
	PersonNumber string // the person number, grouped for reading; may be empty
}

// termination is Termination with no care retention (the default).
var termination = Termination(0)

// Termination tells the person how a consent ends; it is the same for every
// purpose. retention is the programme's care retention period.
func Termination(retention time.Duration) string {
	return "Until withdrawn. Withdrawing stops this use; identity and biometric data left with no purpose is erased. " + CareRetentionStatement(retention)
}

// CareRetentionStatement is the one rule about check-up data, as the
// person reads it on every receipt, in the portal's confirmation of a
// withdrawal and in docs/consent.md: care data (exams, blood type, specimen
// custody) is kept for care while the person is registered, whatever they
// answer about research; when the registration is withdrawn it is erased
// with the person (retention 0, the default) or kept for the retention
// period, readable only for care, and then erased.
func CareRetentionStatement(retention time.Duration) string {
	const head = "Check-up records (exams, blood type, specimen custody) serve your care and are kept while you are registered, whatever you answer about research. "
	if retention <= 0 {
		return head + "If you withdraw your registration, they are erased with your record."
	}
	days := int((retention + 24*time.Hour - 1) / (24 * time.Hour))
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return head + fmt.Sprintf("If you withdraw your registration, they are kept for %d %s, readable only for your care, and then erased.", days, unit)
}

// BuildReceipt assembles the receipt of one consent transaction. The time is
// the latest record's; granted, declined and withdrawn pairs are listed in the
// order of Pairs(); the Kantara services list one purpose per granted purpose
// with the categories granted for it; sensitive and spiCat follow the granted
// categories (biometric, genetic, health).
func BuildReceipt(in ReceiptInput) (Receipt, error) {
	const op = "consent: build receipt"
	if len(in.Records) == 0 {
		return Receipt{}, fmt.Errorf("%s: %w", op, ErrNoConsents)
	}
	first := in.Records[0]
	at := first.At
	byPair := make(map[Pair]Decision)
	for _, rec := range in.Records {
		if err := rec.Validate(); err != nil {
			return Receipt{}, fmt.Errorf("%s: %w", op, err)
		}
		if rec.PersonID != first.PersonID || rec.Method != first.Method || rec.Language != first.Language ||
			rec.NoticeVersion != first.NoticeVersion || rec.GuardianID != first.GuardianID {
			return Receipt{}, fmt.Errorf("%s: %w", op, ErrMixedRecords)
		}
		if rec.At.After(at) {
			at = rec.At
		}
		if cur, ok := byPair[rec.Pair()]; !ok || decisionRank(rec.Decision) > decisionRank(cur) {
			byPair[rec.Pair()] = rec.Decision
		}
	}
	name := in.ServiceName
	if name == "" {
		name = "Assent population registry"
	}
	rc := Receipt{
		Version:          ReceiptVersion,
		Jurisdiction:     in.Jurisdiction,
		ConsentTimestamp: at.Unix(),
		CollectionMethod: first.Method,
		ConsentReceiptID: in.ReceiptID,
		Language:         first.Language,
		PIIPrincipalID:   first.PersonID,
		PIIControllers:   []Controller{in.Controller},
		PolicyURL:        in.PolicyURL,
		Services:         []Service{{Service: name, Purposes: []ReceiptPurpose{}}},
		SPICat:           []string{},
		NoticeVersion:    first.NoticeVersion,
		Site:             in.Site,
		GuardianID:       first.GuardianID,
		Granted:          []Pair{},
		Declined:         []Pair{},
		Code:             in.Code,
		PersonNumber:     in.PersonNumber,
		CareData:         CareRetentionStatement(in.CareRetention),
	}
	grantedCats := make(map[Purpose][]string)
	spi := make(map[string]bool)
	for _, p := range Pairs() {
		switch byPair[p] {
		case Granted:
			rc.Granted = append(rc.Granted, p)
			grantedCats[p.Purpose] = append(grantedCats[p.Purpose], string(p.Category))
			if s := spiCategory(p.Category); s != "" {
				spi[s] = true
			}
		case Declined:
			rc.Declined = append(rc.Declined, p)
		case Withdrawn:
			rc.Withdrawn = append(rc.Withdrawn, p)
		}
	}
	for _, pu := range Purposes {
		cats, ok := grantedCats[pu]
		if !ok {
			continue
		}
		rc.Services[0].Purposes = append(rc.Services[0].Purposes, ReceiptPurpose{
			Purpose:         string(pu),
			PurposeCategory: []string{purposeDescription[pu]},
			ConsentType:     "EXPLICIT",
			PIICategory:     cats,
			PrimaryPurpose:  pu == Registration,
			Termination:     Termination(in.CareRetention),
		})
	}
	for _, s := range []string{"biometric", "genetic", "health"} {
		if spi[s] {
			rc.SPICat = append(rc.SPICat, s)
		}
	}
	rc.Sensitive = len(rc.SPICat) > 0
	return rc, nil
}

func spiCategory(c Category) string {
	switch {
	case c.IsBiometric():
		return "biometric"
	case c == DNA:
		return "genetic"
	case c == Health || c == BloodType:
		return "health"
	}
	return ""
}

// SignedReceipt is a receipt with its Ed25519 signature. Its JSON form is what
// the person gets and what VerifyReceipt reads.
type SignedReceipt struct {
	Receipt   Receipt `json:"receipt"`
	KeyID     string  `json:"keyId"`     // KeyID of the signing key
	Signature string  `json:"signature"` // base64 (standard, padded) Ed25519 signature
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// SignReceipt sets r.PublicKey to priv's public key and signs r's canonical
// encoding (see canonicalReceipt) with priv.
func SignReceipt(r Receipt, priv ed25519.PrivateKey) (SignedReceipt, error) {
	const op = "consent: sign receipt"
	if len(priv) != ed25519.PrivateKeySize {
		return SignedReceipt{}, fmt.Errorf("%s: private key has %d bytes", op, len(priv))
	}
	pub := priv.Public().(ed25519.PublicKey)
	r.PublicKey = base64.StdEncoding.EncodeToString(pub)
	msg, err := canonicalReceipt(r)
	if err != nil {
		return SignedReceipt{}, fmt.Errorf("%s: %w", op, err)
	}
	return SignedReceipt{
		Receipt:   r,
		KeyID:     KeyID(pub),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg)),
	}, nil
}

// VerifyReceipt checks the JSON of a SignedReceipt against the trusted key pub
// and returns the receipt (with its code, if the JSON carries one). The JSON
// is decoded strictly: unknown fields, trailing data and more than
// MaxReceiptSize bytes are ErrMalformedReceipt. The signature covers the
// canonical encoding of the decoded receipt, so the layout of the JSON (spaces,
// field order) does not matter but every value does. The embedded publicKey
// and keyId are only hints: pub is the trust anchor.
func VerifyReceipt(signedJSON []byte, pub ed25519.PublicKey) (Receipt, error) {
	const op = "consent: verify receipt"
	if len(pub) != ed25519.PublicKeySize {
		return Receipt{}, fmt.Errorf("%s: public key has %d bytes", op, len(pub))
	}
	if len(signedJSON) > MaxReceiptSize {
		return Receipt{}, fmt.Errorf("%s: %w: larger than %d bytes", op, ErrMalformedReceipt, MaxReceiptSize)
	}
	var sr SignedReceipt
	dec := json.NewDecoder(bytes.NewReader(signedJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sr); err != nil {
		return Receipt{}, fmt.Errorf("%s: %w: %v", op, ErrMalformedReceipt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Receipt{}, fmt.Errorf("%s: %w: trailing data", op, ErrMalformedReceipt)
	}
	if sr.Receipt.Version != ReceiptVersion {
		return Receipt{}, fmt.Errorf("%s: %w: %q", op, ErrUnsupportedReceipt, sr.Receipt.Version)
	}
	sig, err := base64.StdEncoding.DecodeString(sr.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Receipt{}, fmt.Errorf("%s: %w: bad signature encoding", op, ErrMalformedReceipt)
	}
	if sr.KeyID != "" && sr.KeyID != KeyID(pub) {
		return Receipt{}, fmt.Errorf("%s: %w: key %s", op, ErrWrongKey, sr.KeyID)
	}
	msg, err := canonicalReceipt(sr.Receipt)
	if err != nil {
		return Receipt{}, fmt.Errorf("%s: %w: %v", op, ErrMalformedReceipt, err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return Receipt{}, fmt.Errorf("%s: %w", op, ErrBadSignature)
	}
	return sr.Receipt, nil
}

// canonicalReceipt is the signed message: a domain-separation line, then the
// receipt without its code as encoding/json writes it (struct field order, no
// spaces, HTML characters escaped, invalid UTF-8 replaced by U+FFFD).
func canonicalReceipt(r Receipt) ([]byte, error) {
	r.Code = ""
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append([]byte(receiptDomain), b...), nil
}
