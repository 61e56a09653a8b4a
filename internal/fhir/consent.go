package fhir

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// A Consent resource is one (person, category, purpose): id
// "<person id>.<category>.<purpose>", its versions the answers recorded for
// that pair, the current version the latest (the state). Writing consent
// stays in the registry's own routes and screens (docs/fhir.md says why).

// (FHIR ids allow no '_': blood_type is written blood-type.)
func consentID(pid, category, purpose string) string {
	return pid + "." + strings.ReplaceAll(category, "_", "-") + "." + purpose
}

// splitConsentID parses a Consent id; ok is false when it is not one.
func splitConsentID(id string) (pid, category, purpose string, ok bool) {
	i := strings.Index(id, ".")
	j := strings.LastIndex(id, ".")
	if i <= 0 || j <= i+1 || j == len(id)-1 {
		return "", "", "", false
	}
	pid, category, purpose = id[:i], strings.ReplaceAll(id[i+1:j], "-", "_"), id[j+1:]
	ok = consent.ValidPair(consent.Category(category), consent.Purpose(purpose))
	return pid, category, purpose, ok
}

func consentPerson(r *http.Request) string {
	pid, _, _, _ := splitConsentID(r.PathValue("id"))
	return pid
}

// consentFrom maps one answer, the version-th of its pair, to a Consent.
func consentFrom(pid string, c registry.ConsentView, version int) Consent {
	out := Consent{ResourceType: "Consent", ID: consentID(pid, c.Category, c.Purpose),
		Meta:     &Meta{VersionID: strconv.Itoa(version), LastUpdated: instant(c.At)},
		Status:   "active",
		Scope:    CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/consentscope", Code: "patient-privacy", Display: "Privacy Consent"}}},
		Category: []CodeableConcept{{Coding: []Coding{{System: SystemLOINC, Code: "59284-0", Display: "Patient Consent"}}}},
		Patient:  &Reference{Reference: "Patient/" + pid},
		DateTime: instant(c.At),
		Policy:   []ConsentPolicy{{URI: "https://assent.example/notice/" + c.NoticeVersion}},
		Provision: &ConsentProvision{Type: "permit", Purpose: purposeCodings(consent.Purpose(c.Purpose)),
			Class: []Coding{{System: SystemCategory, Code: c.Category}}},
		Extension: []Extension{{URL: extMethod, ValueString: c.Method}, {URL: extNotice, ValueString: c.NoticeVersion},
			{URL: extLanguage, ValueCode: c.Language}},
	}
	rule := "OPTIN"
	switch consent.Decision(c.Decision) {
	case consent.Declined:
		out.Provision.Type, rule = "deny", "OPTOUT"
	case consent.Withdrawn:
		out.Status, out.Provision.Type, rule = "inactive", "deny", "OPTOUT"
	}
	out.PolicyRule = &CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: rule}}}
	who := pid
	if c.GuardianID != "" {
		who = c.GuardianID // a minor's consent: given by the guardian
	}
	out.Performer = []Reference{{Reference: "Patient/" + who}}
	if c.Site != "" {
		out.Organization = []Reference{{Identifier: &Identifier{System: SystemSite, Value: c.Site}}}
	}
	return out
}

// versions groups a person's consent history by pair, in order.
func versions(pid string, hist []registry.ConsentView) map[string][]Consent {
	out := map[string][]Consent{}
	for _, c := range hist {
		id := consentID(pid, c.Category, c.Purpose)
		out[id] = append(out[id], consentFrom(pid, c, len(out[id])+1))
	}
	return out
}

// consentHist reads a person's whole consent history through the
// registry's Consents use case (the same gate as GET .../consents).
func (h *Handler) consentHist(r *http.Request, pid string) ([]registry.ConsentView, error) {
	actor, purpose := actorPurpose(r)
	return h.reg.Consents(r.Context(), actor, purpose, pid, true)
}

var consentParams = []string{"patient", "_count", "_offset"}

func (h *Handler) searchConsents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, consentParams); err != nil {
		return err
	}
	count, offset, err := paging(q)
	if err != nil {
		return err
	}
	pid := refID(q.Get("patient"), "Patient")
	if pid == "" {
		return problem(http.StatusBadRequest, registry.CodeMissingField, "Consent is searched by patient", "patient")
	}
	if pid, err = h.person(r, pid); err != nil {
		return err
	}
	hist, err := h.consentHist(r, pid)
	if err != nil {
		return err
	}
	vs := versions(pid, hist)
	var res []any
	seen := map[string]bool{}
	for _, c := range hist { // in the order each pair was first answered
		id := consentID(pid, c.Category, c.Purpose)
		if !seen[id] {
			seen[id] = true
			res = append(res, vs[id][len(vs[id])-1])
		}
	}
	return writeResource(w, http.StatusOK, h.searchset(r, "Consent", res, count, offset))
}

func (h *Handler) consentVersions(r *http.Request) (string, []Consent, error) {
	id := r.PathValue("id")
	pid, _, _, ok := splitConsentID(id)
	if !ok {
		return "", nil, problem(http.StatusNotFound, httpapi.CodeNotFound, "a Consent id is <person id>.<category>.<purpose>", "")
	}
	hist, err := h.consentHist(r, pid)
	if err != nil {
		return "", nil, err
	}
	vs := versions(pid, hist)[id]
	if len(vs) == 0 {
		return "", nil, problem(http.StatusNotFound, httpapi.CodeNotFound, "no answer recorded for this category and purpose", "")
	}
	return id, vs, nil
}

func (h *Handler) readConsent(w http.ResponseWriter, r *http.Request) error {
	_, vs, err := h.consentVersions(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, vs[len(vs)-1])
}

// consentHistory is the instance history: every answer of the pair, newest
// first, as a history Bundle.
func (h *Handler) consentHistory(w http.ResponseWriter, r *http.Request) error {
	id, vs, err := h.consentVersions(r)
	if err != nil {
		return err
	}
	total := len(vs)
	b := Bundle{ResourceType: "Bundle", Type: "history", Timestamp: instant(h.now()), Total: &total,
		Link: []BundleLink{{Relation: "self", URL: baseURL(r) + "/Consent/" + id + "/_history"}}}
	for i := len(vs) - 1; i >= 0; i-- {
		method, status := "PUT", "200"
		if i == 0 {
			method, status = "POST", "201"
		}
		b.Entry = append(b.Entry, BundleEntry{FullURL: baseURL(r) + "/Consent/" + id, Resource: vs[i],
			Request:  &BundleRequest{Method: method, URL: "Consent/" + id},
			Response: &BundleResponse{Status: status, LastModified: vs[i].Meta.LastUpdated}})
	}
	return writeResource(w, http.StatusOK, b)
}

// vreadConsent reads one version (one recorded answer) of a pair.
func (h *Handler) vreadConsent(w http.ResponseWriter, r *http.Request) error {
	_, vs, err := h.consentVersions(r)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("vid"))
	if err != nil || n < 1 || n > len(vs) {
		return problem(http.StatusNotFound, httpapi.CodeNotFound, "no such version", "")
	}
	return writeResource(w, http.StatusOK, vs[n-1])
}
