package fhir

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// Paging of search results.
const (
	defaultCount = 20
	maxCount     = 100
)

func patientFrom(v registry.PersonView) Patient {
	active := v.Status == "active"
	p := Patient{ResourceType: "Patient", ID: v.ID,
		Meta:       &Meta{VersionID: strconv.Itoa(v.Version), LastUpdated: instant(v.UpdatedAt)},
		Identifier: []Identifier{{Use: "secondary", System: registry.PersonIDSystem, Value: v.ID}},
		Active:     &active,
		Gender:     v.Sex,
		BirthDate:  v.BirthDate,
	}
	if n := digits(v.PersonNumber); n != "" {
		p.Identifier = append([]Identifier{{Use: "official", System: registry.PersonNumberSystem, Value: n}}, p.Identifier...)
	}
	if v.BirthDateEstimated {
		// Partial dates (YYYY, YYYY-MM) are FHIR partial dates already; the
		// flag also marks a full date the person does not know for sure.
		yes := true
		p.BirthDateExt = &Element{Extension: []Extension{{URL: extEstimated, ValueBoolean: &yes}}}
	}
	if v.GivenName != "" || v.FamilyName != "" {
		n := HumanName{Use: "official", Family: v.FamilyName}
		if v.GivenName != "" {
			n.Given = strings.Fields(v.GivenName)
		}
		p.Name = []HumanName{n}
	}
	if v.Phone != "" {
		p.Telecom = []ContactPoint{{System: "phone", Value: v.Phone}}
	}
	if v.AreaCode != "" {
		p.Extension = append(p.Extension, Extension{URL: extArea, ValueCode: v.AreaCode})
	}
	if v.HouseholdID != "" {
		p.Extension = append(p.Extension, Extension{URL: extHousehold, ValueReference: &Reference{Reference: "Group/" + v.HouseholdID}})
		if v.Relationship != "" {
			p.Extension = append(p.Extension, Extension{URL: extRelationship, ValueCode: v.Relationship})
		}
	}
	if v.AliasOf != "" {
		// A merged duplicate: the older record is the one to use.
		p.Link = []PatientLink{{Other: Reference{Reference: "Patient/" + v.AliasOf}, Type: "replaced-by"}}
	}
	return p
}

// digits keeps the digits of a grouped person number.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func (h *Handler) readPatient(w http.ResponseWriter, r *http.Request) error {
	actor, purpose := actorPurpose(r)
	pid, err := h.person(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := h.reg.GetPerson(r.Context(), actor, purpose, pid)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, patientFrom(v))
}

// patientParams are the search parameters Patient accepts; any other is
// refused (a silently ignored filter would widen the search).
var patientParams = []string{"identifier", "family", "given", "birthdate", "gender", "_count", "_offset"}

func checkParams(q url.Values, allowed []string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			return problem(http.StatusBadRequest, "unknown_parameter", "search parameter "+k+" is not supported here (see /fhir/metadata)", k)
		}
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return problem(http.StatusBadRequest, registry.CodeInvalidValue, "search parameter "+k+" is given more than once", k)
		}
	}
	return nil
}

// splitToken parses a token parameter system|value.
func splitToken(s string) (system, value string, ok bool) {
	system, value, ok = strings.Cut(s, "|")
	return system, value, ok && system != "" && value != ""
}

// searchPatients is the PDQm query. Two searches exist, both exact, as in
// the JSON API: by identifier (system|value), or by family + given +
// birthdate together through the sealed names' blind index. gender narrows
// either. There is no partial, phonetic or open-ended search: a registry
// must not be enumerable (docs/fhir.md).
func (h *Handler) searchPatients(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, patientParams); err != nil {
		return err
	}
	count, offset, err := paging(q)
	if err != nil {
		return err
	}
	gender := q.Get("gender")
	if gender != "" && !slices.Contains(registry.Sexes, gender) {
		return problem(http.StatusBadRequest, registry.CodeInvalidValue, "gender must be one of female, male, other, unknown", "gender")
	}
	actor, purpose := actorPurpose(r)
	var found []registry.PersonView
	switch ident := q.Get("identifier"); {
	case ident != "":
		if q.Get("family") != "" || q.Get("given") != "" || q.Get("birthdate") != "" {
			return problem(http.StatusBadRequest, registry.CodeInvalidValue, "search by identifier, or by family + given + birthdate, not both", "identifier")
		}
		system, value, ok := splitToken(ident)
		if !ok {
			return problem(http.StatusBadRequest, registry.CodeInvalidValue, "identifier must be system|value", "identifier")
		}
		found, err = h.reg.FindByIdentifier(r.Context(), actor, purpose, system, value)
	default:
		for _, k := range []string{"family", "given", "birthdate"} {
			if q.Get(k) == "" {
				return problem(http.StatusBadRequest, registry.CodeMissingField,
					"search by identifier=system|value, or by family, given and birthdate together (exact match)", k)
			}
		}
		bd := strings.TrimPrefix(q.Get("birthdate"), "eq")
		found, err = h.reg.FindPersons(r.Context(), actor, purpose, registry.FindQuery{GivenName: q.Get("given"), FamilyName: q.Get("family"), BirthDate: bd})
	}
	if err != nil {
		return err
	}
	var res []any
	for _, v := range found {
		if gender == "" || v.Sex == gender {
			res = append(res, patientFrom(v))
		}
	}
	return writeResource(w, http.StatusOK, h.searchset(r, "Patient", res, count, offset))
}

