// Package audit is the storage-independent core of Assent's tamper-evident
// audit log: the audit event and its canonical encoding, an RFC 6962 Merkle
// tree over the events, signed checkpoints in the C2SP tlog-checkpoint
// format, a Log that keeps the tree in step with the store and cuts
// checkpoints, and Verify, which recomputes everything from the stored rows
// and names the first entry that was tampered with.
//
// Storage is not here. The store writes one row per event, (idx, data,
// leaf_hash) with data = Event.Encode() and leaf_hash = LeafHash(data), in
// the same transaction as the access the event records, and keeps signed
// checkpoint notes. This package reads them through the small interfaces
// LeafSource, CheckpointStore and the rows iterator given to Verify.
//
// Third parties check checkpoints and proofs with the public package
// github.com/assent-registry/assent/auditproof, which this package uses for
// the checkpoint format, so there is one implementation of it.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/assent-registry/assent/auditproof"
)

// EncodingVersion is the version of the canonical event encoding, written in
// every event as "v". A decoder refuses any other version.
const EncodingVersion = 1

// Outcomes of an access decision.
const (
	Allow = "allow"
	Deny  = "deny"
)

// ErrInvalidEvent is wrapped by Encode and DecodeEvent when an event breaks
// the rules below or its bytes are not the canonical encoding.
var ErrInvalidEvent = errors.New("invalid audit event")

// Event is one access decision, allowed or denied, on a person's data. It
// records who (operator, role, site), why (purpose), on whom (person id),
// what (categories, action, route) and the decision (outcome, and for a
// denial its reason code). It carries identifiers and closed-vocabulary codes
// only: never names, free text about the person, or biometric data. This
// field list is fixed by a test; adding a field is a design decision.
//
// Index is the event's own position in the log. It is part of the encoded
// data, so a row moved to another position no longer matches its data.
type Event struct {
	Index      uint64
	Time       time.Time // recorded in UTC to the millisecond
	RequestID  string
	OperatorID string // empty for the subject's own portal access
	Role       string
	Site       string
	Purpose    string
	PersonID   string
	Categories []string
	Action     string // read, write, delete, ...
	Route      string // the route pattern, e.g. "GET /v1/persons/{id}"
	Outcome    string // Allow or Deny
	Reason     string // the deny reason code; empty when allowed
}

// wireEvent fixes the canonical encoding: field order, names and the time
// format. encoding/json writes struct fields in declaration order.
type wireEvent struct {
	V          int      `json:"v"`
	Index      uint64   `json:"index"`
	Time       string   `json:"time"`
	RequestID  string   `json:"request_id"`
	OperatorID string   `json:"operator_id"`
	Role       string   `json:"role"`
	Site       string   `json:"site"`
	Purpose    string   `json:"purpose"`
	PersonID   string   `json:"person_id"`
	Categories []string `json:"categories"`
	Action     string   `json:"action"`
	Route      string   `json:"route"`
	Outcome    string   `json:"outcome"`
	Reason     string   `json:"reason"`
}

// timeLayout is RFC 3339 in UTC with exactly three fractional digits.
const timeLayout = "2006-01-02T15:04:05.000Z"

// MaxEventSize bounds an encoded event; DecodeEvent refuses larger input.
const MaxEventSize = 64 << 10

// Encode returns the canonical encoding of e: compact JSON with the fields in
// a fixed order, no HTML escaping, the time in UTC to the millisecond
// (truncated), and Categories as [] when empty. The same event always
// encodes to the same bytes, and DecodeEvent accepts exactly these bytes.
// Encode refuses (ErrInvalidEvent) a zero time, an empty action, an outcome
// other than Allow or Deny, a denial without a reason or an allowance with
// one, strings that are not valid UTF-8, and an encoding longer than
// MaxEventSize.
func (e Event) Encode() ([]byte, error) {
	const op = "audit.Event.Encode"
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return e.encode()
}

