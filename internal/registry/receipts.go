package registry

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
)

// ReceiptKeyName names the registry's receipt signing key in the keyring.
const ReceiptKeyName = "receipts"

// Receipt is what a registration returns: the signed consent receipt plus,
// at the top level for the registrar to print, the person id and the portal
// code. The code is shown once and stored only as an HMAC.
type Receipt struct {
	consent.SignedReceipt
	PersonID string `json:"person_id"`
	// PersonNumber is the person number grouped for reading.
	PersonNumber string    `json:"person_number,omitempty"`
	Code         string    `json:"code,omitempty"` // the portal code: registration receipts only
	Site         string    `json:"site,omitempty"`
	Time         time.Time `json:"time"`
	Granted      []string  `json:"granted"`
	Declined     []string  `json:"declined"`
}

// ReceiptPublicKey returns the key receipts are signed with.
func (r *Registry) ReceiptPublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	priv, err := r.keys.SigningKey(ctx, ReceiptKeyName)
	if err != nil {
		return nil, fmt.Errorf("registry: receipt key: %w", err)
	}
	return priv.Public().(ed25519.PublicKey), nil
}

func (r *Registry) receipt(ctx context.Context, personID, number string, recs []consent.Record, code string, at time.Time, site string) (Receipt, error) {
	built, err := consent.BuildReceipt(consent.ReceiptInput{
		ReceiptID:     newID(),
		Jurisdiction:  r.jurisdiction,
		PolicyURL:     r.policyURL,
		Controller:    r.controller,
		Site:          site,
		Code:          code,
		PersonNumber:  personnumber.Format(number),
		Records:       recs,
		CareRetention: r.careRetention,
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("registry: receipt: %w", err)
	}
	priv, err := r.keys.SigningKey(ctx, ReceiptKeyName)
	if err != nil {
		return Receipt{}, fmt.Errorf("registry: receipt key: %w", err)
	}
	signed, err := consent.SignReceipt(built, priv)
	if err != nil {
		return Receipt{}, err
	}
	out := Receipt{SignedReceipt: signed, PersonID: personID, PersonNumber: personnumber.Format(number), Code: code, Site: site, Time: at, Granted: []string{}, Declined: []string{}}
	for _, rec := range recs {
		pair := string(rec.Category) + "/" + string(rec.Purpose)
		switch rec.Decision {
		case consent.Granted:
			out.Granted = append(out.Granted, pair)
		case consent.Declined:
			out.Declined = append(out.Declined, pair)
		}
	}
	return out, nil
}

// OpenReceipt checks a signed receipt (a SignedReceipt, or the "receipt"
// object of a registration response, whose extra fields are ignored)
// against this registry's receipt key.
func (r *Registry) OpenReceipt(ctx context.Context, b []byte) (consent.Receipt, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(b, &outer); err != nil {
		return consent.Receipt{}, invalid("body", "not a JSON object")
	}
	signed := map[string]json.RawMessage{}
	for _, k := range []string{"receipt", "keyId", "signature"} {
		v, ok := outer[k]
		if !ok {
			return consent.Receipt{}, invalid(k, "missing: not a signed receipt")
		}
		signed[k] = v
	}
	js, err := json.Marshal(signed)
	if err != nil {
		return consent.Receipt{}, err
	}
	pub, err := r.ReceiptPublicKey(ctx)
	if err != nil {
		return consent.Receipt{}, err
	}
	rc, err := consent.VerifyReceipt(js, pub)
	if err != nil {
		return consent.Receipt{}, &InputError{Code: CodeInvalidReceipt, Field: "signature", Detail: "the receipt does not verify under this registry's key"}
	}
	return rc, nil
}