func paging(q url.Values) (count, offset int, err error) {
	count, offset = defaultCount, 0
	if s := q.Get("_count"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 {
			return 0, 0, problem(http.StatusBadRequest, registry.CodeInvalidValue, "_count must be a positive integer", "_count")
		}
		count = min(n, maxCount)
	}
	if s := q.Get("_offset"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 0 {
			return 0, 0, problem(http.StatusBadRequest, registry.CodeInvalidValue, "_offset must be a non-negative integer", "_offset")
		}
		offset = n
	}
	return count, offset, nil
}

// searchset pages all (every result of one search) into a searchset Bundle
// with self, next and previous links. Each page is the search run again:
// an audited read of the persons it matches.
func (h *Handler) searchset(r *http.Request, typ string, all []any, count, offset int) Bundle {
	total := len(all)
	b := Bundle{ResourceType: "Bundle", Type: "searchset", Timestamp: instant(h.now()), Total: &total}
	link := func(rel string, off int) {
		q := r.URL.Query()
		q.Set("_count", strconv.Itoa(count))
		q.Set("_offset", strconv.Itoa(off))
		b.Link = append(b.Link, BundleLink{Relation: rel, URL: baseURL(r) + "/" + typ + "?" + q.Encode()})
	}
	link("self", offset)
	if offset+count < total {
		link("next", offset+count)
	}
	if offset > 0 {
		link("previous", max(0, offset-count))
	}
	for i := offset; i < total && i < offset+count; i++ {
		b.Entry = append(b.Entry, BundleEntry{FullURL: baseURL(r) + "/" + resourcePath(all[i]), Resource: all[i], Search: &BundleSearch{Mode: "match"}})
	}
	return b
}

func resourcePath(v any) string {
	switch x := v.(type) {
	case Patient:
		return "Patient/" + x.ID
	case Observation:
		return "Observation/" + x.ID
	case Consent:
		return "Consent/" + x.ID
	case AuditEvent:
		return "AuditEvent/" + x.ID
	case Specimen:
		return "Specimen/" + x.ID
	}
	return ""
}

// readGroup serves a household as a Group of its members (Patient
// references with their relationship).
func (h *Handler) readGroup(w http.ResponseWriter, r *http.Request) error {
	actor, purpose := actorPurpose(r)
	hv, err := h.reg.GetHousehold(r.Context(), actor, purpose, r.PathValue("id"))
	if err != nil {
		return err
	}
	n := len(hv.Members)
	active := true
	g := Group{ResourceType: "Group", ID: hv.ID, Meta: &Meta{LastUpdated: instant(hv.UpdatedAt)},
		Identifier: []Identifier{{System: SystemHousehold, Value: hv.ID}}, Active: &active,
		Type: "person", Actual: true, Code: &CodeableConcept{Text: "household"}, Quantity: &n}
	if hv.AreaCode != "" {
		g.Extension = []Extension{{URL: extArea, ValueCode: hv.AreaCode}}
	}
	for _, m := range hv.Members {
		gm := GroupMember{Entity: Reference{Reference: "Patient/" + m.PersonID}}
		if m.Relationship != "" {
			gm.Extension = []Extension{{URL: extRelationship, ValueCode: m.Relationship}}
		}
		g.Member = append(g.Member, gm)
	}
	return writeResource(w, http.StatusOK, g)
}
