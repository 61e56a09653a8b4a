package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

const (
	kindSpecimen      = "specimen"
	kindSpecimenEvent = "specimen-event"
)

// Specimen uses a person may consent to; "care" is the check-up itself.
var SpecimenUses = []string{"care", "research"}

// SpecimenTypes are the kinds of specimen kept.
var SpecimenTypes = []string{"blood", "saliva", "buccal_swab", "urine", "tissue", "dna_extract"}

// SpecimenEvents are the chain-of-custody events.
var SpecimenEventKinds = []string{"collected", "transferred", "received", "stored", "aliquoted", "destruction_requested", "destroyed"}

// NewSpecimen is a specimen's custody record at collection. There is no
// genotype field, by design: Assent keeps custody, never genetic results.
type NewSpecimen struct {
	Label           string   `json:"label"` // the tube's barcode
	Type            string   `json:"type"`
	CollectedAt     string   `json:"collected_at,omitempty"` // RFC 3339; default now
	StorageLocation string   `json:"storage_location"`
	ConsentedUses   []string `json:"consented_uses"`
	DestroyBy       string   `json:"destroy_by,omitempty"` // YYYY-MM-DD
}

// specimenRecord is the sealed part.
type specimenRecord struct {
	Label           string    `json:"label"`
	Type            string    `json:"type"`
	CollectedAt     time.Time `json:"collected_at"`
	CollectedBy     string    `json:"collected_by"`
	Site            string    `json:"site"`
	StorageLocation string    `json:"storage_location"`
	ConsentedUses   []string  `json:"consented_uses"`
	DestroyBy       string    `json:"destroy_by,omitempty"`
	Status          string    `json:"status"` // held, destruction_requested, destroyed
}

// CustodyEvent is one entry of a specimen's chain of custody.
type CustodyEvent struct {
	Event    string    `json:"event"`
	Location string    `json:"location,omitempty"`
	Note     string    `json:"note,omitempty"`
	By       string    `json:"by,omitempty"`
	Site     string    `json:"site,omitempty"`
	At       time.Time `json:"at"`
}

// SpecimenView is a specimen with its chain of custody.
type SpecimenView struct {
	ID string `json:"id"`
	specimenRecord
	Custody []CustodyEvent `json:"custody"`
	// MergedFrom names the record the specimen was collected under when
	// that record was later merged into the one listed (care lists only).
	MergedFrom string `json:"merged_from,omitempty"`
}

func (in NewSpecimen) validate(now time.Time) (time.Time, error) {
	if strings.TrimSpace(in.Label) == "" {
		return now, missing("label")
	}
	if in.Type == "" {
		return now, missing("type")
	}
	if err := checkEnum("type", in.Type, SpecimenTypes); err != nil {
		return now, err
	}
	if strings.TrimSpace(in.StorageLocation) == "" {
		return now, missing("storage_location")
	}
	if len(in.ConsentedUses) == 0 {
		return now, missing("consented_uses")
	}
	for _, u := range in.ConsentedUses {
		if err := checkEnum("consented_uses", u, SpecimenUses); err != nil {
			return now, err
		}
	}
	at := now
	if in.CollectedAt != "" {
		t, err := time.Parse(time.RFC3339, in.CollectedAt)
		if err != nil || t.After(now.Add(time.Hour)) {
			return now, &InputError{Code: CodeInvalidDate, Field: "collected_at", Detail: "must be an RFC 3339 time, not in the future"}
		}
		at = t.UTC()
	}
	if in.DestroyBy != "" {
		d, err := time.Parse(time.DateOnly, in.DestroyBy)
		if err != nil || d.Before(at) {
			return now, &InputError{Code: CodeInvalidDate, Field: "destroy_by", Detail: "must be a date YYYY-MM-DD after collection"}
		}
	}
	return at, nil
}

func (r *Registry) sealJSON(ctx context.Context, personID string, c consent.Category, kind string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return r.keys.Seal(ctx, personID, string(c), kind, b)
}

