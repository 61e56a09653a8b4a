package fhir

import (
	"net/http"

	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// pix is IHE PIXm's $ihe-pix (ITI-83): given one identifier of a person
// (sourceIdentifier=system|value), the person's identifiers in other
// systems as a Parameters resource (targetIdentifier, and targetId, the
// Patient reference). targetSystem narrows to one system. The registry's
// CrossReferences use case decides who may ask (an audited identity read).
func (h *Handler) pix(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, []string{"sourceIdentifier", "targetSystem", "_format"}); err != nil {
		return err
	}
	system, value, ok := splitToken(q.Get("sourceIdentifier"))
	if !ok {
		return problem(http.StatusBadRequest, registry.CodeMissingField, "sourceIdentifier=system|value is required", "sourceIdentifier")
	}
	target := q.Get("targetSystem")
	actor, purpose := actorPurpose(r)
	xr, err := h.reg.CrossReferences(r.Context(), actor, purpose, system, value)
	if err != nil {
		return err
	}
	out := Parameters{ResourceType: "Parameters"}
	ids := []registry.ExternalIdentifier{{System: registry.PersonIDSystem, Value: xr.PersonID}}
	if xr.PersonNumber != "" {
		ids = append(ids, registry.ExternalIdentifier{System: registry.PersonNumberSystem, Value: xr.PersonNumber})
	}
	ids = append(ids, xr.Identifiers...)
	for _, id := range ids {
		if id.System == system || (target != "" && id.System != target) {
			continue
		}
		out.Parameter = append(out.Parameter, Parameter{Name: "targetIdentifier", ValueIdentifier: &Identifier{System: id.System, Value: id.Value}})
	}
	if target == "" || target == registry.PersonIDSystem {
		out.Parameter = append(out.Parameter, Parameter{Name: "targetId", ValueReference: &Reference{Reference: "Patient/" + xr.PersonID}})
	}
	return writeResource(w, http.StatusOK, out)
}

// addIdentifier attaches an identifier of another system to a person (the
// PIXm source's feed): POST Patient/{id}/$add-identifier with a Parameters
// body holding one "identifier" (valueIdentifier: system and value). The
// registry's AddIdentifier decides (a registrar, purpose registration) and
// audits. The answer is the Patient's cross-references as $ihe-pix gives them.
func (h *Handler) addIdentifier(w http.ResponseWriter, r *http.Request) error {
	var in Parameters
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if in.ResourceType != "Parameters" || len(in.Parameter) != 1 || in.Parameter[0].Name != "identifier" || in.Parameter[0].ValueIdentifier == nil {
		return problem(http.StatusBadRequest, registry.CodeInvalidValue, "a Parameters resource with one parameter \"identifier\" (valueIdentifier) is expected", "parameter")
	}
	id := in.Parameter[0].ValueIdentifier
	pid, err := h.person(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	actor, purpose := actorPurpose(r)
	x, err := h.reg.AddIdentifier(r.Context(), actor, purpose, pid, registry.ExternalIdentifier{System: id.System, Value: id.Value})
	if err != nil {
		return err
	}
	out := Parameters{ResourceType: "Parameters", Parameter: []Parameter{
		{Name: "identifier", ValueIdentifier: &Identifier{System: x.System, Value: x.Value}},
		{Name: "targetId", ValueReference: &Reference{Reference: "Patient/" + pid}},
	}}
	return writeResource(w, http.StatusCreated, out)
}
