package web

import (
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Pair is one (category, purpose) a person is asked about.
type Pair struct {
	Category string
	Purpose  string
	Answer   string // granted | declined | "" (not answered yet)
}

// Name is the form input's name: consent.CATEGORY.PURPOSE.
func (p Pair) Name() string { return "consent." + p.Category + "." + p.Purpose }

// askedPairs lists every (category, purpose) a person can consent to, in a
// stable order, identity/registration first.
func askedPairs() []Pair {
	var out []Pair
	for _, c := range consent.Categories {
		for _, p := range consent.PurposesFor(c) {
			out = append(out, Pair{Category: string(c), Purpose: string(p)})
		}
	}
	return out
}

// personForm is the registration form, as typed.
type personForm struct {
	GivenName    string
	FamilyName   string
	BirthDate    string
	Estimated    bool // birth_date_estimated
	Sex          string
	Phone        string
	AreaCode     string
	HouseholdID  string
	Relationship string
	GuardianID   string
	Language     string // the person's language: notice, receipt
	Pairs        []Pair
}

func readPersonForm(q *req) personForm {
	f := personForm{
		GivenName: strings.TrimSpace(q.FormValue("given_name")), FamilyName: strings.TrimSpace(q.FormValue("family_name")),
		BirthDate: strings.TrimSpace(q.FormValue("birth_date")), Estimated: q.FormValue("birth_date_estimated") == "true", Sex: q.FormValue("sex"), Phone: strings.TrimSpace(q.FormValue("phone")),
		AreaCode: strings.TrimSpace(q.FormValue("area_code")), HouseholdID: strings.TrimSpace(q.FormValue("household_id")),
		Relationship: q.FormValue("relationship"), GuardianID: strings.TrimSpace(q.FormValue("guardian_id")),
		Language: q.FormValue("language"),
	}
	f.Pairs = askedPairs()
	for i := range f.Pairs {
		if v := q.FormValue(f.Pairs[i].Name()); v == string(consent.Granted) || v == string(consent.Declined) {
			f.Pairs[i].Answer = v
		}
	}
	return f
}

type registerPage struct {
	Form          personForm
	PL            *locale // the person's language: notice and questions
	Notice        notice
	NoticeLangs   []string
	Sexes         []string
	Relationships []string
	Error         string // catalogue key of the problem, if any
	ErrorField    string
	Unanswered    []string // input names left without an answer
}

func (s *Server) registerPage(q *req, f personForm) registerPage {
	if _, ok := s.cat.locales[f.Language]; !ok {
		f.Language = q.loc.Code
	}
	n, _ := s.notices.current(f.Language)
	return registerPage{Form: f, PL: s.cat.pick(f.Language), Notice: n, NoticeLangs: s.notices.languages(), Sexes: registry.Sexes, Relationships: registry.Relationships}
}

// registerForm shows the registration form: the person's details, the full
// notice in the person's language, and one grant/decline choice per
// (category, purpose) with nothing preselected.
func (s *Server) registerForm(q *req) error {
	f := readPersonForm(q)
	for i := range f.Pairs {
		f.Pairs[i].Answer = "" // a link never preselects an answer
	}
	s.render(q, http.StatusOK, "register", s.registerPage(q, f))
	return nil
}

// registerConfirm checks every choice was answered and shows the summary;
// nothing is stored before the operator confirms it.
func (s *Server) registerConfirm(q *req) error {
	f := readPersonForm(q)
	p := s.registerPage(q, f)
	if q.FormValue("edit") != "" {
		s.render(q, http.StatusOK, "register", p)
		return nil
	}
	for _, pr := range f.Pairs {
		if pr.Answer == "" {
			p.Unanswered = append(p.Unanswered, pr.Name())
		}
	}
	if len(p.Unanswered) > 0 {
		p.Error = "register.unanswered"
		s.render(q, http.StatusUnprocessableEntity, "register", p)
		return nil
	}
	s.render(q, http.StatusOK, "confirm", p)
	return nil
}

// register stores the confirmed registration and shows the receipt once.
func (s *Server) register(q *req) error {
	f := readPersonForm(q)
	p := s.registerPage(q, f)
	f = p.Form
	var regAnswer string
	in := registry.NewPerson{GivenName: f.GivenName, FamilyName: f.FamilyName, BirthDate: f.BirthDate, BirthDateEstimated: f.Estimated, Sex: f.Sex, Phone: f.Phone,
		AreaCode: f.AreaCode, HouseholdID: f.HouseholdID, Relationship: f.Relationship,
		Consent: &registry.ConsentInput{Method: "in_person", NoticeVersion: p.Notice.Version, Language: f.Language}}
	for _, pr := range f.Pairs {
		if pr.Answer == "" {
			p.Unanswered = append(p.Unanswered, pr.Name())
			continue
		}
		if pr.Category == string(consent.Identity) {
			regAnswer = pr.Answer
			continue
		}
		in.Consent.Decisions = append(in.Consent.Decisions, registry.DecisionInput{Category: pr.Category, Purpose: pr.Purpose, Decision: pr.Answer})
	}
	if len(p.Unanswered) > 0 {
		p.Error = "register.unanswered"
		s.render(q, http.StatusUnprocessableEntity, "register", p)
		return nil
	}
	if f.GuardianID != "" {
		// The guardian is typed as a person number (or id).
		gid, err := s.resolve(q.Context(), f.GuardianID)
		if isNotFound(err) {
			err = &registry.InputError{Code: registry.CodeUnknownPerson, Field: "guardian_id", Detail: "no such person"}
		}
		if code, field, ok := problemOf(err); ok {
			p.Error, p.ErrorField = "err."+code, field
			s.render(q, http.StatusUnprocessableEntity, "register", p)
			return nil
		}
		if err != nil {
			return err
		}
		in.GuardianID = gid
	}
	if regAnswer != string(consent.Granted) {
		// Without consent to keep a record there is no registration; care
		// goes on all the same. Nothing is stored.
		s.render(q, http.StatusOK, "not_registered", nil)
		return nil
	}
	out, err := s.reg.CreatePerson(q.Context(), q.actor, q.purpose, in)
	if code, field, ok := problemOf(err); ok {
		p.Error, p.ErrorField = "err."+code, field
		s.render(q, http.StatusUnprocessableEntity, "register", p)
		return nil
	}
	if err != nil {
		return err
	}
	rc, err := s.receiptPage(q, out, f)
	if err != nil {
		return err
	}
	s.render(q, http.StatusCreated, "receipt", rc)
	return nil
}

type findPage struct {
	GivenName, FamilyName, BirthDate, Number string
	Searched                                 bool
	Persons                                  []registry.PersonView
	Error                                    string
}

func (s *Server) findForm(q *req) error {
	s.render(q, http.StatusOK, "find", findPage{})
	return nil
}

// find looks a person up by name and birth date, or by their number. It is
// a post, so names never travel in a URL or a log.
func (s *Server) find(q *req) error {
	fp := findPage{GivenName: strings.TrimSpace(q.FormValue("given_name")), FamilyName: strings.TrimSpace(q.FormValue("family_name")),
		BirthDate: q.FormValue("birth_date"), Number: strings.TrimSpace(q.FormValue("person_number")), Searched: true}
	if fp.Number != "" {
		id, err := s.resolve(q.Context(), fp.Number)
		var pv registry.PersonView
		if err == nil {
			pv, err = s.reg.GetPerson(q.Context(), q.actor, q.purpose, id)
		}
		if err == nil {
			fp.Persons = []registry.PersonView{pv}
		} else if code, _, ok := problemOf(err); ok {
			fp.Error = "err." + code
		} else if !isNotFound(err) {
			return err
		}
		s.render(q, http.StatusOK, "find", fp)
		return nil
	}
	ps, err := s.reg.FindPersons(q.Context(), q.actor, q.purpose, registry.FindQuery{GivenName: fp.GivenName, FamilyName: fp.FamilyName, BirthDate: fp.BirthDate})
	if code, _, ok := problemOf(err); ok {
		fp.Error = "err." + code
	} else if err != nil {
		return err
	}
	fp.Persons = ps
	s.render(q, http.StatusOK, "find", fp)
	return nil
}

type personPage struct {
	Person   registry.PersonView
	Consents []registry.ConsentView
	Links    []link // what this desk does next with the person
}

// person shows one record at the operator's desk: the gate decides what the
// desk may read, and the read is audited.
func (s *Server) person(q *req) error {
	id, err := s.resolve(q.Context(), q.PathValue("id"))
	if err != nil {
		return err
	}
	pv, err := s.reg.GetPerson(q.Context(), q.actor, q.purpose, id)
	if err != nil {
		return err
	}
	pp := personPage{Person: pv}
	switch {
	case q.actor.Role == consent.Clinician && q.purpose == consent.Care:
		pp.Links = append(pp.Links, link{"/ui/persons/" + pv.ID + "/exams", "nav.exams"})
	case q.actor.Role == consent.Registrar && (q.purpose == consent.Deduplication || q.purpose == consent.Verification):
		pp.Links = append(pp.Links, link{"/ui/persons/" + pv.ID + "/capture", "nav.capture"})
	}
	if q.actor.Role == consent.Registrar {
		cs, err := s.reg.Consents(q.Context(), q.actor, q.purpose, pv.ID, false)
		if err != nil {
			return err
		}
		pp.Consents = cs
	}
	s.render(q, http.StatusOK, "person", pp)
	return nil
}

type householdPage struct {
	Address, AreaCode string
	Household         *registry.HouseholdView
	Error             string
	ErrorField        string
	Form              string // which form of the household page the error belongs to
	Relationships     []string
}

func (s *Server) householdForm(q *req) error {
	s.render(q, http.StatusOK, "household", householdPage{})
	return nil
}

func (s *Server) createHousehold(q *req) error {
	hp := householdPage{Address: strings.TrimSpace(q.FormValue("address")), AreaCode: strings.TrimSpace(q.FormValue("area_code"))}
	h, err := s.reg.CreateHousehold(q.Context(), q.actor, q.purpose, registry.NewHousehold{Address: hp.Address, AreaCode: hp.AreaCode})
	if code, _, ok := problemOf(err); ok {
		hp.Error = "err." + code
		s.render(q, http.StatusUnprocessableEntity, "household", hp)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/ui/households/"+h.ID, http.StatusSeeOther)
	return nil
}
