package fhir

import "encoding/json"

// The FHIR R4 elements Assent produces and accepts: our own structs, only
// what the mapping uses (docs/fhir.md), validated in tests against the
// official R4 JSON schema. Field order follows the specification.

// Meta is Resource.meta.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Profile     []string `json:"profile,omitempty"`
}

// Coding is a code in a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is codings with a text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a business identifier.
type Identifier struct {
	Use    string `json:"use,omitempty"`
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Reference points at another resource.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Extension is an extension with one of the value types Assent uses.
type Extension struct {
	URL               string     `json:"url"`
	ValueCode         string     `json:"valueCode,omitempty"`
	ValueString       string     `json:"valueString,omitempty"`
	ValueUnsignedInt  *uint64    `json:"valueUnsignedInt,omitempty"`
	ValueBase64Binary string     `json:"valueBase64Binary,omitempty"`
	ValueReference    *Reference `json:"valueReference,omitempty"`
	ValueDate         string     `json:"valueDate,omitempty"`
	ValueBoolean      *bool      `json:"valueBoolean,omitempty"`
}

// Quantity is a measured amount (UCUM units).
type Quantity struct {
	Value  *json.Number `json:"value,omitempty"`
	Unit   string       `json:"unit,omitempty"`
	System string       `json:"system,omitempty"`
	Code   string       `json:"code,omitempty"`
}

// HumanName is a person's name.
type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

// ContactPoint is a phone number.
type ContactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
}

// Element carries the extensions of a primitive element (_birthDate).
type Element struct {
	Extension []Extension `json:"extension,omitempty"`
}

// Narrative is a resource's human-readable text.
type Narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

// Annotation is a note.
type Annotation struct {
	Text string `json:"text"`
}

// PatientLink links records of the same person (a merged duplicate).
type PatientLink struct {
	Other Reference `json:"other"`
	Type  string    `json:"type"`
}

// Patient is a person of the registry (IHE PDQm Patient).
type Patient struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id,omitempty"`
	Meta         *Meta          `json:"meta,omitempty"`
	Extension    []Extension    `json:"extension,omitempty"`
	Identifier   []Identifier   `json:"identifier,omitempty"`
	Active       *bool          `json:"active,omitempty"`
	Name         []HumanName    `json:"name,omitempty"`
	Telecom      []ContactPoint `json:"telecom,omitempty"`
	Gender       string         `json:"gender,omitempty"`
	BirthDate    string         `json:"birthDate,omitempty"`
	BirthDateExt *Element       `json:"_birthDate,omitempty"`
	Link         []PatientLink  `json:"link,omitempty"`
}

// GroupMember is one member of a household.
type GroupMember struct {
	Extension []Extension `json:"extension,omitempty"`
	Entity    Reference   `json:"entity"`
}

// Group is a household.
type Group struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Extension    []Extension      `json:"extension,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	Active       *bool            `json:"active,omitempty"`
	Type         string           `json:"type"`
	Actual       bool             `json:"actual"`
	Code         *CodeableConcept `json:"code,omitempty"`
	Quantity     *int             `json:"quantity,omitempty"`
	Member       []GroupMember    `json:"member,omitempty"`
}

// ObservationComponent is one part of a panel (blood pressure).
type ObservationComponent struct {
	Code          CodeableConcept `json:"code"`
	ValueQuantity *Quantity       `json:"valueQuantity,omitempty"`
}

// Observation is one check-up finding.
type Observation struct {
	ResourceType         string                 `json:"resourceType"`
	ID                   string                 `json:"id,omitempty"`
	Meta                 *Meta                  `json:"meta,omitempty"`
	Text                 *Narrative             `json:"text,omitempty"`
	Identifier           []Identifier           `json:"identifier,omitempty"`
	Status               string                 `json:"status"`
	Category             []CodeableConcept      `json:"category,omitempty"`
	Code                 CodeableConcept        `json:"code"`
	Subject              *Reference             `json:"subject,omitempty"`
	EffectiveDateTime    string                 `json:"effectiveDateTime,omitempty"`
	Issued               string                 `json:"issued,omitempty"`
	Performer            []Reference            `json:"performer,omitempty"`
	ValueQuantity        *Quantity              `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept       `json:"valueCodeableConcept,omitempty"`
	Component            []ObservationComponent `json:"component,omitempty"`
}

// ConsentPolicy names the notice a consent was given under.
type ConsentPolicy struct {
	URI string `json:"uri,omitempty"`
}

// ConsentProvision is what was permitted or denied.
type ConsentProvision struct {
	Type    string   `json:"type,omitempty"`
	Purpose []Coding `json:"purpose,omitempty"`
	Class   []Coding `json:"class,omitempty"`
}

// Consent is one (category, purpose) consent state.
type Consent struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Extension    []Extension       `json:"extension,omitempty"`
	Status       string            `json:"status"`
	Scope        CodeableConcept   `json:"scope"`
	Category     []CodeableConcept `json:"category"`
	Patient      *Reference        `json:"patient,omitempty"`
	DateTime     string            `json:"dateTime,omitempty"`
	Performer    []Reference       `json:"performer,omitempty"`
	Organization []Reference       `json:"organization,omitempty"`
	Policy       []ConsentPolicy   `json:"policy,omitempty"`
	PolicyRule   *CodeableConcept  `json:"policyRule,omitempty"`
	Provision    *ConsentProvision `json:"provision,omitempty"`
}

