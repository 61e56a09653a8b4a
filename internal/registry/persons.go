package registry

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
	"github.com/assent-registry/assent/internal/store"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Identity is the sealed part of a person record (category identity).
type Identity struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"` // YYYY-MM-DD, or YYYY-MM or YYYY when only that is known
	// BirthDateEstimated: the person does not know their birth date and it
	// was estimated (always so for a partial date).
	BirthDateEstimated bool   `json:"birth_date_estimated,omitempty"`
	Sex                string `json:"sex"`
	Phone              string `json:"phone,omitempty"`
}

// Closed vocabularies of the person record.
var (
	Sexes         = []string{"female", "male", "other", "unknown"}
	Relationships = []string{"head", "spouse", "child", "parent", "sibling", "other"}
)

const (
	kindPerson  = "person"
	maxNameLen  = 200
	blindLookup = "person.name_birth"
	portalLabel = "portal-code"
)

var areaCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// ConsentInput is how the registration consent was collected, and optional
// further answers given at the same sitting.
type ConsentInput struct {
	Method        string          `json:"method"`
	NoticeVersion string          `json:"notice_version"`
	Language      string          `json:"language"`
	Decisions     []DecisionInput `json:"decisions,omitempty"`
}

// DecisionInput is one answer for a (category, purpose).
type DecisionInput struct {
	Category string `json:"category"`
	Purpose  string `json:"purpose"`
	Decision string `json:"decision"`
}

// NewPerson is the registration request.
type NewPerson struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"`
	// BirthDateEstimated marks a full date as estimated; a partial date
	// (YYYY or YYYY-MM) is estimated whatever this says.
	BirthDateEstimated bool          `json:"birth_date_estimated,omitempty"`
	Sex                string        `json:"sex"`
	Phone              string        `json:"phone,omitempty"`
	AreaCode           string        `json:"area_code"`
	HouseholdID        string        `json:"household_id,omitempty"`
	Relationship       string        `json:"relationship,omitempty"`
	GuardianID         string        `json:"guardian_id,omitempty"`
	Consent            *ConsentInput `json:"consent"`
}