func (r *Registry) openJSON(ctx context.Context, personID string, c consent.Category, kind string, sealed []byte, v any) error {
	b, err := r.keys.Open(ctx, personID, string(c), kind, sealed)
	if err != nil {
		return fmt.Errorf("registry: open %s: %w", kind, err)
	}
	return json.Unmarshal(b, v)
}

// AddSpecimen records a collected specimen (clinician, care).
func (r *Registry) AddSpecimen(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in NewSpecimen) (SpecimenView, error) {
	at, err := in.validate(r.clock())
	if err != nil {
		return SpecimenView{}, err
	}
	var out SpecimenView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.DNA}, action: consent.Write}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		if err := refuseMerged(f[id].person); err != nil {
			return err
		}
		now := r.clock()
		uses := slices.Clone(in.ConsentedUses)
		slices.Sort(uses)
		rec := specimenRecord{Label: strings.TrimSpace(in.Label), Type: in.Type, CollectedAt: at, CollectedBy: actor.OperatorID, Site: actor.Site,
			StorageLocation: strings.TrimSpace(in.StorageLocation), ConsentedUses: slices.Compact(uses), DestroyBy: in.DestroyBy, Status: "held"}
		sealed, err := r.sealJSON(ctx, id, consent.DNA, kindSpecimen, rec)
		if err != nil {
			return err
		}
		sp := store.Specimen{ID: newID(), PersonID: id, Sealed: sealed, CreatedAt: now, UpdatedAt: now}
		if err := tx.AddSpecimen(ctx, sp); err != nil {
			return err
		}
		ev := CustodyEvent{Event: "collected", Location: rec.StorageLocation, By: actor.OperatorID, Site: actor.Site, At: at}
		if err := r.addCustody(ctx, tx, sp, ev); err != nil {
			return err
		}
		out = SpecimenView{ID: sp.ID, specimenRecord: rec, Custody: []CustodyEvent{ev}}
		return nil
	})
	return out, err
}

func (r *Registry) addCustody(ctx context.Context, tx store.Tx, sp store.Specimen, ev CustodyEvent) error {
	sealed, err := r.sealJSON(ctx, sp.PersonID, consent.DNA, kindSpecimenEvent, ev)
	if err != nil {
		return err
	}
	_, err = tx.AddSpecimenEvent(ctx, store.SpecimenEvent{SpecimenID: sp.ID, PersonID: sp.PersonID, Sealed: sealed, At: ev.At})
	return err
}

// NewCustodyEvent is a custody event to record.
type NewCustodyEvent struct {
	Event    string `json:"event"`
	Location string `json:"location,omitempty"`
	Note     string `json:"note,omitempty"`
}

// AddCustodyEvent appends to a specimen's chain of custody (clinician,
// care). "destroyed" closes it.
func (r *Registry) AddCustodyEvent(ctx context.Context, actor Actor, purpose consent.Purpose, id, specimenID string, in NewCustodyEvent) (SpecimenView, error) {
	if in.Event == "" {
		return SpecimenView{}, missing("event")
	}
	if err := checkEnum("event", in.Event, SpecimenEventKinds[1:]); err != nil {
		return SpecimenView{}, err
	}
	if len(in.Note) > 1000 || len(in.Location) > 200 {
		return SpecimenView{}, invalid("note", "note at most 1000 bytes, location 200")
	}
	var out SpecimenView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.DNA}, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		sp, err := tx.GetSpecimen(ctx, specimenID)
		if err != nil || sp.PersonID != id {
			return fmt.Errorf("registry: specimen: %w", ErrNotFound)
		}
		var rec specimenRecord
		if err := r.openJSON(ctx, id, consent.DNA, kindSpecimen, sp.Sealed, &rec); err != nil {
			return err
		}
		if rec.Status == "destroyed" {
			return &InputError{Code: CodeInvalidValue, Field: "event", Detail: "the specimen was destroyed"}
		}
		now := r.clock()
		switch in.Event {
		case "destroyed", "destruction_requested":
			rec.Status = in.Event
		case "transferred", "received", "stored":
			if in.Location != "" {
				rec.StorageLocation = in.Location
			}
		}
		if sp.Sealed, err = r.sealJSON(ctx, id, consent.DNA, kindSpecimen, rec); err != nil {
			return err
		}
		sp.UpdatedAt = now
		if err := tx.UpdateSpecimen(ctx, sp); err != nil {
			return err
		}
		if err := r.addCustody(ctx, tx, sp, CustodyEvent{Event: in.Event, Location: in.Location, Note: in.Note, By: actor.OperatorID, Site: actor.Site, At: now}); err != nil {
			return err
		}
		out, err = r.specimenView(ctx, tx, sp)
		return err
	})
	return out, err
}

