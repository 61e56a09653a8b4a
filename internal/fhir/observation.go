package fhir

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
)

// LOINC codes of the check-up findings.
const (
	LOINCBloodGroup = "882-1"   // ABO and Rh group [Type] in Blood
	LOINCHeight     = "8302-2"  // Body height
	LOINCWeight     = "29463-7" // Body weight
	LOINCBPPanel    = "85354-9" // Blood pressure panel with all children optional
	LOINCSystolic   = "8480-6"  // Systolic blood pressure
	LOINCDiastolic  = "8462-4"  // Diastolic blood pressure
)

var loincDisplay = map[string]string{
	LOINCBloodGroup: "ABO and Rh group [Type] in Blood",
	LOINCHeight:     "Body height",
	LOINCWeight:     "Body weight",
	LOINCBPPanel:    "Blood pressure panel with all children optional",
	LOINCSystolic:   "Systolic blood pressure",
	LOINCDiastolic:  "Diastolic blood pressure",
}

// bloodGroups maps Assent's blood types to SNOMED CT findings.
var bloodGroups = map[string]Coding{
	"A+":  {System: SystemSNOMED, Code: "278149003", Display: "Blood group A Rh(D) positive"},
	"A-":  {System: SystemSNOMED, Code: "278152006", Display: "Blood group A Rh(D) negative"},
	"B+":  {System: SystemSNOMED, Code: "278150003", Display: "Blood group B Rh(D) positive"},
	"B-":  {System: SystemSNOMED, Code: "278153001", Display: "Blood group B Rh(D) negative"},
	"AB+": {System: SystemSNOMED, Code: "278151004", Display: "Blood group AB Rh(D) positive"},
	"AB-": {System: SystemSNOMED, Code: "278154007", Display: "Blood group AB Rh(D) negative"},
	"O+":  {System: SystemSNOMED, Code: "278147001", Display: "Blood group O Rh(D) positive"},
	"O-":  {System: SystemSNOMED, Code: "278148006", Display: "Blood group O Rh(D) negative"},
}

// Observation id suffixes: an exam's findings are one Observation each,
// id "<exam id>-<suffix>".
const (
	sufBlood  = "abo"
	sufHeight = "height"
	sufWeight = "weight"
	sufBP     = "bp"
)

func loinc(code string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: SystemLOINC, Code: code, Display: loincDisplay[code]}}, Text: loincDisplay[code]}
}

func category(code, display string) []CodeableConcept {
	return []CodeableConcept{{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: code, Display: display}}}}
}

func num(v float64) *json.Number {
	n := json.Number(strconv.FormatFloat(v, 'f', -1, 64))
	return &n
}

func ucum(v float64, unit string) *Quantity {
	return &Quantity{Value: num(v), Unit: unit, System: SystemUCUM, Code: unit}
}

// observationsFrom maps one exam to its Observations (vital signs and the
// blood group; notes, free text, are not mapped). The performer is left
// out when the exam view has none (research reads are de-identified).
func observationsFrom(pid string, e registry.ExamView) []Observation {
	mk := func(suf, code, cat, catDisplay string) Observation {
		o := Observation{ResourceType: "Observation", ID: e.ID + "-" + suf, Meta: &Meta{LastUpdated: instant(e.At)},
			Identifier: []Identifier{{System: SystemExam, Value: e.ID}},
			Status:     "final", Category: category(cat, catDisplay), Code: loinc(code),
			Subject: &Reference{Reference: "Patient/" + pid}, EffectiveDateTime: instant(e.At), Issued: instant(e.At)}
		if e.OperatorID != "" {
			o.Performer = []Reference{{Identifier: &Identifier{System: SystemOperator, Value: e.OperatorID}}}
		}
		return o
	}
	var out []Observation
	if e.BloodType != "" {
		o := mk(sufBlood, LOINCBloodGroup, "laboratory", "Laboratory")
		c := bloodGroups[e.BloodType]
		o.ValueCodeableConcept = &CodeableConcept{Coding: []Coding{c}, Text: e.BloodType}
		out = append(out, o)
	}
	if e.HeightCM != nil {
		o := mk(sufHeight, LOINCHeight, "vital-signs", "Vital Signs")
		o.ValueQuantity = ucum(*e.HeightCM, "cm")
		out = append(out, o)
	}
	if e.WeightKG != nil {
		o := mk(sufWeight, LOINCWeight, "vital-signs", "Vital Signs")
		o.ValueQuantity = ucum(*e.WeightKG, "kg")
		out = append(out, o)
	}
	if e.Systolic != nil || e.Diastolic != nil {
		o := mk(sufBP, LOINCBPPanel, "vital-signs", "Vital Signs")
		if e.Systolic != nil {
			o.Component = append(o.Component, ObservationComponent{Code: loinc(LOINCSystolic), ValueQuantity: ucum(float64(*e.Systolic), "mm[Hg]")})
		}
		if e.Diastolic != nil {
			o.Component = append(o.Component, ObservationComponent{Code: loinc(LOINCDiastolic), ValueQuantity: ucum(float64(*e.Diastolic), "mm[Hg]")})
		}
		out = append(out, o)
	}
	return out
}