// PersonView is a person as the API shows it.
type PersonView struct {
	ID string `json:"id"`
	// PersonNumber is the person number grouped for reading ("4821 0937 56-3").
	PersonNumber       string    `json:"person_number,omitempty"`
	Status             string    `json:"status"`
	GivenName          string    `json:"given_name"`
	FamilyName         string    `json:"family_name"`
	BirthDate          string    `json:"birth_date"`
	BirthDateEstimated bool      `json:"birth_date_estimated,omitempty"`
	Sex                string    `json:"sex"`
	Phone              string    `json:"phone,omitempty"`
	AreaCode           string    `json:"area_code"`
	HouseholdID        string    `json:"household_id,omitempty"`
	Relationship       string    `json:"relationship,omitempty"`
	GuardianID         string    `json:"guardian_id,omitempty"`
	AliasOf            string    `json:"alias_of,omitempty"` // merged into this (older) record
	Site               string    `json:"site,omitempty"`
	Version            int       `json:"version"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// Registered is the answer to a registration.
type Registered struct {
	ID string `json:"id"`
	// PersonNumber is the person number grouped for reading.
	PersonNumber string  `json:"person_number"`
	Receipt      Receipt `json:"receipt"`
}

func checkName(field, v string) error {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return missing(field)
	case utf8.RuneCountInString(v) > maxNameLen:
		return invalid(field, "longer than 200 characters")
	}
	return checkText(field, v)
}

// checkBirthDate reads a birth date, full (YYYY-MM-DD) or partial (YYYY-MM
// or YYYY, for people who do not know theirs), and returns the latest day it
// can stand for (see birthTime).
func (r *Registry) checkBirthDate(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, missing("birth_date")
	}
	d, _, err := parseBirthDate(v)
	if err != nil {
		return d, &InputError{Code: CodeInvalidDate, Field: "birth_date", Detail: "must be a date YYYY-MM-DD, or YYYY-MM or YYYY when only that is known"}
	}
	if first, _ := firstBirthDay(v); first.After(r.clock()) || d.Year() < 1880 {
		return d, &InputError{Code: CodeInvalidDate, Field: "birth_date", Detail: "is in the future or implausibly old"}
	}
	return d, nil
}

// parseBirthDate reads YYYY-MM-DD, YYYY-MM or YYYY. For a partial date it
// returns the latest day the date can stand for, so that age rules (minors,
// majority) err on the side of asking a guardian; partial reports whether
// the date was partial.
func parseBirthDate(v string) (latest time.Time, partial bool, err error) {
	switch len(v) {
	case len("2006-01-02"):
		d, err := time.Parse(time.DateOnly, v)
		return d, false, err
	case len("2006-01"):
		d, err := time.Parse("2006-01", v)
		return d.AddDate(0, 1, -1), true, err
	case len("2006"):
		d, err := time.Parse("2006", v)
		return d.AddDate(1, 0, -1), true, err
	}
	return time.Time{}, false, fmt.Errorf("registry: birth date %q: not YYYY-MM-DD, YYYY-MM or YYYY", v)
}

// firstBirthDay is the earliest day a (possibly partial) birth date stands for.
func firstBirthDay(v string) (time.Time, error) {
	switch len(v) {
	case len("2006-01"):
		return time.Parse("2006-01", v)
	case len("2006"):
		return time.Parse("2006", v)
	}
	return time.Parse(time.DateOnly, v)
}

// birthTime is the birth date the age rules use: the latest day a stored
// (possibly partial) date can stand for; zero when unreadable.
func birthTime(v string) time.Time {
	d, _, err := parseBirthDate(v)
	if err != nil {
		return time.Time{}
	}
	return d
}

// IsPartialBirthDate reports whether v is a year or a year and month only.
func IsPartialBirthDate(v string) bool {
	_, partial, err := parseBirthDate(v)
	return err == nil && partial
}

func checkEnum(field, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(field, "must be one of "+strings.Join(allowed, ", "))
}

func checkArea(v string) error {
	if v == "" {
		return missing("area_code")
	}
	if !areaCodeRE.MatchString(v) {
		return &InputError{Code: CodeInvalidAreaCode, Field: "area_code", Detail: "an area code is 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"}
	}
	return nil
}

func checkPhone(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 32 || strings.Trim(v, "+0123456789 -()") != "" {
		return invalid("phone", "digits, spaces, + - ( ) only, at most 32")
	}
	return nil
}

func (r *Registry) validateNewPerson(in NewPerson) (time.Time, error) {
	for _, c := range []struct{ f, v string }{{"given_name", in.GivenName}, {"family_name", in.FamilyName}} {
		if err := checkName(c.f, c.v); err != nil {
			return time.Time{}, err
		}
	}
	birth, err := r.checkBirthDate(in.BirthDate)
	if err != nil {
		return birth, err
	}
	if in.Sex == "" {
		return birth, missing("sex")
	}
	if err := checkEnum("sex", in.Sex, Sexes); err != nil {
		return birth, err
	}
	if err := checkArea(in.AreaCode); err != nil {
		return birth, err
	}
	if err := checkPhone(in.Phone); err != nil {
		return birth, err
	}
	if in.Relationship != "" {
		if err := checkEnum("relationship", in.Relationship, Relationships); err != nil {
			return birth, err
		}
		if in.HouseholdID == "" {
			return birth, missing("household_id")
		}
	}
	if in.HouseholdID != "" && in.Relationship == "" {
		return birth, &InputError{Code: CodeMissingField, Field: "relationship", Detail: "is required with household_id: say how the person is related to the head"}
	}
	if in.Relationship == "head" {
		if err := r.checkHeadOfAge("relationship", birth, r.clock()); err != nil {
			return birth, err
		}
	}
	c := in.Consent
	if c == nil {
		return birth, &InputError{Code: CodeConsentRequired, Field: "consent", Detail: "registration needs the person's (or guardian's) consent"}
	}
	for _, f := range []struct{ name, v string }{{"consent.method", c.Method}, {"consent.notice_version", c.NoticeVersion}, {"consent.language", c.Language}} {
		if strings.TrimSpace(f.v) == "" {
			return birth, &InputError{Code: CodeConsentRequired, Field: f.name, Detail: "is required to record consent"}
		}
	}
	for i, d := range c.Decisions {
		field := fmt.Sprintf("consent.decisions[%d]", i)
		if !consent.ValidPair(consent.Category(d.Category), consent.Purpose(d.Purpose)) {
			return birth, invalid(field, "not a (category, purpose) a person can consent to")
		}
		if !consent.Decision(d.Decision).Valid() || d.Decision == string(consent.Withdrawn) {
			return birth, invalid(field+".decision", "must be granted or declined")
		}
		if d.Category == string(consent.Identity) {
			return birth, invalid(field, "identity/registration is the registration consent itself")
		}
	}
	return birth, nil
}

// CreatePerson registers a person with their registration consent.
func (r *Registry) CreatePerson(ctx context.Context, actor Actor, purpose consent.Purpose, in NewPerson) (Registered, error) {
	np, err := r.prepareNewPerson(actor, purpose, in)
	if err != nil {
		return Registered{}, err
	}
	var out Registered
	err = r.guard(ctx, np.access, func(tx store.Tx, _ map[string]*facts) error {
		var err error
		out, err = r.insertPerson(ctx, tx, np)
		return err
	})
	return out, err
}

// newPersonPlan is a validated registration, ready to write.
type newPersonPlan struct {
	in      NewPerson
	actor   Actor
	id      string
	now     time.Time
	code    string
	pending []consent.Record
	access  access
}

func (r *Registry) prepareNewPerson(actor Actor, purpose consent.Purpose, in NewPerson) (newPersonPlan, error) {
	birth, err := r.validateNewPerson(in)
	if err != nil {
		return newPersonPlan{}, err
	}
	now := r.clock()
	id := newID()
	guardian := in.GuardianID
	if consent.IsMinor(birth, now, r.cfg.AgeOfMajority) && guardian == "" {
		return newPersonPlan{}, &InputError{Code: CodeGuardianRequired, Field: "guardian_id", Detail: "a person under the age of majority is registered with a guardian's consent"}
	}
	if !consent.IsMinor(birth, now, r.cfg.AgeOfMajority) && guardian != "" {
		return newPersonPlan{}, &InputError{Code: CodeGuardianNotNeeded, Field: "guardian_id", Detail: "the person is of age and consents for themself; send no guardian_id"}
	}
	mk := func(c consent.Category, p consent.Purpose, d consent.Decision) consent.Record {
		return consent.Record{PersonID: id, Category: c, Purpose: p, Decision: d, Method: in.Consent.Method,
			NoticeVersion: in.Consent.NoticeVersion, Language: in.Consent.Language, OperatorID: actor.OperatorID,
			Site: actor.Site, GuardianID: guardian, At: now}
	}
	pending := []consent.Record{mk(consent.Identity, consent.Registration, consent.Granted)}
	for _, d := range in.Consent.Decisions {
		pending = append(pending, mk(consent.Category(d.Category), consent.Purpose(d.Purpose), consent.Decision(d.Decision)))
	}
	return newPersonPlan{in: in, actor: actor, id: id, now: now, code: portalCode(), pending: pending,
		access: access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity},
			action: consent.Write, creating: true, pending: pending, birth: birth}}, nil
}

func (r *Registry) insertPerson(ctx context.Context, tx store.Tx, np newPersonPlan) (Registered, error) {
	in, id, now := np.in, np.id, np.now
	if err := requireArea(ctx, tx, in.AreaCode); err != nil {
		return Registered{}, err
	}
	if in.GuardianID != "" {
		if err := r.checkGuardian(ctx, tx, in.GuardianID, now); err != nil {
			return Registered{}, err
		}
	}
	number, err := freeNumber(ctx, tx)
	if err != nil {
		return Registered{}, err
	}
	p := store.Person{ID: id, Number: number, Status: store.StatusActive, AreaCode: in.AreaCode, GuardianID: in.GuardianID,
		Site: np.actor.Site, Version: 1, CreatedAt: now, UpdatedAt: now,
		PortalCodeMAC: r.keys.MAC(portalLabel, []byte(id+"\x00"+np.code))}
	if in.HouseholdID != "" {
		if err := r.joinHousehold(ctx, tx, &p, in.HouseholdID, in.Relationship, now); err != nil {
			return Registered{}, err
		}
	}
	ident := Identity{GivenName: strings.TrimSpace(in.GivenName), FamilyName: strings.TrimSpace(in.FamilyName),
		BirthDate: in.BirthDate, BirthDateEstimated: in.BirthDateEstimated || IsPartialBirthDate(in.BirthDate), Sex: in.Sex, Phone: in.Phone}
	if err := r.sealIdentity(ctx, &p, ident); err != nil {
		return Registered{}, err
	}
	if err := tx.CreatePerson(ctx, p); err != nil {
		return Registered{}, err
	}
	if err := projectPerson(ctx, tx, p, ident, np.actor.OperatorID); err != nil {
		return Registered{}, err
	}
	for _, rec := range np.pending {
		if _, err := tx.AppendConsent(ctx, toStoreConsent(rec)); err != nil {
			return Registered{}, err
		}
	}
	rc, err := r.receipt(ctx, id, number, np.pending, np.code, now, np.actor.Site)
	if err != nil {
		return Registered{}, err
	}
	return Registered{ID: id, PersonNumber: personnumber.Format(number), Receipt: rc}, nil
}

// freeNumber draws person numbers until one is not taken. With ten random
// digits a draw collides with probability people/1e10 (0.2% at 20 million
// people), so a second draw is rare and a third rarer still.
func freeNumber(ctx context.Context, tx store.Tx) (string, error) {
	for range 16 {
		n, err := personnumber.New()
		if err != nil {
			return "", fmt.Errorf("registry: person number: %w", err)
		}
		_, err = tx.PersonByNumber(ctx, n)
		if errors.Is(err, store.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("registry: person number: no free number in 16 draws")
}

// ResolvePerson turns what a caller wrote for a person into the record id:
// a person number (spaces and dashes ignored; a mistyped digit is refused
// with invalid_person_number) or an id, which is returned as it is. It
// reveals nothing but whether a number is held, and only to an
// authenticated operator or the person: interfaces call it before the use
// case, which then decides and audits the access under the record id.
func (r *Registry) ResolvePerson(ctx context.Context, ref string) (string, error) {
	if !personnumber.Looks(ref) {
		return ref, nil
	}
	n, err := personnumber.Parse(ref)
	if err != nil {
		return "", &InputError{Code: CodeInvalidPersonNumber, Field: "person_number", Detail: "the check digit does not match: a digit was mistyped (" + personnumber.Format(strings.Map(keepDigit, ref)) + ")"}
	}
	var id string
	err = r.store.View(ctx, func(tx store.Tx) error {
		p, err := tx.PersonByNumber(ctx, n)
		id = p.ID
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNotFound
	}
	return id, err
}

func keepDigit(r rune) rune {
	if r >= '0' && r <= '9' {
		return r
	}
	return -1
}

func toStoreConsent(rec consent.Record) store.ConsentRecord {
	return store.ConsentRecord{PersonID: rec.PersonID, Category: string(rec.Category), Purpose: string(rec.Purpose),
		Decision: string(rec.Decision), Method: rec.Method, NoticeVersion: rec.NoticeVersion, Language: rec.Language,
		OperatorID: rec.OperatorID, Site: rec.Site, GuardianID: rec.GuardianID, At: rec.At}
}

// checkGuardian: the guardian is a registered, active adult.
func (r *Registry) checkGuardian(ctx context.Context, tx store.Tx, id string, now time.Time) error {
	g, err := tx.GetPerson(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.Status != store.StatusActive) {
		return &InputError{Code: CodeGuardianRequired, Field: "guardian_id", Detail: "the guardian must be a registered person"}
	}
	if err != nil {
		return err
	}
	gi, err := r.openIdentity(ctx, g)
	if err != nil {
		return err
	}
	gb := birthTime(gi.BirthDate)
	if consent.IsMinor(gb, now, r.cfg.AgeOfMajority) {
		return &InputError{Code: CodeGuardianRequired, Field: "guardian_id", Detail: "the guardian must be an adult"}
	}
	return nil
}

// portalCode is the code printed on the receipt: 80 random bits in
// unambiguous base32, grouped for reading aloud.
func portalCode() string {
	enc := base32.NewEncoding("ABCDEFGHJKMNPQRSTUVWXYZ23456789#").WithPadding(base32.NoPadding)
	s := enc.EncodeToString(randomBytes(10))
	s = strings.ReplaceAll(s, "#", "8")
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// NormaliseName folds a name for the lookup index and for comparing
// candidates: Unicode NFKC, full case folding, NFKC again, white space
// trimmed and collapsed. Accents and punctuation are kept (folding them is
// language-specific).
func NormaliseName(given, family string) string {
	f := func(s string) string {
		s = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
		return strings.Join(strings.Fields(s), " ")
	}
	return f(family) + "\x00" + f(given)
}

// lookupKey is what the lookup index is computed over: name and birth date
// together (one short index; two would each leak more).
func lookupKey(given, family, birth string) string {
	return NormaliseName(given, family) + "\x00" + birth
}

func (r *Registry) sealIdentity(ctx context.Context, p *store.Person, id Identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	p.IdentitySealed, err = r.keys.Seal(ctx, p.ID, string(consent.Identity), kindPerson, b)
	if err != nil {
		return fmt.Errorf("registry: seal identity: %w", err)
	}
	p.LookupIndex = r.keys.BlindIndex(blindLookup, lookupKey(id.GivenName, id.FamilyName, id.BirthDate))
	return nil
}

func (r *Registry) openIdentity(ctx context.Context, p store.Person) (Identity, error) {
	var id Identity
	err := r.openJSON(ctx, p.ID, consent.Identity, kindPerson, p.IdentitySealed, &id)
	return id, err
}

func view(p store.Person, id Identity) PersonView {
	return PersonView{ID: p.ID, PersonNumber: personnumber.Format(p.Number), Status: p.Status, GivenName: id.GivenName, FamilyName: id.FamilyName,
		BirthDate: id.BirthDate, BirthDateEstimated: id.BirthDateEstimated, Sex: id.Sex, Phone: id.Phone, AreaCode: p.AreaCode, HouseholdID: p.HouseholdID,
		Relationship: p.Relationship, GuardianID: p.GuardianID, AliasOf: p.AliasOf, Site: p.Site, Version: p.Version,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// GetPerson reads a person's record.
func (r *Registry) GetPerson(ctx context.Context, actor Actor, purpose consent.Purpose, id string) (PersonView, error) {
	var out PersonView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		out = view(f[id].person, f[id].identity)
		return nil
	})
	return out, err
}

// PersonPatch is a rectification: only the fields given change.
type PersonPatch struct {
	GivenName  *string `json:"given_name,omitempty"`
	FamilyName *string `json:"family_name,omitempty"`
	BirthDate  *string `json:"birth_date,omitempty"`
	// BirthDateEstimated sets or clears the estimated mark of the birth
	// date; when absent the mark is kept. A partial date is always
	// estimated.
	BirthDateEstimated *bool   `json:"birth_date_estimated,omitempty"`
	Sex                *string `json:"sex,omitempty"`
	Phone              *string `json:"phone,omitempty"`
	AreaCode           *string `json:"area_code,omitempty"`
}

// UpdatePerson rectifies a person's record, keeping the earlier version.
func (r *Registry) UpdatePerson(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in PersonPatch) (PersonView, error) {
	if in == (PersonPatch{}) {
		return PersonView{}, invalid("body", "no field to change")
	}
	checks := []error{}
	if in.GivenName != nil {
		checks = append(checks, checkName("given_name", *in.GivenName))
	}
	if in.FamilyName != nil {
		checks = append(checks, checkName("family_name", *in.FamilyName))
	}
	if in.BirthDate != nil {
		_, err := r.checkBirthDate(*in.BirthDate)
		checks = append(checks, err)
	}
	if in.Sex != nil {
		checks = append(checks, checkEnum("sex", *in.Sex, Sexes))
	}
	if in.Phone != nil {
		checks = append(checks, checkPhone(*in.Phone))
	}
	if in.AreaCode != nil {
		checks = append(checks, checkArea(*in.AreaCode))
	}
	for _, err := range checks {
		if err != nil {
			return PersonView{}, err
		}
	}
	var out PersonView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		p, ident := f[id].person, f[id].identity
		now := r.clock()
		if in.AreaCode != nil {
			if err := requireArea(ctx, tx, *in.AreaCode); err != nil {
				return err
			}
		}
		if err := tx.AddPersonVersion(ctx, store.PersonVersion{PersonID: id, Version: p.Version, IdentitySealed: p.IdentitySealed,
			HouseholdID: p.HouseholdID, Relationship: p.Relationship, AreaCode: p.AreaCode, ChangedAt: now, ChangedBy: actor.OperatorID}); err != nil {
			return err
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = strings.TrimSpace(*v)
			}
		}
		set(&ident.GivenName, in.GivenName)
		set(&ident.FamilyName, in.FamilyName)
		set(&ident.BirthDate, in.BirthDate)
		if in.BirthDateEstimated != nil {
			ident.BirthDateEstimated = *in.BirthDateEstimated
		}
		ident.BirthDateEstimated = ident.BirthDateEstimated || IsPartialBirthDate(ident.BirthDate)
		set(&ident.Sex, in.Sex)
		set(&ident.Phone, in.Phone)
		set(&p.AreaCode, in.AreaCode)
		p.Version++
		p.UpdatedAt = now
		if err := r.sealIdentity(ctx, &p, ident); err != nil {
			return err
		}
		if err := tx.UpdatePerson(ctx, p); err != nil {
			return err
		}
		if err := projectPerson(ctx, tx, p, ident, registeringOperator(f[id].records)); err != nil {
			return err
		}
		out = view(p, ident)
		return nil
	})
	return out, err
}

// PersonVersionView is an earlier state of a record.
type PersonVersionView struct {
	Version   int       `json:"version"`
	Identity  Identity  `json:"identity"`
	AreaCode  string    `json:"area_code"`
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by,omitempty"`
}