func (e Event) encode() ([]byte, error) {
	w := wireEvent{
		V:          EncodingVersion,
		Index:      e.Index,
		Time:       e.Time.UTC().Truncate(time.Millisecond).Format(timeLayout),
		RequestID:  e.RequestID,
		OperatorID: e.OperatorID,
		Role:       e.Role,
		Site:       e.Site,
		Purpose:    e.Purpose,
		PersonID:   e.PersonID,
		Categories: e.Categories,
		Action:     e.Action,
		Route:      e.Route,
		Outcome:    e.Outcome,
		Reason:     e.Reason,
	}
	if w.Categories == nil {
		w.Categories = []string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("audit.Event.Encode: %w", err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) > MaxEventSize {
		return nil, fmt.Errorf("audit.Event.Encode: %d bytes, at most %d: %w", len(out), MaxEventSize, ErrInvalidEvent)
	}
	return out, nil
}

func (e Event) validate() error {
	if e.Time.IsZero() {
		return fmt.Errorf("zero time: %w", ErrInvalidEvent)
	}
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("time %v out of range: %w", e.Time, ErrInvalidEvent)
	}
	if e.Action == "" {
		return fmt.Errorf("empty action: %w", ErrInvalidEvent)
	}
	switch e.Outcome {
	case Allow:
		if e.Reason != "" {
			return fmt.Errorf("allowed access with a deny reason: %w", ErrInvalidEvent)
		}
	case Deny:
		if e.Reason == "" {
			return fmt.Errorf("denied access without a reason: %w", ErrInvalidEvent)
		}
	default:
		return fmt.Errorf("outcome %q is neither %q nor %q: %w", e.Outcome, Allow, Deny, ErrInvalidEvent)
	}
	strs := []string{e.RequestID, e.OperatorID, e.Role, e.Site, e.Purpose, e.PersonID, e.Action, e.Route, e.Outcome, e.Reason}
	strs = append(strs, e.Categories...)
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return fmt.Errorf("string is not valid UTF-8: %w", ErrInvalidEvent)
		}
	}
	return nil
}

// DecodeEvent parses the canonical encoding of an event. It is strict: it
// refuses unknown or missing fields, another encoding version, trailing data,
// an event that breaks Encode's rules, and any bytes that are not exactly
// what Encode would write for the decoded event (so two different byte
// strings never decode to the same event). An empty Categories list decodes
// as nil.
func DecodeEvent(data []byte) (Event, error) {
	const op = "audit.DecodeEvent"
	if len(data) > MaxEventSize {
		return Event{}, fmt.Errorf("%s: %d bytes, at most %d: %w", op, len(data), MaxEventSize, ErrInvalidEvent)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("%s: %v: %w", op, err, ErrInvalidEvent)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, fmt.Errorf("%s: data after the event: %w", op, ErrInvalidEvent)
	}
	if w.V != EncodingVersion {
		return Event{}, fmt.Errorf("%s: encoding version %d, want %d: %w", op, w.V, EncodingVersion, ErrInvalidEvent)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Event{}, fmt.Errorf("%s: time %q: %w", op, w.Time, ErrInvalidEvent)
	}
	e := Event{
		Index:      w.Index,
		Time:       t,
		RequestID:  w.RequestID,
		OperatorID: w.OperatorID,
		Role:       w.Role,
		Site:       w.Site,
		Purpose:    w.Purpose,
		PersonID:   w.PersonID,
		Categories: w.Categories,
		Action:     w.Action,
		Route:      w.Route,
		Outcome:    w.Outcome,
		Reason:     w.Reason,
	}
	if len(e.Categories) == 0 {
		e.Categories = nil
	}
	if err := e.validate(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", op, err)
	}
	canon, err := e.encode()
	if err != nil {
		return Event{}, fmt.Errorf("%s: %w", op, err)
	}
	if !bytes.Equal(canon, data) {
		return Event{}, fmt.Errorf("%s: not the canonical encoding: %w", op, ErrInvalidEvent)
	}
	return e, nil
}

// LeafHash returns the RFC 6962 leaf hash of an encoded event, SHA-256 of
// 0x00 || data: the value the store keeps in leaf_hash.
func LeafHash(data []byte) []byte {
	return auditproof.LeafHash(data)
}
