package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sampleEvent(i uint64) Event {
	return Event{
		Index:      i,
		Time:       time.Date(2026, 11, 22, 8, 30, 15, 123_000_000, time.UTC),
		RequestID:  "req-0001",
		OperatorID: "6f1c2b2e-8d7a-4c1e-9a55-1b2c3d4e5f60",
		Role:       "registrar",
		Site:       "KBL-01",
		Purpose:    "registration",
		PersonID:   "0b9d7c1a-3e2f-4a5b-8c6d-7e8f9a0b1c2d",
		Categories: []string{"identity"},
		Action:     "read",
		Route:      "GET /v1/persons/{id}",
		Outcome:    Allow,
	}
}

func TestEncodeGolden(t *testing.T) {
	deny := sampleEvent(7)
	deny.Outcome, deny.Reason = Deny, "consent_missing"
	deny.Categories = []string{"fingerprint", "iris"}
	deny.Route = "POST /v1/persons/{id}/biometrics"
	for _, tc := range []struct {
		name string
		ev   Event
		file string
	}{
		{"allowed read", sampleEvent(0), "event_allow.json"},
		{"denied write", deny, "event_deny.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if os.Getenv("AUDIT_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("encoding changed (-golden +got):\n%s", d)
			}
			back, err := DecodeEvent(want)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.ev, back); d != "" {
				t.Errorf("decode (-want +got):\n%s", d)
			}
		})
	}
}

func TestEncodeNormalises(t *testing.T) {
	e := sampleEvent(1)
	loc := time.FixedZone("UTC+3", 3*3600)
	e.Time = time.Date(2026, 11, 22, 11, 30, 15, 123_456_789, loc)
	e.Categories = nil
	e.Route = "GET /v1/persons/{id}?a=<b>&c"
	got, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"time":"2026-11-22T08:30:15.123Z"`, `"categories":[]`, `"route":"GET /v1/persons/{id}?a=<b>&c"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
	back, err := DecodeEvent(got)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.Time = time.Date(2026, 11, 22, 8, 30, 15, 123_000_000, time.UTC)
	if d := cmp.Diff(want, back, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Event)
	}{
		{"zero time", func(e *Event) { e.Time = time.Time{} }},
		{"year 10000", func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"no action", func(e *Event) { e.Action = "" }},
		{"unknown outcome", func(e *Event) { e.Outcome = "maybe" }},
		{"deny without reason", func(e *Event) { e.Outcome = Deny }},
		{"allow with reason", func(e *Event) { e.Reason = "consent_missing" }},
		{"invalid utf8", func(e *Event) { e.Site = "\xff" }},
		{"invalid utf8 category", func(e *Event) { e.Categories = []string{"\xc3"} }},
		{"too long", func(e *Event) { e.Route = strings.Repeat("x", MaxEventSize) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sampleEvent(3)
			tc.change(&e)
			if _, err := e.Encode(); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := sampleEvent(5).Encode()
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		t.Helper()
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%s not in %s", old, good)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not json", []byte("hello")},
		{"trailing newline", append(bytes.Clone(good), '\n')},
		{"trailing object", append(bytes.Clone(good), []byte(" {}")...)},
		{"leading space", append([]byte(" "), good...)},
		{"space after colon", replace(`"index":5`, `"index": 5`)},
		{"unknown field", replace(`"v":1,`, `"v":1,"name":"Ada",`)},
		{"missing field", replace(`"request_id":"req-0001",`, ``)},
		{"fields reordered", replace(`"v":1,"index":5`, `"index":5,"v":1`)},
		{"version 2", replace(`"v":1`, `"v":2`)},
		{"escaped slash", replace(`"GET /v1/persons/{id}"`, `"GET \/v1/persons/{id}"`)},
		{"unicode escape", replace(`"read"`, `"\u0072ead"`)},
		{"null categories", replace(`"categories":["identity"]`, `"categories":null`)},
		{"time without millis", replace(`15.123Z`, `15Z`)},
		{"time with offset", replace(`08:30:15.123Z`, `08:30:15.123+00:00`)},
		{"negative index", replace(`"index":5`, `"index":-5`)},
		{"float index", replace(`"index":5`, `"index":5.0`)},
		{"bad outcome", replace(`"allow"`, `"permit"`)},
		{"too big", append(bytes.Repeat([]byte(" "), MaxEventSize), good...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeEvent(tc.data); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

// TestEventFieldsAreFixed keeps the design rule that events carry no names,
// no biometric data and no free-form attributes: adding a field must be a
// deliberate change of this list.
func TestEventFieldsAreFixed(t *testing.T) {
	want := []string{"Index", "Time", "RequestID", "OperatorID", "Role", "Site", "Purpose",
		"PersonID", "Categories", "Action", "Route", "Outcome", "Reason"}
	var got []string
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		got = append(got, typ.Field(i).Name)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Event fields changed (-want +got):\n%s", d)
	}
}

func TestLeafHashIsRFC6962(t *testing.T) {
	// RFC 6962 test vector: the leaf hash of the empty string.
	want := "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
	if got := LeafHash(nil); hex.EncodeToString(got) != want {
		t.Errorf("LeafHash(nil) = %x, want %s", got, want)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{"event_allow.json", "event_deny.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		// Whatever decodes is canonical: it encodes back to the same bytes.
		again, err := e.Encode()
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decoded %q but encodes to %q", data, again)
		}
	})
}
