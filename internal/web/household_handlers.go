package web

import (
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// The household page of the registration desk: its members with their
// relationships, and three forms that change it, each a plain post named as
// the API's JSON fields and each through the registry's household use cases
// (so the one gate decides and the one audit log records):
//
//   - POST /ui/households/{id}/members: person_id (a person number or an
//     id) and relationship: move that person into this household;
//   - POST /ui/households/{id}/head: person_id (a member) and
//     previous_head_relationship: change the head;
//   - POST /ui/households/{id}/split: person_ids (members), head_id (one of
//     them), address and area_code of the new household.
//
// A refusal (minor_cannot_be_head, head_must_stay, ...) comes back on the
// household page beside the form that caused it, with its stable code.

// household shows one household with its members (each an audited read).
func (s *Server) household(q *req) error {
	return s.showHousehold(q, http.StatusOK, householdPage{})
}

// showHousehold reads the household of the path through the registry and
// renders its page with status and what hp carries (an error, a form).
func (s *Server) showHousehold(q *req, status int, hp householdPage) error {
	h, err := s.reg.GetHousehold(q.Context(), q.actor, q.purpose, q.PathValue("id"))
	if err != nil {
		return err
	}
	hp.Household, hp.Relationships = &h, registry.Relationships
	s.render(q, status, "household", hp)
	return nil
}

// householdChanged ends a household form: an input error or refusal the
// form can show goes back to the household page beside that form; success
// redirects to the household to show (post, redirect, get).
func (s *Server) householdChanged(q *req, form string, err error, to string) error {
	if code, field, ok := problemOf(err); ok {
		return s.showHousehold(q, http.StatusUnprocessableEntity, householdPage{Error: "err." + code, ErrorField: field, Form: form})
	}
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/households/"+to, http.StatusSeeOther)
	return nil
}

// moveMember moves a person, typed by person number or id, into the
// household with the relationship chosen.
func (s *Server) moveMember(q *req) error {
	hid := q.PathValue("id")
	typed := strings.TrimSpace(q.FormValue("person_id"))
	in := registry.MemberChange{Relationship: q.FormValue("relationship")}
	var err error
	if typed != "" {
		in.PersonID, err = s.resolve(q.Context(), typed)
		if isNotFound(err) {
			err = &registry.InputError{Code: registry.CodeUnknownPerson, Field: "person_id", Detail: "no such person"}
		}
	}
	if err == nil {
		_, err = s.reg.AddMember(q.Context(), q.actor, q.purpose, hid, in)
	}
	return s.householdChanged(q, "move", err, hid)
}

// changeHead makes a member the head of the household.
func (s *Server) changeHead(q *req) error {
	hid := q.PathValue("id")
	in := registry.HeadChange{PersonID: strings.TrimSpace(q.FormValue("person_id")), PreviousHeadRelationship: q.FormValue("previous_head_relationship")}
	_, err := s.reg.ChangeHead(q.Context(), q.actor, q.purpose, hid, in)
	return s.householdChanged(q, "head", err, hid)
}

// splitHousehold moves the members chosen into a new household at a new
// address, and shows the new household.
func (s *Server) splitHousehold(q *req) error {
	hid := q.PathValue("id")
	if err := q.ParseForm(); err != nil {
		return &registry.InputError{Code: registry.CodeInvalidValue, Detail: "unreadable form"}
	}
	in := registry.Split{PersonIDs: q.PostForm["person_ids"], HeadID: q.PostFormValue("head_id"),
		Address: strings.TrimSpace(q.PostFormValue("address")), AreaCode: strings.TrimSpace(q.PostFormValue("area_code"))}
	out, err := s.reg.SplitHousehold(q.Context(), q.actor, q.purpose, hid, in)
	return s.householdChanged(q, "split", err, out.ID)
}