// PersonHistory lists the earlier versions of a person's record.
func (r *Registry) PersonHistory(ctx context.Context, actor Actor, purpose consent.Purpose, id string) ([]PersonVersionView, error) {
	var out []PersonVersionView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		var err error
		out, err = r.personVersions(ctx, tx, id)
		return err
	})
	return out, err
}

// personVersions opens the earlier versions of a person's record.
func (r *Registry) personVersions(ctx context.Context, tx store.Tx, id string) ([]PersonVersionView, error) {
	vs, err := tx.PersonVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]PersonVersionView, 0, len(vs))
	for _, v := range vs {
		var ident Identity
		if err := r.openJSON(ctx, id, consent.Identity, kindPerson, v.IdentitySealed, &ident); err != nil {
			return nil, err
		}
		out = append(out, PersonVersionView{Version: v.Version, Identity: ident, AreaCode: v.AreaCode, ChangedAt: v.ChangedAt, ChangedBy: v.ChangedBy})
	}
	return out, nil
}

// FindQuery finds a person by exact name and birth date (for registrars).
type FindQuery struct {
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	BirthDate  string `json:"birth_date"`
}

// FindPersons returns the ids of active persons whose normalised name and
// birth date match exactly, through the blind indexes: names stay sealed.
// Every match is an audited identity read.
func (r *Registry) FindPersons(ctx context.Context, actor Actor, purpose consent.Purpose, q FindQuery) ([]PersonView, error) {
	if err := checkName("given_name", q.GivenName); err != nil {
		return nil, err
	}
	if err := checkName("family_name", q.FamilyName); err != nil {
		return nil, err
	}
	if _, err := r.checkBirthDate(q.BirthDate); err != nil {
		return nil, err
	}
	// The blind indexes are deliberately short (many people share a value),
	// so candidates are confirmed by opening their identity; only true
	// matches are returned, and only they are read through the gate (one
	// audit event per match; one with no person when none match). Nothing
	// is opened before the policy has decided that this role may read
	// identities for this purpose: a refusal goes through the gate at once.
	search := access{actor: actor, purpose: purpose, categories: []consent.Category{consent.Identity}, action: consent.Read}
	if !r.decideRole(search).Allow {
		return nil, r.guard(ctx, search, func(store.Tx, map[string]*facts) error {
			return fmt.Errorf("registry: the policy's facts changed during the request: %w", ErrConflict)
		})
	}
	ids, err := r.confirmCandidates(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []PersonView{}
	a := access{actor: actor, purpose: purpose, persons: ids, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		for _, id := range ids {
			out = append(out, view(f[id].person, f[id].identity))
		}
		return nil
	})
	return out, err
}

