package fhir

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// txBundle is the body of POST /fhir: a transaction Bundle whose entries
// are Observations to create, all of one patient (one check-up).
type txBundle struct {
	ResourceType string    `json:"resourceType"`
	ID           string    `json:"id,omitempty"`
	Meta         *Meta     `json:"meta,omitempty"`
	Type         string    `json:"type"`
	Entry        []txEntry `json:"entry"`
}

type txEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource"`
	Request  *BundleRequest  `json:"request"`
}

// transaction records a whole check-up at once: a transaction Bundle of
// Observations (POST Observation) for one patient becomes one exam through
// RecordExam, one audited write, all or nothing. Each finding at most once.
func (h *Handler) transaction(w http.ResponseWriter, r *http.Request) error {
	var b txBundle
	if err := httpapi.Decode(r, &b); err != nil {
		return err
	}
	if b.ResourceType != "Bundle" || b.Type != "transaction" {
		return bad("type", "a Bundle of type transaction is expected")
	}
	if len(b.Entry) == 0 || len(b.Entry) > 4 {
		return bad("entry", "one to four Observations of one check-up")
	}
	var exam registry.NewExam
	pid := ""
	for i, e := range b.Entry {
		field := "entry[" + strconv.Itoa(i) + "]"
		if e.Request == nil || e.Request.Method != "POST" || e.Request.URL != "Observation" {
			return bad(field+".request", "each entry is POST Observation")
		}
		var o Observation
		if err := decodeRaw(e.Resource, &o); err != nil {
			return err
		}
		p, one, err := examFrom(o)
		if err != nil {
			return err
		}
		if p, err = h.person(r, p); err != nil {
			return err
		}
		if pid != "" && p != pid {
			return bad(field+".resource.subject", "all Observations of a check-up are about one patient")
		}
		pid = p
		if err := merge(&exam, one, field); err != nil {
			return err
		}
	}
	actor, purpose := actorPurpose(r)
	v, err := h.reg.RecordExam(r.Context(), actor, purpose, pid, exam)
	if err != nil {
		return err
	}
	out := Bundle{ResourceType: "Bundle", Type: "transaction-response", Timestamp: instant(h.now())}
	for _, o := range observationsFrom(pid, v) {
		out.Entry = append(out.Entry, BundleEntry{FullURL: baseURL(r) + "/Observation/" + o.ID, Resource: o,
			Response: &BundleResponse{Status: "201 Created", Location: "Observation/" + o.ID, LastModified: instant(v.At)}})
	}
	return writeResource(w, http.StatusOK, out)
}

// decodeRaw reads an entry's resource strictly, as a request body is.
func decodeRaw(raw json.RawMessage, v any) error {
	r, err := http.NewRequest("POST", "/", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return httpapi.Decode(r, v)
}

// merge adds one finding to a check-up; a finding given twice is refused.
func merge(dst *registry.NewExam, one registry.NewExam, field string) error {
	twice := func(set bool) error {
		if set {
			return bad(field, "this finding is already in the check-up")
		}
		return nil
	}
	if one.BloodType != nil {
		if err := twice(dst.BloodType != nil); err != nil {
			return err
		}
		dst.BloodType = one.BloodType
	}
	if one.HeightCM != nil {
		if err := twice(dst.HeightCM != nil); err != nil {
			return err
		}
		dst.HeightCM = one.HeightCM
	}
	if one.WeightKG != nil {
		if err := twice(dst.WeightKG != nil); err != nil {
			return err
		}
		dst.WeightKG = one.WeightKG
	}
	if one.Systolic != nil || one.Diastolic != nil {
		if err := twice(dst.Systolic != nil || dst.Diastolic != nil); err != nil {
			return err
		}
		dst.Systolic, dst.Diastolic = one.Systolic, one.Diastolic
	}
	return nil
}
