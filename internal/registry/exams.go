package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

const kindExam = "exam"

// BloodTypes are the ABO/Rh types an exam may record.
var BloodTypes = []string{"A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"}

// NewExam is a check-up's findings. Every field is optional.
type NewExam struct {
	BloodType *string  `json:"blood_type,omitempty"`
	HeightCM  *float64 `json:"height_cm,omitempty"`
	WeightKG  *float64 `json:"weight_kg,omitempty"`
	Systolic  *int     `json:"systolic,omitempty"`
	Diastolic *int     `json:"diastolic,omitempty"`
	Notes     *string  `json:"notes,omitempty"`
}

// findings is the sealed health part of an exam.
type findings struct {
	HeightCM  *float64 `json:"height_cm,omitempty"`
	WeightKG  *float64 `json:"weight_kg,omitempty"`
	Systolic  *int     `json:"systolic,omitempty"`
	Diastolic *int     `json:"diastolic,omitempty"`
	Notes     *string  `json:"notes,omitempty"`
}

// ExamView is an exam as the API shows it. Researchers get no site,
// operator or notes (free text can identify).
type ExamView struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Site       string    `json:"site,omitempty"`
	OperatorID string    `json:"operator_id,omitempty"`
	BloodType  string    `json:"blood_type,omitempty"`
	HeightCM   *float64  `json:"height_cm,omitempty"`
	WeightKG   *float64  `json:"weight_kg,omitempty"`
	Systolic   *int      `json:"systolic,omitempty"`
	Diastolic  *int      `json:"diastolic,omitempty"`
	Notes      *string   `json:"notes,omitempty"`
	// MergedFrom names the record the exam was written under when that
	// record was later merged into the one listed (care lists only).
	MergedFrom string `json:"merged_from,omitempty"`
}

func (in NewExam) validate() error {
	if in.BloodType != nil {
		if err := checkEnum("blood_type", *in.BloodType, BloodTypes); err != nil {
			return err
		}
	}
	rangeF := func(field string, v *float64, lo, hi float64) error {
		if v != nil && (*v < lo || *v > hi) {
			return invalid(field, fmt.Sprintf("must be between %g and %g", lo, hi))
		}
		return nil
	}
	rangeI := func(field string, v *int, lo, hi int) error {
		if v != nil && (*v < lo || *v > hi) {
			return invalid(field, fmt.Sprintf("must be between %d and %d", lo, hi))
		}
		return nil
	}
	for _, err := range []error{
		rangeF("height_cm", in.HeightCM, 20, 260), rangeF("weight_kg", in.WeightKG, 0.5, 400),
		rangeI("systolic", in.Systolic, 50, 300), rangeI("diastolic", in.Diastolic, 20, 200),
	} {
		if err != nil {
			return err
		}
	}
	if in.Systolic != nil && in.Diastolic != nil && *in.Diastolic >= *in.Systolic {
		return invalid("diastolic", "must be below systolic")
	}
	if in.Notes != nil && len(*in.Notes) > 4000 {
		return invalid("notes", "longer than 4000 bytes")
	}
	if in == (NewExam{}) {
		return invalid("body", "an exam records at least one finding")
	}
	return nil
}

// RecordExam records a check-up. It rests on the care relationship: it never
// depends on what the person answered about biometrics or research.
func (r *Registry) RecordExam(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in NewExam) (ExamView, error) {
	if err := in.validate(); err != nil {
		return ExamView{}, err
	}
	cats := []consent.Category{consent.Health}
	if in.BloodType != nil {
		cats = append(cats, consent.BloodType)
	}
	var out ExamView
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: cats, action: consent.Write}
	err := r.guard(ctx, a, func(tx store.Tx, held map[string]*facts) error {
		if err := refuseMerged(held[id].person); err != nil {
			return err
		}
		now := r.clock()
		e := store.Exam{ID: newID(), PersonID: id, Site: actor.Site, OperatorID: actor.OperatorID, At: now}
		f := findings{HeightCM: in.HeightCM, WeightKG: in.WeightKG, Systolic: in.Systolic, Diastolic: in.Diastolic, Notes: in.Notes}
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if e.FindingsSealed, err = r.keys.Seal(ctx, id, string(consent.Health), kindExam, b); err != nil {
			return err
		}
		if in.BloodType != nil {
			if e.BloodTypeSealed, err = r.keys.Seal(ctx, id, string(consent.BloodType), kindExam, []byte(*in.BloodType)); err != nil {
				return err
			}
		}
		if err := tx.AddExam(ctx, e); err != nil {
			return err
		}
		out, err = r.examView(ctx, e, true, true)
		return err
	})
	return out, err
}