// AuditEventAgent is who acted.
type AuditEventAgent struct {
	Type         *CodeableConcept  `json:"type,omitempty"`
	Role         []CodeableConcept `json:"role,omitempty"`
	Who          *Reference        `json:"who,omitempty"`
	Requestor    bool              `json:"requestor"`
	Location     *Reference        `json:"location,omitempty"`
	Policy       []string          `json:"policy,omitempty"`
	PurposeOfUse []CodeableConcept `json:"purposeOfUse,omitempty"`
}

// AuditEventSource is the system that recorded the event.
type AuditEventSource struct {
	Site     string    `json:"site,omitempty"`
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type,omitempty"`
}

// AuditEventDetail is a name-value detail of an entity.
type AuditEventDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString,omitempty"`
}

// AuditEventEntity is what the event was about.
type AuditEventEntity struct {
	What   *Reference         `json:"what,omitempty"`
	Type   *Coding            `json:"type,omitempty"`
	Role   *Coding            `json:"role,omitempty"`
	Detail []AuditEventDetail `json:"detail,omitempty"`
}

// AuditEvent is one entry of the audit log (IHE BALP shapes).
type AuditEvent struct {
	ResourceType   string             `json:"resourceType"`
	ID             string             `json:"id,omitempty"`
	Meta           *Meta              `json:"meta,omitempty"`
	Extension      []Extension        `json:"extension,omitempty"`
	Type           Coding             `json:"type"`
	Subtype        []Coding           `json:"subtype,omitempty"`
	Action         string             `json:"action,omitempty"`
	Recorded       string             `json:"recorded"`
	Outcome        string             `json:"outcome,omitempty"`
	OutcomeDesc    string             `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept  `json:"purposeOfEvent,omitempty"`
	Agent          []AuditEventAgent  `json:"agent"`
	Source         AuditEventSource   `json:"source"`
	Entity         []AuditEventEntity `json:"entity,omitempty"`
}

// SpecimenCollection is when and by whom a specimen was collected.
type SpecimenCollection struct {
	Collector         *Reference `json:"collector,omitempty"`
	CollectedDateTime string     `json:"collectedDateTime,omitempty"`
}

// SpecimenProcessing is one custody event.
type SpecimenProcessing struct {
	Extension    []Extension      `json:"extension,omitempty"`
	Description  string           `json:"description,omitempty"`
	Procedure    *CodeableConcept `json:"procedure,omitempty"`
	TimeDateTime string           `json:"timeDateTime,omitempty"`
}

// SpecimenContainer is the tube and where it is kept.
type SpecimenContainer struct {
	Identifier  []Identifier `json:"identifier,omitempty"`
	Description string       `json:"description,omitempty"`
}

// Specimen is a biobank specimen with its chain of custody. There is no
// genotype element: Assent keeps custody, never genetic results.
type Specimen struct {
	ResourceType        string               `json:"resourceType"`
	ID                  string               `json:"id,omitempty"`
	Meta                *Meta                `json:"meta,omitempty"`
	Extension           []Extension          `json:"extension,omitempty"`
	Identifier          []Identifier         `json:"identifier,omitempty"`
	AccessionIdentifier *Identifier          `json:"accessionIdentifier,omitempty"`
	Status              string               `json:"status,omitempty"`
	Type                *CodeableConcept     `json:"type,omitempty"`
	Subject             *Reference           `json:"subject,omitempty"`
	Collection          *SpecimenCollection  `json:"collection,omitempty"`
	Processing          []SpecimenProcessing `json:"processing,omitempty"`
	Container           []SpecimenContainer  `json:"container,omitempty"`
	Note                []Annotation         `json:"note,omitempty"`
}

// BundleLink is a paging link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleSearch says why an entry is in a search result.
type BundleSearch struct {
	Mode string `json:"mode,omitempty"`
}

// BundleResponse is an entry's outcome in a history or transaction bundle.
type BundleResponse struct {
	Status       string `json:"status"`
	Location     string `json:"location,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// BundleRequest is an entry's request in a history or transaction bundle.
type BundleRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// BundleEntry is one entry.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource any             `json:"resource,omitempty"`
	Search   *BundleSearch   `json:"search,omitempty"`
	Request  *BundleRequest  `json:"request,omitempty"`
	Response *BundleResponse `json:"response,omitempty"`
}

// Bundle is a search result or a history.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *Meta         `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// OperationOutcomeIssue is one error.
type OperationOutcomeIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// OperationOutcome is an error answer.
type OperationOutcome struct {
	ResourceType string                  `json:"resourceType"`
	ID           string                  `json:"id,omitempty"`
	Issue        []OperationOutcomeIssue `json:"issue"`
}

// Parameter is one parameter of an operation's input or output.
type Parameter struct {
	Name            string      `json:"name"`
	ValueIdentifier *Identifier `json:"valueIdentifier,omitempty"`
	ValueReference  *Reference  `json:"valueReference,omitempty"`
	ValueString     string      `json:"valueString,omitempty"`
}

// Parameters is an operation's input or output.
type Parameters struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Parameter    []Parameter `json:"parameter,omitempty"`
}
