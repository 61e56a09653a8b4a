package registry

import (
	"context"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Export is everything Assent holds about one person, for that person: the
// record and its earlier versions, the household, every consent record,
// exams, specimens with custody, biometric references (never templates),
// and who accessed the data.
type Export struct {
	GeneratedAt time.Time           `json:"generated_at"`
	Person      PersonView          `json:"person"`
	Versions    []PersonVersionView `json:"versions"`
	Household   *HouseholdView      `json:"household,omitempty"`
	Consents    []ConsentView       `json:"consents"`
	Exams       []ExamView          `json:"exams"`
	Specimens   []SpecimenView      `json:"specimens"`
	Biometrics  []BiometricRef      `json:"biometrics"`
	AccessLog   []AuditEntry        `json:"access_log"`
}

// BiometricRef is metadata about a stored template, never the template:
// what is held (modality, position, format captured), since when, and for
// which purposes it may be used.
type BiometricRef struct {
	ReferenceID string    `json:"reference_id"`
	Modality    string    `json:"modality"`
	Position    string    `json:"position"`
	Format      string    `json:"format"`
	Purposes    []string  `json:"purposes"`
	CreatedAt   time.Time `json:"created_at"`
}

// biometricRefs lists the references held for a person, in the store's
// order, grouping rows of one reference.
func biometricRefs(bs []store.Biometric) []BiometricRef {
	out := []BiometricRef{}
	at := map[string]int{}
	for _, b := range bs {
		if i, ok := at[b.ReferenceID]; ok {
			if !slices.Contains(out[i].Purposes, b.Purpose) {
				out[i].Purposes = append(out[i].Purposes, b.Purpose)
			}
			continue
		}
		at[b.ReferenceID] = len(out)
		out = append(out, BiometricRef{ReferenceID: b.ReferenceID, Modality: b.Category, Position: b.Position, Format: b.Format,
			Purposes: []string{b.Purpose}, CreatedAt: b.CreatedAt})
	}
	return out
}

// ExportPerson returns everything held about a person: to the person
// through the portal, or to a registrar (purpose registration) acting on
// the person's request. One audited export of every category.
func (r *Registry) ExportPerson(ctx context.Context, actor Actor, purpose consent.Purpose, id string) (Export, error) {
	var out Export
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: consent.Categories, action: consent.Export}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		p := f[id].person
		out = Export{GeneratedAt: r.clock(), Person: view(p, f[id].identity), Versions: []PersonVersionView{}, Consents: []ConsentView{},
			Exams: []ExamView{}, Biometrics: []BiometricRef{}, AccessLog: []AuditEntry{}}
		var err error
		if out.Versions, err = r.personVersions(ctx, tx, id); err != nil {
			return err
		}
		if p.HouseholdID != "" {
			h, err := tx.GetHousehold(ctx, p.HouseholdID)
			if err != nil {
				return err
			}
			addr, err := r.openAddress(ctx, h)
			if err != nil {
				return err
			}
			// The person's own household: address and head, not the other
			// members' names (they are other people's data).
			out.Household = &HouseholdView{ID: h.ID, Address: addr, AreaCode: h.AreaCode, HeadID: h.HeadID, Members: []Member{}, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}
		}
		hist, err := tx.ConsentHistory(ctx, id)
		if err != nil {
			return err
		}
		for _, c := range hist {
			out.Consents = append(out.Consents, consentView(c))
		}
		es, err := tx.ListExams(ctx, id)
		if err != nil {
			return err
		}
		for _, e := range es {
			v, err := r.examView(ctx, e, true, true)
			if err != nil {
				return err
			}
			out.Exams = append(out.Exams, v)
		}
		if out.Specimens, err = r.specimensOf(ctx, tx, id); err != nil {
			return err
		}
		bs, err := tx.ListBiometrics(ctx, id)
		if err != nil {
			return err
		}
		out.Biometrics = biometricRefs(bs)
		rows, err := tx.AuditRowsForPerson(ctx, id, 100000)
		if err != nil {
			return err
		}
		for _, row := range rows {
			e, err := entryFrom(row)
			if err != nil {
				return err
			}
			out.AccessLog = append(out.AccessLog, e)
		}
		return nil
	})
	return out, err
}

// ConsentStatistics is the coercion-monitoring table for auditors: current
// answers per site and category, small cells suppressed, and sites whose
// answers are all grants flagged.
func (r *Registry) ConsentStatistics(ctx context.Context, actor Actor) (consent.Stats, error) {
	var counts []consent.Count
	err := r.guard(ctx, operationAccess(actor, consent.ReadConsentStatistics), func(tx store.Tx, _ map[string]*facts) error {
		counts = counts[:0] // a backend may retry this function
		cs, err := tx.ConsentCounts(ctx)
		for _, c := range cs {
			counts = append(counts, consent.Count{Site: c.Site, Category: consent.Category(c.Category), Decision: consent.Decision(c.Decision), N: c.N})
		}
		return err
	})
	if err != nil {
		return consent.Stats{}, err
	}
	return consent.ConsentStats(counts, 0, 0), nil
}
