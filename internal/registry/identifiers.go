package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/personnumber"
	"github.com/assent-registry/assent/internal/store"
)

// PersonIDSystem is the identifier system URI of Assent's own person ids
// (FHIR Identifier.system). Other systems' identifiers are attached with
// AddIdentifier and found with FindByIdentifier.
const PersonIDSystem = "https://assent.example/fhir/sid/person-id"

// PersonNumberSystem is the identifier system URI of person numbers (the
// 10 digits and the Verhoeff check digit, written without separators;
// spaces and dashes are ignored on input).
const PersonNumberSystem = "https://assent.example/fhir/sid/person-number"

// CodeIdentifierInUse: the identifier is attached to a person already.
const CodeIdentifierInUse = "identifier_in_use" // 409

const (
	kindIdentifier  = "identifier"
	blindIdentifier = "person.identifier"
	maxSystemLen    = 255
	maxValueLen     = 128
)

// ExternalIdentifier is an identifier another system (an EMR, a laboratory)
// gave a person: System is that system's URI, Value its identifier.
type ExternalIdentifier struct {
	System     string    `json:"system"`
	Value      string    `json:"value"`
	Site       string    `json:"site,omitempty"`
	OperatorID string    `json:"operator_id,omitempty"`
	At         time.Time `json:"at"`
}

// CrossReference is what a PIXm query answers: the person an identifier
// belongs to, their person number (digits only) and every identifier the
// person has in other systems.
type CrossReference struct {
	PersonID     string               `json:"person_id"`
	PersonNumber string               `json:"person_number"`
	Identifiers  []ExternalIdentifier `json:"identifiers"`
}

func checkSystem(s string) error {
	if s == "" {
		return missing("system")
	}
	u, err := url.Parse(s)
	if err != nil || len(s) > maxSystemLen || u.Scheme == "" || (u.Scheme != "urn" && u.Host == "") || strings.ContainsAny(s, " |\x00\r\n\t") {
		return invalid("system", "must be an absolute URI (http(s)://... or urn:...), at most 255 characters, without '|'")
	}
	return nil
}

func checkIdentifierValue(v string) error {
	if strings.TrimSpace(v) == "" {
		return missing("value")
	}
	if utf8.RuneCountInString(v) > maxValueLen || strings.ContainsAny(v, "\x00\r\n\t") || v != strings.TrimSpace(v) {
		return invalid("value", "at most 128 characters, no control characters or surrounding spaces")
	}
	return nil
}

func (r *Registry) identifierLookup(system, value string) []byte {
	return r.keys.MAC(blindIdentifier, []byte(system+"\x00"+value))
}

// AddIdentifier attaches an identifier another system gave the person (IHE
// PIXm: a source system feeds its patient identifier). It is an identity
// write: a registrar for registration. The value is sealed under the
// person's identity key, so erasing the person destroys it. An identifier
// is attached to one person only (identifier_in_use otherwise).
func (r *Registry) AddIdentifier(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in ExternalIdentifier) (ExternalIdentifier, error) {
	if err := checkSystem(in.System); err != nil {
		return ExternalIdentifier{}, err
	}
	if err := checkIdentifierValue(in.Value); err != nil {
		return ExternalIdentifier{}, err
	}
	if in.System == PersonIDSystem || in.System == PersonNumberSystem {
		return ExternalIdentifier{}, invalid("system", "Assent's own identifiers are not attached")
	}
	var out ExternalIdentifier
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity},
		action: consent.Write, only: []consent.Purpose{consent.Registration}}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		now := r.clock()
		sealed, err := r.keys.Seal(ctx, id, string(consent.Identity), kindIdentifier, []byte(in.Value))
		if err != nil {
			return err
		}
		row := store.PersonIdentifier{PersonID: id, System: in.System, Lookup: r.identifierLookup(in.System, in.Value),
			Sealed: sealed, OperatorID: actor.OperatorID, Site: actor.Site, At: now}
		if err := tx.AddIdentifier(ctx, row); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &InputError{Code: CodeIdentifierInUse, Field: "value", Detail: "this identifier of that system is attached to a person already"}
			}
			return err
		}
		out = ExternalIdentifier{System: in.System, Value: in.Value, Site: actor.Site, OperatorID: actor.OperatorID, At: now}
		return nil
	})
	return out, err
}

func (r *Registry) identifiersOf(ctx context.Context, tx store.Tx, id string) ([]ExternalIdentifier, error) {
	rows, err := tx.ListIdentifiers(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ExternalIdentifier, 0, len(rows))
	for _, row := range rows {
		v, err := r.keys.Open(ctx, id, string(consent.Identity), kindIdentifier, row.Sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, ExternalIdentifier{System: row.System, Value: string(v), Site: row.Site, OperatorID: row.OperatorID, At: row.At})
	}
	return out, nil
}

// refuseEarly runs the policy's role and purpose decision for a lookup
// before anything is looked up, as FindPersons does: when it refuses, the
// refusal goes through the gate at once (recorded with no person) and is
// returned; nil means the lookup may run.
func (r *Registry) refuseEarly(ctx context.Context, search access) error {
	if r.decideRole(search).Allow {
		return nil
	}
	return r.guard(ctx, search, func(store.Tx, map[string]*facts) error {
		return fmt.Errorf("registry: the policy's facts changed during the request: %w", ErrConflict)
	})
}

