package fhir

import (
	"net/http"

	"github.com/assent-registry/assent/internal/registry"
)

var specimenStatus = map[string]string{"held": "available", "destruction_requested": "available", "destroyed": "unavailable"}

// specimenFrom maps a specimen and its chain of custody (each custody event
// a processing step). Assent keeps custody only: there is no genotype or
// result element, and none is ever added.
func specimenFrom(pid string, v registry.SpecimenView) Specimen {
	label := Identifier{System: SystemSpecimen, Value: v.Label}
	s := Specimen{ResourceType: "Specimen", ID: v.ID,
		Identifier: []Identifier{label}, AccessionIdentifier: &label,
		Status:  specimenStatus[v.Status],
		Type:    &CodeableConcept{Coding: []Coding{{System: base + "/CodeSystem/specimen-type", Code: v.Type}}, Text: v.Type},
		Subject: &Reference{Reference: "Patient/" + pid},
		Collection: &SpecimenCollection{CollectedDateTime: instant(v.CollectedAt),
			Collector: &Reference{Identifier: &Identifier{System: SystemOperator, Value: v.CollectedBy}}},
		Container: []SpecimenContainer{{Identifier: []Identifier{label}, Description: v.StorageLocation}},
	}
	if s.Status == "" {
		s.Status = "available"
	}
	if v.CollectedBy == "" {
		s.Collection.Collector = nil
	}
	for _, u := range v.ConsentedUses {
		s.Extension = append(s.Extension, Extension{URL: extUses, ValueCode: u})
	}
	if v.DestroyBy != "" {
		s.Extension = append(s.Extension, Extension{URL: extDestroyBy, ValueDate: v.DestroyBy})
	}
	s.Extension = append(s.Extension, Extension{URL: base + "/StructureDefinition/specimen-status", ValueCode: v.Status})
	for _, ev := range v.Custody {
		p := SpecimenProcessing{Description: ev.Event, TimeDateTime: instant(ev.At),
			Procedure: &CodeableConcept{Coding: []Coding{{System: base + "/CodeSystem/custody-event", Code: ev.Event}}}}
		if ev.Location != "" {
			p.Extension = append(p.Extension, Extension{URL: extLocation, ValueString: ev.Location})
		}
		if ev.By != "" {
			p.Extension = append(p.Extension, Extension{URL: extCustody + "-by", ValueReference: &Reference{Identifier: &Identifier{System: SystemOperator, Value: ev.By}}})
		}
		if ev.Site != "" {
			p.Extension = append(p.Extension, Extension{URL: extCustody + "-site", ValueReference: &Reference{Identifier: &Identifier{System: SystemSite, Value: ev.Site}}})
		}
		if ev.Note != "" {
			p.Extension = append(p.Extension, Extension{URL: extCustody + "-note", ValueString: ev.Note})
		}
		s.Processing = append(s.Processing, p)
	}
	return s
}

func (h *Handler) readSpecimen(w http.ResponseWriter, r *http.Request) error {
	actor, purpose := actorPurpose(r)
	pid, v, err := h.reg.SpecimenByID(r.Context(), actor, purpose, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, specimenFrom(pid, v))
}
