package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/spf13/cobra"
)

// receiptJSON extracts the signed receipt from FILE: either a signed
// receipt ({receipt, keyId, signature}) or a registration response's
// "receipt" object, which adds person_id, code and summaries beside it.
func receiptJSON(b []byte) ([]byte, error) {
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(b, &outer); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if inner, ok := outer["receipt"]; ok {
		var probe map[string]json.RawMessage
		if json.Unmarshal(inner, &probe) == nil {
			if _, nested := probe["receipt"]; nested { // a registration response
				outer = probe
			}
		}
	}
	signed := map[string]json.RawMessage{}
	for _, k := range []string{"receipt", "keyId", "signature"} {
		v, ok := outer[k]
		if !ok {
			return nil, fmt.Errorf("no %q field: not a signed receipt", k)
		}
		signed[k] = v
	}
	return json.Marshal(signed)
}

func newReceiptCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "receipt", Short: "Check and print consent receipts"}
	var keyB64, format string
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a consent receipt's signature (FILE may be - for stdin)",
		Long: `verify checks a signed consent receipt against the registry's public key
(GET /v1/receipts/key gives it; pass it with --key) and prints the receipt.
FILE is a signed receipt or the "receipt" object of a registration response.
Exit 0 when the signature holds, 2 when it does not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if args[0] == "-" {
				b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), consent.MaxReceiptSize+1))
			} else {
				b, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			js, err := receiptJSON(bytes.TrimSpace(b))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if keyB64 == "" {
				var sr consent.SignedReceipt
				if err := json.Unmarshal(js, &sr); err != nil {
					return &exitError{code: 2, err: err}
				}
				keyB64 = sr.Receipt.PublicKey
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: no --key given; checking against the key inside the receipt, which proves integrity but not who signed it")
			}
			pub, err := base64.StdEncoding.DecodeString(keyB64)
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return errors.New("--key must be the base64 Ed25519 public key from GET /v1/receipts/key")
			}
			r, err := consent.VerifyReceipt(js, ed25519.PublicKey(pub))
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("receipt does NOT verify: %w", err)}
			}
			out := cmd.OutOrStdout()
			switch format {
			case "html":
				h, err := consent.RenderHTML(r)
				if err != nil {
					return err
				}
				_, err = out.Write(h)
				return err
			case "json":
				return json.NewEncoder(out).Encode(r)
			default:
				fmt.Fprintln(out, "signature OK (key", consent.KeyID(ed25519.PublicKey(pub))+")")
				fmt.Fprint(out, consent.RenderText(r))
				return nil
			}
		},
	}
	verify.Flags().StringVar(&keyB64, "key", "", "the registry's receipt public key (base64), from GET /v1/receipts/key")
	verify.Flags().StringVar(&format, "format", "text", "print the verified receipt as text, html (printable) or json")
	cmd.AddCommand(verify)
	return cmd
}