var observationParams = []string{"patient", "subject", "code", "_count", "_offset"}

// searchObservations lists a person's findings: a clinician for care, a
// researcher for research (the registry's Exams use case decides, and
// de-identifies for research). code narrows to one LOINC code.
func (h *Handler) searchObservations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, observationParams); err != nil {
		return err
	}
	count, offset, err := paging(q)
	if err != nil {
		return err
	}
	pid := refID(q.Get("patient"), "Patient")
	if pid == "" {
		pid = refID(q.Get("subject"), "Patient")
	}
	if pid == "" {
		return problem(http.StatusBadRequest, registry.CodeMissingField, "Observation is searched by patient", "patient")
	}
	if pid, err = h.person(r, pid); err != nil {
		return err
	}
	code := q.Get("code")
	if _, c, ok := strings.Cut(code, "|"); ok {
		code = c
	}
	actor, purpose := actorPurpose(r)
	exams, err := h.reg.Exams(r.Context(), actor, purpose, pid, purpose != consent.Research)
	if err != nil {
		return err
	}
	var res []any
	for _, e := range exams {
		for _, o := range observationsFrom(pid, e) {
			if code == "" || o.Code.Coding[0].Code == code {
				res = append(res, o)
			}
		}
	}
	return writeResource(w, http.StatusOK, h.searchset(r, "Observation", res, count, offset))
}

// createObservation records one finding (or the blood pressure panel) as a
// check-up through the registry's exam use case: the same rules as the
// JSON API (clinician, purpose care, care never depending on consent).
func (h *Handler) createObservation(w http.ResponseWriter, r *http.Request) error {
	var o Observation
	if err := httpapi.Decode(r, &o); err != nil {
		return err
	}
	pid, exam, err := examFrom(o)
	if err != nil {
		return err
	}
	if pid, err = h.person(r, pid); err != nil {
		return err
	}
	actor, purpose := actorPurpose(r)
	v, err := h.reg.RecordExam(r.Context(), actor, purpose, pid, exam)
	if err != nil {
		return err
	}
	obs := observationsFrom(pid, v)
	if len(obs) != 1 {
		return problem(http.StatusInternalServerError, httpapi.CodeInternal, "", "")
	}
	w.Header().Set("Location", baseURL(r)+"/Observation/"+obs[0].ID)
	w.Header().Set("Last-Modified", v.At.UTC().Format(http.TimeFormat))
	return writeResource(w, http.StatusCreated, obs[0])
}

func bad(field, detail string) error {
	return problem(http.StatusBadRequest, registry.CodeInvalidValue, detail, field)
}