func (r *Registry) examView(ctx context.Context, e store.Exam, full, bloodType bool) (ExamView, error) {
	v := ExamView{ID: e.ID, At: e.At}
	if full {
		v.Site, v.OperatorID = e.Site, e.OperatorID
	}
	if e.FindingsSealed != nil {
		b, err := r.keys.Open(ctx, e.PersonID, string(consent.Health), kindExam, e.FindingsSealed)
		if err != nil {
			return v, fmt.Errorf("registry: open exam: %w", err)
		}
		var f findings
		if err := json.Unmarshal(b, &f); err != nil {
			return v, err
		}
		v.HeightCM, v.WeightKG, v.Systolic, v.Diastolic = f.HeightCM, f.WeightKG, f.Systolic, f.Diastolic
		if full {
			v.Notes = f.Notes
		}
	}
	if bloodType && e.BloodTypeSealed != nil {
		b, err := r.keys.Open(ctx, e.PersonID, string(consent.BloodType), kindExam, e.BloodTypeSealed)
		if err != nil {
			return v, fmt.Errorf("registry: open blood type: %w", err)
		}
		v.BloodType = string(b)
	}
	return v, nil
}

// Exams lists a person's exams. Clinicians (care) see everything;
// researchers (research) need the person's health x research consent and see
// de-identified findings, with blood types only when includeBloodType is
// asked and blood_type x research is consented too.
func (r *Registry) Exams(ctx context.Context, actor Actor, purpose consent.Purpose, id string, includeBloodType bool) ([]ExamView, error) {
	research := purpose == consent.Research
	cats := []consent.Category{consent.Health}
	if !research || includeBloodType {
		cats = append(cats, consent.BloodType)
	}
	bt := len(cats) == 2
	out := []ExamView{}
	persons := []string{id}
	if purpose == consent.Care {
		// One care history across merged records.
		var err error
		if persons, err = r.mergedRecords(ctx, id); err != nil {
			return out, err
		}
	}
	a := access{actor: actor, purpose: purpose, persons: persons, categories: cats, action: consent.Read}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		for _, pid := range persons {
			es, err := tx.ListExams(ctx, pid)
			if err != nil {
				return err
			}
			for _, e := range es {
				v, err := r.examView(ctx, e, !research, bt)
				if err != nil {
					return err
				}
				if pid != persons[0] {
					v.MergedFrom = pid
				}
				out = append(out, v)
			}
		}
		slices.SortStableFunc(out, func(a, b ExamView) int { return a.At.Compare(b.At) })
		return nil
	})
	return out, err
}

// Exam reads one check-up by its id, exactly as Exams reads the person's
// history (the same gate, purposes, de-identification and audit entry, for
// the person the exam belongs to), and returns it with that person's id.
// An unknown exam id is ErrNotFound.
func (r *Registry) Exam(ctx context.Context, actor Actor, purpose consent.Purpose, examID string, includeBloodType bool) (ExamView, string, error) {
	var pid string
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		pid, err = tx.ExamPerson(ctx, examID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ExamView{}, "", ErrNotFound
	}
	if err != nil {
		return ExamView{}, "", err
	}
	exams, err := r.Exams(ctx, actor, purpose, pid, includeBloodType)
	if err != nil {
		return ExamView{}, "", err
	}
	for _, e := range exams {
		if e.ID == examID {
			return e, pid, nil
		}
	}
	return ExamView{}, "", ErrNotFound
}