func (r *Registry) specimenView(ctx context.Context, tx store.Tx, sp store.Specimen) (SpecimenView, error) {
	v := SpecimenView{ID: sp.ID, Custody: []CustodyEvent{}}
	if err := r.openJSON(ctx, sp.PersonID, consent.DNA, kindSpecimen, sp.Sealed, &v.specimenRecord); err != nil {
		return v, err
	}
	evs, err := tx.SpecimenEvents(ctx, sp.ID)
	if err != nil {
		return v, err
	}
	for _, e := range evs {
		var ce CustodyEvent
		if err := r.openJSON(ctx, sp.PersonID, consent.DNA, kindSpecimenEvent, e.Sealed, &ce); err != nil {
			return v, err
		}
		v.Custody = append(v.Custody, ce)
	}
	return v, nil
}

// Specimens lists a person's specimens with their custody (clinician, care).
func (r *Registry) Specimens(ctx context.Context, actor Actor, purpose consent.Purpose, id string) ([]SpecimenView, error) {
	out := []SpecimenView{}
	persons := []string{id}
	if purpose == consent.Care {
		// One care history across merged records.
		var err error
		if persons, err = r.mergedRecords(ctx, id); err != nil {
			return out, err
		}
	}
	a := access{actor: actor, purpose: purpose, persons: persons, categories: []consent.Category{consent.DNA}, action: consent.Read}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		for _, pid := range persons {
			vs, err := r.specimensOf(ctx, tx, pid)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if pid != persons[0] {
					v.MergedFrom = pid
				}
				out = append(out, v)
			}
		}
		return nil
	})
	return out, err
}

func (r *Registry) specimensOf(ctx context.Context, tx store.Tx, id string) ([]SpecimenView, error) {
	out := []SpecimenView{}
	sps, err := tx.ListSpecimens(ctx, id)
	if err != nil {
		return out, err
	}
	for _, sp := range sps {
		v, err := r.specimenView(ctx, tx, sp)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// requestDestruction marks for destruction every specimen of a person kept
// only for research, after the person declined or withdrew dna x research.
func (r *Registry) requestDestruction(ctx context.Context, tx store.Tx, actor Actor, id string) error {
	sps, err := tx.ListSpecimens(ctx, id)
	if err != nil {
		return err
	}
	now := r.clock()
	for _, sp := range sps {
		var rec specimenRecord
		if err := r.openJSON(ctx, id, consent.DNA, kindSpecimen, sp.Sealed, &rec); err != nil {
			return err
		}
		if rec.Status != "held" || slices.Contains(rec.ConsentedUses, "care") {
			continue
		}
		rec.Status = "destruction_requested"
		rec.DestroyBy = now.Format(time.DateOnly)
		if sp.Sealed, err = r.sealJSON(ctx, id, consent.DNA, kindSpecimen, rec); err != nil {
			return err
		}
		sp.UpdatedAt = now
		if err := tx.UpdateSpecimen(ctx, sp); err != nil {
			return err
		}
		if err := r.addCustody(ctx, tx, sp, CustodyEvent{Event: "destruction_requested", Note: "research consent withdrawn", By: actor.OperatorID, Site: actor.Site, At: now}); err != nil {
			return err
		}
	}
	return nil
}
