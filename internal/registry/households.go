package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

const kindHousehold = "household"

// householdKeyID is the keyring owner of a household's sealed address.
func householdKeyID(id string) string { return "household:" + id }

// NewHousehold is a household registration.
type NewHousehold struct {
	Address  string `json:"address"`
	AreaCode string `json:"area_code"`
}

// Member is one person of a household, as a registrar sees it.
type Member struct {
	PersonID     string `json:"person_id"`
	Relationship string `json:"relationship"`
	GivenName    string `json:"given_name"`
	FamilyName   string `json:"family_name"`
}

// HouseholdView is a household with its members.
type HouseholdView struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	AreaCode  string    `json:"area_code"`
	HeadID    string    `json:"head_id,omitempty"`
	Members   []Member  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func checkAddress(v string) error {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return missing("address")
	case len(v) > 500:
		return invalid("address", "longer than 500 bytes")
	}
	if err := checkText("address", strings.ReplaceAll(v, "\n", " ")); err != nil {
		return err
	}
	return nil
}

// CreateHousehold registers a household.
func (r *Registry) CreateHousehold(ctx context.Context, actor Actor, purpose consent.Purpose, in NewHousehold) (HouseholdView, error) {
	if err := checkAddress(in.Address); err != nil {
		return HouseholdView{}, err
	}
	if err := checkArea(in.AreaCode); err != nil {
		return HouseholdView{}, err
	}
	var out HouseholdView
	a := access{actor: actor, purpose: purpose, categories: []consent.Category{consent.Identity}, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		if err := requireArea(ctx, tx, in.AreaCode); err != nil {
			return err
		}
		now := r.clock()
		h := store.Household{ID: newID(), AreaCode: in.AreaCode, CreatedAt: now, UpdatedAt: now}
		if err := r.sealAddress(ctx, &h, strings.TrimSpace(in.Address)); err != nil {
			return err
		}
		if err := tx.CreateHousehold(ctx, h); err != nil {
			return err
		}
		out = HouseholdView{ID: h.ID, Address: strings.TrimSpace(in.Address), AreaCode: h.AreaCode, Members: []Member{}, CreatedAt: now, UpdatedAt: now}
		return nil
	})
	return out, err
}

func (r *Registry) sealAddress(ctx context.Context, h *store.Household, addr string) error {
	b, err := json.Marshal(addr)
	if err != nil {
		return err
	}
	h.AddressSealed, err = r.keys.Seal(ctx, householdKeyID(h.ID), string(consent.Identity), kindHousehold, b)
	if err != nil {
		return fmt.Errorf("registry: seal address: %w", err)
	}
	return nil
}

func (r *Registry) openAddress(ctx context.Context, h store.Household) (string, error) {
	b, err := r.keys.Open(ctx, householdKeyID(h.ID), string(consent.Identity), kindHousehold, h.AddressSealed)
	if err != nil {
		return "", fmt.Errorf("registry: open address: %w", err)
	}
	var s string
	err = json.Unmarshal(b, &s)
	return s, err
}

// householdMembers lists the member ids of a household (read outside the gate
// so the gate can decide and audit each member).
func (r *Registry) householdMembers(ctx context.Context, id string) ([]string, error) {
	var ids []string
	err := r.store.View(ctx, func(tx store.Tx) error {
		ids = ids[:0] // a backend may retry this function
		if _, err := tx.GetHousehold(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("registry: household: %w", ErrNotFound)
			}
			return err
		}
		ms, err := tx.HouseholdMembers(ctx, id)
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return err
	})
	return ids, err
}

// GetHousehold reads a household with its members. Each member's identity is
// an audited read of that person.
func (r *Registry) GetHousehold(ctx context.Context, actor Actor, purpose consent.Purpose, id string) (HouseholdView, error) {
	ids, err := r.householdMembers(ctx, id)
	if err != nil {
		return HouseholdView{}, err
	}
	var out HouseholdView
	a := access{actor: actor, purpose: purpose, persons: ids, categories: []consent.Category{consent.Identity}, action: consent.Read}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		var err error
		out, err = r.householdView(ctx, tx, id, f)
		return err
	})
	return out, err
}

func (r *Registry) householdView(ctx context.Context, tx store.Tx, id string, f map[string]*facts) (HouseholdView, error) {
	h, err := tx.GetHousehold(ctx, id)
	if err != nil {
		return HouseholdView{}, mapNotFound(err)
	}
	addr, err := r.openAddress(ctx, h)
	if err != nil {
		return HouseholdView{}, err
	}
	out := HouseholdView{ID: h.ID, Address: addr, AreaCode: h.AreaCode, HeadID: h.HeadID, Members: []Member{}, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}
	ms, err := tx.HouseholdMembers(ctx, id)
	if err != nil {
		return out, err
	}
	for _, m := range ms {
		mem := Member{PersonID: m.ID, Relationship: m.Relationship}
		if fm, ok := f[m.ID]; ok {
			mem.GivenName, mem.FamilyName = fm.identity.GivenName, fm.identity.FamilyName
		} else {
			ident, err := r.openIdentity(ctx, m)
			if err != nil {
				return out, err
			}
			mem.GivenName, mem.FamilyName = ident.GivenName, ident.FamilyName
		}
		out.Members = append(out.Members, mem)
	}
	return out, nil
}

func mapNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("registry: %w", ErrNotFound)
	}
	return err
}

// joinHousehold moves p into household hid with relationship rel, keeping the
// head of its old household consistent. It does not write p.
func (r *Registry) joinHousehold(ctx context.Context, tx store.Tx, p *store.Person, hid, rel string, now time.Time) error {
	h, err := tx.GetHousehold(ctx, hid)
	if errors.Is(err, store.ErrNotFound) {
		return &InputError{Code: CodeUnknownHousehold, Field: "household_id", Detail: "no such household"}
	}
	if err != nil {
		return err
	}
	if old := p.HouseholdID; old != "" && old != hid {
		oh, err := tx.GetHousehold(ctx, old)
		if err == nil && oh.HeadID == p.ID {
			oh.HeadID, oh.UpdatedAt = "", now
			if err := tx.UpdateHousehold(ctx, oh); err != nil {
				return err
			}
		}
	}
	if rel == "head" {
		if h.HeadID != "" && h.HeadID != p.ID {
			return &InputError{Code: CodeInvalidHousehold, Field: "relationship", Detail: "the household has a head; change the head instead"}
		}
		h.HeadID, h.UpdatedAt = p.ID, now
		if err := tx.UpdateHousehold(ctx, h); err != nil {
			return err
		}
	} else if h.HeadID == p.ID {
		h.HeadID, h.UpdatedAt = "", now
		if err := tx.UpdateHousehold(ctx, h); err != nil {
			return err
		}
	}
	p.HouseholdID, p.Relationship = hid, rel
	return nil
}

// movePerson writes a membership change of one person, keeping history.
func (r *Registry) movePerson(ctx context.Context, tx store.Tx, actor Actor, p store.Person, hid, rel string) error {
	now := r.clock()
	if err := tx.AddPersonVersion(ctx, store.PersonVersion{PersonID: p.ID, Version: p.Version, IdentitySealed: p.IdentitySealed,
		HouseholdID: p.HouseholdID, Relationship: p.Relationship, AreaCode: p.AreaCode, ChangedAt: now, ChangedBy: actor.OperatorID}); err != nil {
		return err
	}
	if err := r.joinHousehold(ctx, tx, &p, hid, rel, now); err != nil {
		return err
	}
	p.Version++
	p.UpdatedAt = now
	return tx.UpdatePerson(ctx, p)
}

// MemberChange moves a person into a household with a relationship.
type MemberChange struct {
	PersonID     string `json:"person_id"`
	Relationship string `json:"relationship"`
}

// AddMember moves a person (from wherever they lived) into household hid.
func (r *Registry) AddMember(ctx context.Context, actor Actor, purpose consent.Purpose, hid string, in MemberChange) (HouseholdView, error) {
	if in.PersonID == "" {
		return HouseholdView{}, missing("person_id")
	}
	if in.Relationship == "" {
		return HouseholdView{}, missing("relationship")
	}
	if err := checkEnum("relationship", in.Relationship, Relationships); err != nil {
		return HouseholdView{}, err
	}
	var out HouseholdView
	a := access{actor: actor, purpose: purpose, persons: []string{in.PersonID}, categories: []consent.Category{consent.Identity}, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		if in.Relationship == "head" {
			if err := r.checkHeadOfAge("person_id", f[in.PersonID].birth, r.clock()); err != nil {
				return err
			}
		}
		if err := checkHeadStays(ctx, tx, f[in.PersonID].person, hid, in.Relationship, nil); err != nil {
			return err
		}
		if err := r.movePerson(ctx, tx, actor, f[in.PersonID].person, hid, in.Relationship); err != nil {
			return err
		}
		var err error
		out, err = r.householdView(ctx, tx, hid, f)
		return err
	})
	return out, err
}

// HeadChange names a new head of household; the previous head's relationship
// becomes PreviousHeadRelationship (default "other").
type HeadChange struct {
	PersonID                 string `json:"person_id"`
	PreviousHeadRelationship string `json:"previous_head_relationship,omitempty"`
}

