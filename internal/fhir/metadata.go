package fhir

import (
	"net/http"
	"time"

	"github.com/assent-registry/assent/internal/registry"
)

// CapabilityStatement types (only what metadata uses).
type (
	csSearchParam struct {
		Name          string `json:"name"`
		Type          string `json:"type"`
		Documentation string `json:"documentation,omitempty"`
	}
	csInteraction struct {
		Code          string `json:"code"`
		Documentation string `json:"documentation,omitempty"`
	}
	csOperation struct {
		Name          string `json:"name"`
		Definition    string `json:"definition"`
		Documentation string `json:"documentation,omitempty"`
	}
	csResource struct {
		Type        string          `json:"type"`
		Profile     string          `json:"profile,omitempty"`
		Interaction []csInteraction `json:"interaction,omitempty"`
		Versioning  string          `json:"versioning,omitempty"`
		ReadHistory *bool           `json:"readHistory,omitempty"`
		SearchParam []csSearchParam `json:"searchParam,omitempty"`
		Operation   []csOperation   `json:"operation,omitempty"`
	}
	csSecurity struct {
		Cors        bool              `json:"cors"`
		Service     []CodeableConcept `json:"service,omitempty"`
		Description string            `json:"description,omitempty"`
	}
	csRest struct {
		Mode          string          `json:"mode"`
		Documentation string          `json:"documentation,omitempty"`
		Security      *csSecurity     `json:"security,omitempty"`
		Resource      []csResource    `json:"resource"`
		Interaction   []csInteraction `json:"interaction,omitempty"`
	}
	csSoftware struct {
		Name string `json:"name"`
	}
	csImplementation struct {
		Description string `json:"description"`
		URL         string `json:"url,omitempty"`
	}
	// CapabilityStatement is GET /fhir/metadata.
	CapabilityStatement struct {
		ResourceType   string            `json:"resourceType"`
		ID             string            `json:"id,omitempty"`
		URL            string            `json:"url,omitempty"`
		Name           string            `json:"name,omitempty"`
		Title          string            `json:"title,omitempty"`
		Status         string            `json:"status"`
		Date           string            `json:"date"`
		Publisher      string            `json:"publisher,omitempty"`
		Description    string            `json:"description,omitempty"`
		Kind           string            `json:"kind"`
		Instantiates   []string          `json:"instantiates,omitempty"`
		Software       *csSoftware       `json:"software,omitempty"`
		Implementation *csImplementation `json:"implementation,omitempty"`
		FHIRVersion    string            `json:"fhirVersion"`
		Format         []string          `json:"format"`
		Rest           []csRest          `json:"rest"`
	}
)

func sp(name, typ, doc string) csSearchParam {
	return csSearchParam{Name: name, Type: typ, Documentation: doc}
}

func ia(codes ...string) []csInteraction {
	out := make([]csInteraction, len(codes))
	for i, c := range codes {
		out[i] = csInteraction{Code: c}
	}
	return out
}

// capability lists exactly what routes() serves; a test checks the two
// agree.
func capability(r *http.Request, now time.Time) CapabilityStatement {
	yes := true
	paging := []csSearchParam{sp("_count", "number", "page size (default 20, at most 100)"), sp("_offset", "number", "first entry of the page")}
	withPaging := func(ps ...csSearchParam) []csSearchParam { return append(ps, paging...) }
	return CapabilityStatement{ResourceType: "CapabilityStatement", ID: "assent", Name: "AssentRegistry", Title: "Assent registry FHIR R4 interface",
		Status: "active", Date: now.UTC().Format(time.DateOnly), Publisher: "Assent",
		Description: "A consent-first population registry. Every read and write goes through the registry's policy and audit log: " +
			"send Authorization: Bearer KEY and Assent-Purpose: PURPOSE (registration, care, verification, deduplication, research).",
		Kind: "instance", Software: &csSoftware{Name: "Assent"},
		Implementation: &csImplementation{Description: "Assent FHIR endpoint", URL: baseURL(r)},
		FHIRVersion:    "4.0.1", Format: []string{"json"},
		Rest: []csRest{{Mode: "server",
			Documentation: "Errors are OperationOutcome resources; issue.details.coding (system " + SystemError + ") carries the same stable code as the JSON API's problem+json.",
			Security: &csSecurity{Cors: false, Description: "API key or portal token as a Bearer token; the Assent-Purpose header declares the purpose of use.",
				Service: []CodeableConcept{{Text: "Bearer API key"}}},
			Resource: []csResource{
				{Type: "Patient", Profile: "https://profiles.ihe.net/ITI/PDQm/StructureDefinition/IHE.PDQm.Patient",
					Interaction: ia("read", "search-type"), Versioning: "versioned",
					SearchParam: withPaging(
						sp("identifier", "token", "system|value: the person number (system "+registry.PersonNumberSystem+"), the Assent record id (system "+registry.PersonIDSystem+") or an identifier another system attached"),
						sp("family", "string", "exact (case- and space-insensitive), with given and birthdate"),
						sp("given", "string", "exact, with family and birthdate"),
						sp("birthdate", "date", "exact, with family and given"),
						sp("gender", "token", "female | male | other | unknown; narrows a search by identifier or by name")),
					Operation: []csOperation{
						{Name: "ihe-pix", Definition: "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix",
							Documentation: "GET Patient/$ihe-pix?sourceIdentifier=system|value[&targetSystem=URI]"},
						{Name: "add-identifier", Definition: base + "/OperationDefinition/add-identifier",
							Documentation: "POST Patient/{id}/$add-identifier with Parameters {identifier: valueIdentifier}: a source system attaches its identifier (registrar, registration)"},
					}},
				{Type: "Group", Interaction: ia("read"), Profile: "http://hl7.org/fhir/StructureDefinition/Group"},
				{Type: "Observation", Interaction: ia("search-type", "create"),
					SearchParam: withPaging(sp("patient", "reference", "required"), sp("subject", "reference", "same as patient"),
						sp("code", "token", "LOINC 882-1, 8302-2, 29463-7 or 85354-9"))},
				{Type: "Consent", Interaction: ia("read", "vread", "history-instance", "search-type"), Versioning: "versioned", ReadHistory: &yes,
					SearchParam: withPaging(sp("patient", "reference", "required"))},
				{Type: "AuditEvent", Interaction: ia("search-type"), SearchParam: withPaging(sp("patient", "reference", "required"))},
				{Type: "Specimen", Interaction: ia("read")},
			},
			Interaction: []csInteraction{{Code: "transaction",
				Documentation: "POST /fhir with a transaction Bundle of up to four Observations of one patient: one check-up, recorded as one exam"}},
		}},
	}
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) error {
	return writeResource(w, http.StatusOK, capability(r, h.now()))
}