// examFrom reads an Observation a client posts into the exam it records.
func examFrom(o Observation) (string, registry.NewExam, error) {
	var ex registry.NewExam
	if o.ResourceType != "Observation" {
		return "", ex, bad("resourceType", "must be Observation")
	}
	if o.ID != "" {
		return "", ex, bad("id", "the server assigns ids; leave id out on create")
	}
	if o.Status != "final" && o.Status != "amended" && o.Status != "preliminary" {
		return "", ex, bad("status", "must be final (or preliminary, amended)")
	}
	if o.Subject == nil || !strings.HasPrefix(o.Subject.Reference, "Patient/") {
		return "", ex, problem(http.StatusBadRequest, registry.CodeMissingField, "subject must reference Patient/<id>", "subject")
	}
	pid := refID(o.Subject.Reference, "Patient")
	if o.EffectiveDateTime != "" {
		if _, err := time.Parse(time.RFC3339, o.EffectiveDateTime); err != nil {
			return "", ex, bad("effectiveDateTime", "must be a dateTime with a time zone")
		}
	}
	code := ""
	for _, c := range o.Code.Coding {
		if c.System == SystemLOINC {
			code = c.Code
		}
	}
	qty := func(q *Quantity, field, unit string) (float64, error) {
		if q == nil || q.Value == nil {
			return 0, problem(http.StatusBadRequest, registry.CodeMissingField, field+" is required for this code", field)
		}
		if q.Code != unit || (q.System != "" && q.System != SystemUCUM) {
			return 0, bad(field, "unit must be UCUM "+unit)
		}
		return q.Value.Float64()
	}
	onlyValue := func(want string) error {
		if (o.ValueQuantity != nil) != (want == "valueQuantity") || (o.ValueCodeableConcept != nil) != (want == "valueCodeableConcept") ||
			(len(o.Component) > 0) != (want == "component") {
			return bad(want, "this code takes "+want+" only")
		}
		return nil
	}
	switch code {
	case LOINCBloodGroup:
		if err := onlyValue("valueCodeableConcept"); err != nil {
			return "", ex, err
		}
		bt := bloodTypeOf(*o.ValueCodeableConcept)
		if bt == "" {
			return "", ex, bad("valueCodeableConcept", "a SNOMED CT ABO/Rh blood group, or text A+, A-, B+, B-, AB+, AB-, O+ or O-")
		}
		ex.BloodType = &bt
	case LOINCHeight:
		if err := onlyValue("valueQuantity"); err != nil {
			return "", ex, err
		}
		v, err := qty(o.ValueQuantity, "valueQuantity", "cm")
		if err != nil {
			return "", ex, err
		}
		ex.HeightCM = &v
	case LOINCWeight:
		if err := onlyValue("valueQuantity"); err != nil {
			return "", ex, err
		}
		v, err := qty(o.ValueQuantity, "valueQuantity", "kg")
		if err != nil {
			return "", ex, err
		}
		ex.WeightKG = &v
	case LOINCBPPanel:
		if err := onlyValue("component"); err != nil {
			return "", ex, err
		}
		for i, c := range o.Component {
			field := "component[" + strconv.Itoa(i) + "].valueQuantity"
			cc := ""
			for _, x := range c.Code.Coding {
				if x.System == SystemLOINC {
					cc = x.Code
				}
			}
			v, err := qty(c.ValueQuantity, field, "mm[Hg]")
			if err != nil {
				return "", ex, err
			}
			if v != float64(int(v)) {
				return "", ex, bad(field, "a whole number of mm[Hg]")
			}
			n := int(v)
			switch {
			case cc == LOINCSystolic && ex.Systolic == nil:
				ex.Systolic = &n
			case cc == LOINCDiastolic && ex.Diastolic == nil:
				ex.Diastolic = &n
			default:
				return "", ex, bad("component["+strconv.Itoa(i)+"].code", "components are LOINC 8480-6 (systolic) and 8462-4 (diastolic), once each")
			}
		}
	default:
		return "", ex, bad("code", "a LOINC code Assent records: 882-1, 8302-2, 29463-7 or 85354-9")
	}
	return pid, ex, nil
}

func bloodTypeOf(cc CodeableConcept) string {
	for _, c := range cc.Coding {
		for bt, want := range bloodGroups {
			if c.System == want.System && c.Code == want.Code {
				return bt
			}
		}
	}
	if _, ok := bloodGroups[cc.Text]; ok && len(cc.Coding) == 0 {
		return cc.Text
	}
	return ""
}