// ChangeHead makes a member the head of household hid.
func (r *Registry) ChangeHead(ctx context.Context, actor Actor, purpose consent.Purpose, hid string, in HeadChange) (HouseholdView, error) {
	if in.PersonID == "" {
		return HouseholdView{}, missing("person_id")
	}
	prevRel := in.PreviousHeadRelationship
	if prevRel == "" {
		prevRel = "other"
	}
	if err := checkEnum("previous_head_relationship", prevRel, Relationships); err != nil || prevRel == "head" {
		return HouseholdView{}, invalid("previous_head_relationship", "must be a relationship other than head")
	}
	var persons []string
	err := r.store.View(ctx, func(tx store.Tx) error {
		h, err := tx.GetHousehold(ctx, hid)
		if err != nil {
			return mapNotFound(err)
		}
		persons = []string{in.PersonID}
		if h.HeadID != "" && h.HeadID != in.PersonID {
			persons = append(persons, h.HeadID)
		}
		return nil
	})
	if err != nil {
		return HouseholdView{}, err
	}
	var out HouseholdView
	a := access{actor: actor, purpose: purpose, persons: persons, categories: []consent.Category{consent.Identity}, action: consent.Write}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		np := f[in.PersonID].person
		if np.HouseholdID != hid {
			return &InputError{Code: CodeInvalidHousehold, Field: "person_id", Detail: "the new head must be a member of the household"}
		}
		if err := r.checkHeadOfAge("person_id", f[in.PersonID].birth, r.clock()); err != nil {
			return err
		}
		if len(persons) == 2 {
			if err := r.movePerson(ctx, tx, actor, f[persons[1]].person, hid, prevRel); err != nil {
				return err
			}
		}
		if err := r.movePerson(ctx, tx, actor, np, hid, "head"); err != nil {
			return err
		}
		var err error
		out, err = r.householdView(ctx, tx, hid, f)
		return err
	})
	return out, err
}

// Split moves some members of a household into a new one.
type Split struct {
	PersonIDs []string `json:"person_ids"`
	HeadID    string   `json:"head_id"`
	Address   string   `json:"address"`
	AreaCode  string   `json:"area_code"`
}

// SplitHousehold creates a household at a new address for some members of
// hid, with HeadID (one of them) as its head; the others keep their
// relationship unless it was head.
func (r *Registry) SplitHousehold(ctx context.Context, actor Actor, purpose consent.Purpose, hid string, in Split) (HouseholdView, error) {
	if len(in.PersonIDs) == 0 {
		return HouseholdView{}, missing("person_ids")
	}
	if in.HeadID == "" {
		return HouseholdView{}, missing("head_id")
	}
	if !slices.Contains(in.PersonIDs, in.HeadID) {
		return HouseholdView{}, invalid("head_id", "must be one of person_ids")
	}
	if err := checkAddress(in.Address); err != nil {
		return HouseholdView{}, err
	}
	if err := checkArea(in.AreaCode); err != nil {
		return HouseholdView{}, err
	}
	ids := slices.Clone(in.PersonIDs)
	slices.Sort(ids)
	if len(slices.Compact(ids)) != len(in.PersonIDs) {
		return HouseholdView{}, invalid("person_ids", "lists a person twice")
	}
	var out HouseholdView
	a := access{actor: actor, purpose: purpose, persons: in.PersonIDs, categories: []consent.Category{consent.Identity}, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		if _, err := tx.GetHousehold(ctx, hid); err != nil {
			return mapNotFound(err)
		}
		if err := requireArea(ctx, tx, in.AreaCode); err != nil {
			return err
		}
		if err := r.checkHeadOfAge("head_id", f[in.HeadID].birth, r.clock()); err != nil {
			return err
		}
		for _, pid := range in.PersonIDs {
			if p := f[pid].person; p.HouseholdID == hid {
				if err := checkHeadStays(ctx, tx, p, "", "", in.PersonIDs); err != nil {
					return err
				}
			}
		}
		now := r.clock()
		nh := store.Household{ID: newID(), AreaCode: in.AreaCode, CreatedAt: now, UpdatedAt: now}
		if err := r.sealAddress(ctx, &nh, strings.TrimSpace(in.Address)); err != nil {
			return err
		}
		if err := tx.CreateHousehold(ctx, nh); err != nil {
			return err
		}
		for _, pid := range in.PersonIDs {
			p := f[pid].person
			if p.HouseholdID != hid {
				return &InputError{Code: CodeInvalidHousehold, Field: "person_ids", Detail: "every person must be a member of the household being split"}
			}
			rel := p.Relationship
			if pid == in.HeadID {
				rel = "head"
			} else if rel == "head" || rel == "" {
				rel = "other"
			}
			if err := r.movePerson(ctx, tx, actor, p, nh.ID, rel); err != nil {
				return err
			}
		}
		var err error
		out, err = r.householdView(ctx, tx, nh.ID, f)
		return err
	})
	return out, err
}
