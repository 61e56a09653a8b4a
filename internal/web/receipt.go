package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/registry"
	"rsc.io/qr"
)

type receiptPage struct {
	PersonNumber string
	Code         string
	Name         string
	Time         time.Time
	Site         string
	Granted      []Pair
	Declined     []Pair
	PortalURL    string
	QR           template.HTML
	ReceiptKey   string // short fingerprint of the receipt-signing key
	AuditKey     string // short fingerprint of the audit log's key
	NoticeVer    string
}

// receiptPage builds the printable receipt, in the person's language (the
// page is rendered with the person's locale, whatever the operator's).
func (s *Server) receiptPage(q *req, out registry.Registered, f personForm) (receiptPage, error) {
	q.loc = s.cat.pick(f.Language)
	rc := receiptPage{PersonNumber: displayNumber(out), Code: out.Receipt.Code, Name: f.GivenName + " " + f.FamilyName,
		Time: out.Receipt.Time, Site: out.Receipt.Site, NoticeVer: s.notices.latest}
	rc.Granted = append(rc.Granted, splitPairs(out.Receipt.Granted)...)
	rc.Declined = append(rc.Declined, splitPairs(out.Receipt.Declined)...)
	scheme := "http"
	if q.TLS != nil || s.secure {
		scheme = "https"
	}
	rc.PortalURL = scheme + "://" + q.Host + "/portal?n=" + url.QueryEscape(compactNumber(rc.PersonNumber))
	svg, err := qrSVG(rc.PortalURL)
	if err != nil {
		return rc, err
	}
	rc.QR = svg
	pub, err := s.reg.ReceiptPublicKey(q.Context())
	if err != nil {
		return rc, err
	}
	rc.ReceiptKey = fingerprint(pub)
	rc.AuditKey = auditKeyFingerprint(s.reg.AuditVerifierKey())
	return rc, nil
}

func splitPairs(xs []string) []Pair {
	var out []Pair
	for _, x := range xs {
		c, p, _ := strings.Cut(x, "/")
		out = append(out, Pair{Category: c, Purpose: p})
	}
	return out
}

// fingerprint is the short form of a public key people compare by eye: the
// first 8 bytes of its SHA-256, in groups of four hex digits. The portal's
// script computes the same from the key it verifies with.
func fingerprint(pub []byte) string {
	sum := sha256.Sum256(pub)
	h := hex.EncodeToString(sum[:8])
	return h[0:4] + " " + h[4:8] + " " + h[8:12] + " " + h[12:16]
}

// auditKeyFingerprint fingerprints the Ed25519 key inside a note verifier
// key (name+hash+base64(0x01 || key)).
func auditKeyFingerprint(vkey string) string {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 33 || b[0] != 1 {
		return ""
	}
	return fingerprint(b[1:])
}

// qrSVG draws the QR code of text as an SVG of unit squares (no script, no
// inline style: it passes the page's CSP).
func qrSVG(text string) (template.HTML, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("web: qr: %w", err)
	}
	n := c.Size
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-4 -4 %d %d" width="160" height="160" role="img" aria-labelledby="qr-title" shape-rendering="crispEdges"><title id="qr-title">QR</title><rect x="-4" y="-4" width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n+8, n+8, n+8, n+8)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if c.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // numbers only, built here
}

// displayNumber is what a person types to reach their record: the person
// number grouped for reading.
func displayNumber(out registry.Registered) string {
	return out.PersonNumber
}
