package fhir

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// actionCode maps an audited action to AuditEvent.action (C R U D E).
var actionCode = map[string]string{
	string(consent.Read): "R", string(consent.Write): "U", string(consent.Delete): "D",
	string(consent.Export): "R", string(consent.ManageConsent): "E", "login": "E", "request": "E",
}

// interaction maps an audited action to a FHIR RESTful interaction subtype.
var interaction = map[string]Coding{
	string(consent.Read):   {System: "http://hl7.org/fhir/restful-interaction", Code: "read", Display: "read"},
	string(consent.Write):  {System: "http://hl7.org/fhir/restful-interaction", Code: "update", Display: "update"},
	string(consent.Delete): {System: "http://hl7.org/fhir/restful-interaction", Code: "delete", Display: "delete"},
	string(consent.Export): {System: "http://hl7.org/fhir/restful-interaction", Code: "search-type", Display: "search-type"},
}

// auditEventFrom maps one audit log entry (IHE BALP shapes): who (the
// operator or the person), role, site, purpose, outcome, the person as
// entity, and the Merkle leaf index and hash to prove it against a signed
// checkpoint (GET /v1/audit/proof/inclusion).
func auditEventFrom(e registry.AuditEntry) AuditEvent {
	idx := e.Index
	ev := AuditEvent{ResourceType: "AuditEvent", ID: strconv.FormatUint(e.Index, 10),
		Meta: &Meta{LastUpdated: instant(e.Time)},
		Extension: []Extension{{URL: extLeafIndex, ValueUnsignedInt: &idx},
			{URL: extLeafHash, ValueBase64Binary: base64.StdEncoding.EncodeToString(e.LeafHash)}},
		Type:     Coding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "RESTful Operation"},
		Action:   actionCode[e.Action],
		Recorded: instant(e.Time),
		Outcome:  "0",
		Source: AuditEventSource{Site: "assent", Observer: Reference{Display: "Assent registry"},
			Type: []Coding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}}},
	}
	if ev.Action == "" {
		ev.Action = "E"
	}
	if c, ok := interaction[e.Action]; ok {
		ev.Subtype = append(ev.Subtype, c)
	}
	if e.Action != "" {
		ev.Subtype = append(ev.Subtype, Coding{System: base + "/CodeSystem/action", Code: e.Action})
	}
	if e.Outcome == audit.Deny {
		ev.Outcome, ev.OutcomeDesc = "4", e.Reason
	}
	pc := purposeCodings(consent.Purpose(e.Purpose))
	if e.Role == string(consent.Subject) {
		pc = append(pc, Coding{System: SystemActReason, Code: "PATRQT", Display: "patient requested"})
	}
	if len(pc) > 0 {
		ev.PurposeOfEvent = []CodeableConcept{{Coding: pc}}
	}
	ag := AuditEventAgent{Requestor: true,
		Type: &CodeableConcept{Coding: []Coding{{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110153", Display: "Source Role ID"}}},
		Role: []CodeableConcept{{Coding: []Coding{{System: SystemRole, Code: e.Role}}}}}
	switch {
	case e.OperatorID != "":
		ag.Who = &Reference{Identifier: &Identifier{System: SystemOperator, Value: e.OperatorID}}
	case e.Role == string(consent.Subject) && e.PersonID != "":
		ag.Who = &Reference{Reference: "Patient/" + e.PersonID}
	default:
		ag.Who = &Reference{Display: "unidentified " + e.Role}
	}
	if e.Site != "" {
		ag.Location = &Reference{Identifier: &Identifier{System: SystemSite, Value: e.Site}}
	}
	if len(pc) > 0 {
		ag.PurposeOfUse = []CodeableConcept{{Coding: pc}}
	}
	ev.Agent = []AuditEventAgent{ag}
	if e.PersonID != "" {
		ent := AuditEventEntity{What: &Reference{Reference: "Patient/" + e.PersonID},
			Type: &Coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"},
			Role: &Coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "1", Display: "Patient"}}
		if len(e.Categories) > 0 {
			ent.Detail = append(ent.Detail, AuditEventDetail{Type: "categories", ValueString: strings.Join(e.Categories, " ")})
		}
		if e.Route != "" {
			ent.Detail = append(ent.Detail, AuditEventDetail{Type: "route", ValueString: e.Route})
		}
		if e.RequestID != "" {
			ent.Detail = append(ent.Detail, AuditEventDetail{Type: "request_id", ValueString: e.RequestID})
		}
		ev.Entity = []AuditEventEntity{ent}
	}
	return ev
}

var auditParams = []string{"patient", "_count", "_offset"}

// searchAuditEvents lists the audit events about one person: for the person
// (portal token: the registry's AccessLog, itself audited), for an auditor
// (audit metadata, no purpose needed), or for an operator whose role and
// declared purpose the registry allows to export the record.
func (h *Handler) searchAuditEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, auditParams); err != nil {
		return err
	}
	count, offset, err := paging(q)
	if err != nil {
		return err
	}
	pid := refID(q.Get("patient"), "Patient")
	if pid == "" {
		return problem(http.StatusBadRequest, registry.CodeMissingField, "AuditEvent is searched by patient", "patient")
	}
	if pid, err = h.person(r, pid); err != nil {
		return err
	}
	actor, purpose := actorPurpose(r)
	var entries []registry.AuditEntry
	if actor.Role == consent.Auditor {
		entries, err = h.reg.AuditEventsForPerson(r.Context(), actor, pid)
	} else {
		var al registry.AccessLog
		al, err = h.reg.AccessLog(r.Context(), actor, purpose, pid)
		entries = al.Entries
	}
	if err != nil {
		return err
	}
	res := make([]any, 0, len(entries))
	for _, e := range entries {
		res = append(res, auditEventFrom(e))
	}
	return writeResource(w, http.StatusOK, h.searchset(r, "AuditEvent", res, count, offset))
}

// auditorNoPurpose lets an auditor search AuditEvent without a purpose.
func auditorNoPurpose(a registry.Actor) bool { return a.Role == consent.Auditor }