// resolveIdentifier finds the active person (system, value) names: its id
// and person number, or "" when nobody holds it. A person number whose
// check digit fails is invalid_person_number.
func (r *Registry) resolveIdentifier(ctx context.Context, system, value string) (id, number string, err error) {
	if system == PersonNumberSystem {
		if !personnumber.Looks(value) {
			return "", "", &InputError{Code: CodeInvalidPersonNumber, Field: "identifier", Detail: "a person number is 11 digits"}
		}
		if _, err := personnumber.Parse(value); err != nil {
			return "", "", &InputError{Code: CodeInvalidPersonNumber, Field: "identifier", Detail: "the check digit does not match: a digit was mistyped"}
		}
	}
	err = r.store.View(ctx, func(tx store.Tx) error {
		id, number = "", ""
		var p store.Person
		var err error
		switch system {
		case PersonIDSystem:
			p, err = tx.GetPerson(ctx, value)
		case PersonNumberSystem:
			n, _ := personnumber.Parse(value)
			p, err = tx.PersonByNumber(ctx, n)
		default:
			var pid string
			pid, err = tx.PersonByIdentifier(ctx, system, r.identifierLookup(system, value))
			if err == nil {
				p, err = tx.GetPerson(ctx, pid)
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.Status == store.StatusActive {
			id, number = p.ID, p.Number
		}
		return nil
	})
	return id, number, err
}

// FindByIdentifier returns the person an identifier names (Assent's own id
// under PersonIDSystem, or another system's attached identifier): an
// audited identity read, decided on role and purpose alone (and recorded
// with no person) when nobody matches, like FindPersons.
func (r *Registry) FindByIdentifier(ctx context.Context, actor Actor, purpose consent.Purpose, system, value string) ([]PersonView, error) {
	if err := checkSystem(system); err != nil {
		return nil, err
	}
	if err := checkIdentifierValue(value); err != nil {
		return nil, err
	}
	if err := r.refuseEarly(ctx, access{actor: actor, purpose: purpose, categories: []consent.Category{consent.Identity}, action: consent.Read}); err != nil {
		return nil, err
	}
	pid, _, err := r.resolveIdentifier(ctx, system, value)
	if err != nil {
		return nil, err
	}
	var ids []string
	if pid != "" {
		ids = []string{pid}
	}
	out := []PersonView{}
	a := access{actor: actor, purpose: purpose, persons: ids, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		out = out[:0]
		for _, id := range ids {
			out = append(out, view(f[id].person, f[id].identity))
		}
		return nil
	})
	return out, err
}

// CrossReferences answers an IHE PIXm query: given one identifier of a
// person, the person's id and their identifiers in other systems. It is an
// audited identity read: roles that may read identity for the declared
// purpose (a registrar, a clinician for care), never a researcher. An
// identifier nobody holds is not_found (recorded with no person).
func (r *Registry) CrossReferences(ctx context.Context, actor Actor, purpose consent.Purpose, system, value string) (CrossReference, error) {
	if err := checkSystem(system); err != nil {
		return CrossReference{}, err
	}
	if err := checkIdentifierValue(value); err != nil {
		return CrossReference{}, err
	}
	// Decide on role and purpose first, so a caller without the right
	// learns nothing about whether the identifier exists.
	search := access{actor: actor, purpose: purpose, categories: []consent.Category{consent.Identity}, action: consent.Read}
	if err := r.refuseEarly(ctx, search); err != nil {
		return CrossReference{}, err
	}
	pid, number, err := r.resolveIdentifier(ctx, system, value)
	if err != nil {
		return CrossReference{}, err
	}
	if pid == "" {
		// Nobody holds it: recorded with no person, answered not_found.
		return CrossReference{}, r.guard(ctx, search, func(store.Tx, map[string]*facts) error { return ErrNotFound })
	}
	out := CrossReference{PersonID: pid, PersonNumber: number}
	a := access{actor: actor, purpose: purpose, persons: []string{pid}, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err = r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		var err error
		out.Identifiers, err = r.identifiersOf(ctx, tx, pid)
		return err
	})
	return out, err
}

// SpecimenByID reads one specimen with its chain of custody (clinician,
// care; the person through the portal), and names its person. An unknown
// specimen id is not_found after the role check, recorded with no person.
func (r *Registry) SpecimenByID(ctx context.Context, actor Actor, purpose consent.Purpose, specimenID string) (string, SpecimenView, error) {
	if actor.Role != consent.Subject {
		if err := r.refuseEarly(ctx, access{actor: actor, purpose: purpose, categories: []consent.Category{consent.DNA}, action: consent.Read}); err != nil {
			return "", SpecimenView{}, err
		}
	}
	var pid string
	err := r.store.View(ctx, func(tx store.Tx) error {
		sp, err := tx.GetSpecimen(ctx, specimenID)
		if errors.Is(err, store.ErrNotFound) {
			pid = ""
			return nil
		}
		pid = sp.PersonID
		return err
	})
	if err != nil {
		return "", SpecimenView{}, err
	}
	var out SpecimenView
	if pid == "" {
		a := access{actor: actor, purpose: purpose, categories: []consent.Category{consent.DNA}, action: consent.Read}
		if actor.Role == consent.Subject {
			a.persons = []string{actor.PersonID} // decided as the subject's own record, then not found
		}
		err := r.guard(ctx, a, func(store.Tx, map[string]*facts) error { return ErrNotFound })
		return "", out, err
	}
	a := access{actor: actor, purpose: purpose, persons: []string{pid}, categories: []consent.Category{consent.DNA}, action: consent.Read}
	err = r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		sp, err := tx.GetSpecimen(ctx, specimenID)
		if err != nil {
			return err
		}
		out, err = r.specimenView(ctx, tx, sp)
		return err
	})
	return pid, out, err
}