// SealIdentity seals id into p under the person's identity key, with the
// lookup index, exactly as a registration does. It writes nothing: tools
// that build a synthetic store of their own (assent bench enrol) use it.
func SealIdentity(ctx context.Context, k Keyring, p *store.Person, id Identity) error {
	return (&Registry{keys: k}).sealIdentity(ctx, p, id)
}

// SealTemplate seals a serialised template of modality under the person's
// key, as enrolment stores it. It writes nothing (see SealIdentity).
func SealTemplate(ctx context.Context, k Keyring, personID string, modality consent.Category, raw []byte) ([]byte, error) {
	return k.Seal(ctx, personID, string(modality), kindTemplate, raw)
}

// confirmCandidates returns the active persons whose identity matches q
// exactly among the blind index's candidates. FindPersons calls it only
// after the policy allowed the role to read identities for the purpose.
func (r *Registry) confirmCandidates(ctx context.Context, q FindQuery) ([]string, error) {
	var ids []string
	want := NormaliseName(q.GivenName, q.FamilyName)
	err := r.store.View(ctx, func(tx store.Tx) error {
		ids = ids[:0] // a backend may retry this function
		cands, err := tx.FindPersons(ctx, r.keys.BlindIndex(blindLookup, lookupKey(q.GivenName, q.FamilyName, q.BirthDate)))
		if err != nil {
			return err
		}
		for _, id := range cands {
			p, err := tx.GetPerson(ctx, id)
			if err != nil {
				return err
			}
			if p.Status != store.StatusActive {
				continue
			}
			ident, err := r.openIdentity(ctx, p)
			if err != nil {
				return err
			}
			if ident.BirthDate == q.BirthDate && NormaliseName(ident.GivenName, ident.FamilyName) == want {
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}
