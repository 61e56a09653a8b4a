package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// CodeUnknownArea: a person, household, site or area names an area that is
// not in the area registry (400).
const CodeUnknownArea = "unknown_area"

// MaxAreaTarget bounds one target count (larger than any population).
const MaxAreaTarget = 2_000_000_000

var ageBandRE = regexp.MustCompile(`^([0-9]{1,3})(?:-([0-9]{1,3})|\+)$`)

// AgeBand is a closed range of ages in completed years; Max < 0 means open
// ("65+").
type AgeBand struct {
	Label    string
	Min, Max int
}

// ParseAgeBand reads "12-17" or "65+".
func ParseAgeBand(s string) (AgeBand, error) {
	m := ageBandRE.FindStringSubmatch(s)
	if m == nil {
		return AgeBand{}, fmt.Errorf("age band %q: want MIN-MAX or MIN+", s)
	}
	lo, _ := strconv.Atoi(m[1])
	hi := -1
	if m[2] != "" {
		hi, _ = strconv.Atoi(m[2])
		if hi < lo {
			return AgeBand{}, fmt.Errorf("age band %q: upper bound below lower", s)
		}
	}
	return AgeBand{Label: s, Min: lo, Max: hi}, nil
}

// Contains reports whether age falls in the band.
func (b AgeBand) Contains(age int) bool { return age >= b.Min && (b.Max < 0 || age <= b.Max) }

// AreaTarget is the target population of one age band and sex.
type AreaTarget struct {
	AgeBand string `json:"age_band"`
	Sex     string `json:"sex"`
	Target  int    `json:"target"`
}

// AreaInput is the body of PUT /v1/areas/{code}.
type AreaInput struct {
	Name       string       `json:"name"`
	ParentCode string       `json:"parent_code,omitempty"`
	Targets    []AreaTarget `json:"targets,omitempty"`
}

// AreaView is an area as the API shows it.
type AreaView struct {
	Code       string       `json:"code"`
	Name       string       `json:"name"`
	ParentCode string       `json:"parent_code,omitempty"`
	Targets    []AreaTarget `json:"targets"`
	UpdatedAt  time.Time    `json:"updated_at"`
}

// AreaRow is one line of an areas CSV file
// (code,name,parent_code,age_band,sex,target).
type AreaRow struct {
	Line                 int
	Code, Name, Parent   string
	AgeBand, Sex, Target string
}

func checkTargets(field string, ts []AreaTarget) error {
	seen := map[[2]string]bool{}
	for i, t := range ts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if _, err := ParseAgeBand(t.AgeBand); err != nil {
			return invalid(f+".age_band", "like 12-17 or 65+")
		}
		if err := checkEnum(f+".sex", t.Sex, Sexes); err != nil {
			return err
		}
		if t.Target < 0 || t.Target > MaxAreaTarget {
			return invalid(f+".target", "a count from 0")
		}
		k := [2]string{t.AgeBand, t.Sex}
		if seen[k] {
			return invalid(f, "this age band and sex are given twice")
		}
		seen[k] = true
	}
	return nil
}

func checkAreaInput(code string, in AreaInput) error {
	if !areaCodeRE.MatchString(code) {
		return invalid("code", "letters, digits, '.', '_' or '-', at most 32")
	}
	if err := checkName("name", in.Name); err != nil {
		return err
	}
	if in.ParentCode != "" && !areaCodeRE.MatchString(in.ParentCode) {
		return invalid("parent_code", "letters, digits, '.', '_' or '-', at most 32")
	}
	if in.ParentCode == code {
		return invalid("parent_code", "an area cannot be its own parent")
	}
	return checkTargets("targets", in.Targets)
}

// PutArea creates an area or replaces its name, parent and targets (admin).
// The parent must exist and the tree stay a tree.
func (r *Registry) PutArea(ctx context.Context, actor Actor, code string, in AreaInput) (AreaView, error) {
	if err := r.refuseOperation(ctx, actor, consent.ManageAreas); err != nil {
		return AreaView{}, err
	}
	if err := checkAreaInput(code, in); err != nil {
		return AreaView{}, err
	}
	a := toStoreArea(code, in, r.clock())
	err := r.guard(ctx, operationAccess(actor, consent.ManageAreas), func(tx store.Tx, _ map[string]*facts) error {
		return r.putAreas(ctx, tx, []store.Area{a})
	})
	if err != nil {
		return AreaView{}, err
	}
	return areaView(a), nil
}

func toStoreArea(code string, in AreaInput, now time.Time) store.Area {
	a := store.Area{Code: code, Name: strings.TrimSpace(in.Name), ParentCode: in.ParentCode, UpdatedAt: now}
	for _, t := range in.Targets {
		a.Targets = append(a.Targets, store.AreaTarget{AgeBand: t.AgeBand, Sex: t.Sex, Target: t.Target})
	}
	return a
}

func areaView(a store.Area) AreaView {
	v := AreaView{Code: a.Code, Name: a.Name, ParentCode: a.ParentCode, Targets: []AreaTarget{}, UpdatedAt: a.UpdatedAt}
	for _, t := range a.Targets {
		v.Targets = append(v.Targets, AreaTarget{AgeBand: t.AgeBand, Sex: t.Sex, Target: t.Target})
	}
	return v
}

// putAreas writes areas after checking that every parent exists (among them
// or in the store) and that no area becomes its own ancestor.
func (r *Registry) putAreas(ctx context.Context, tx store.Tx, as []store.Area) error {
	existing, err := tx.ListAreas(ctx)
	if err != nil {
		return err
	}
	parent := make(map[string]string, len(existing)+len(as))
	for _, a := range existing {
		parent[a.Code] = a.ParentCode
	}
	for _, a := range as {
		parent[a.Code] = a.ParentCode
	}
	for _, a := range as {
		if a.ParentCode == "" {
			continue
		}
		if _, ok := parent[a.ParentCode]; !ok {
			return &InputError{Code: CodeUnknownArea, Field: "parent_code", Detail: fmt.Sprintf("area %s: parent %s does not exist", a.Code, a.ParentCode)}
		}
		seen := map[string]bool{a.Code: true}
		for p := a.ParentCode; p != ""; p = parent[p] {
			if seen[p] {
				return invalid("parent_code", fmt.Sprintf("area %s would be its own ancestor", a.Code))
			}
			seen[p] = true
		}
	}
	for _, a := range as {
		if err := tx.PutArea(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// ImportAreas loads an area file: every row or none, in one transaction.
// Rows of one area must agree on name and parent; an area given without
// targets has one row with age_band, sex and target empty. Loading the same
// file twice leaves the same areas (each area's targets are replaced by the
// file's). It returns the number of areas written.
func (r *Registry) ImportAreas(ctx context.Context, actor Actor, rows []AreaRow) (int, error) {
	if err := r.refuseOperation(ctx, actor, consent.ManageAreas); err != nil {
		return 0, err
	}
	now := r.clock()
	byCode := map[string]*AreaInput{}
	var order []string
	for _, row := range rows {
		line := func(err error) error {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Detail = fmt.Sprintf("line %d: %s", row.Line, ie.Detail)
			}
			return err
		}
		in, ok := byCode[row.Code]
		if !ok {
			in = &AreaInput{Name: row.Name, ParentCode: row.Parent}
			byCode[row.Code] = in
			order = append(order, row.Code)
		} else if in.Name != row.Name || in.ParentCode != row.Parent {
			return 0, line(invalid("name", fmt.Sprintf("area %s is given with two names or parents", row.Code)))
		}
		if row.AgeBand == "" && row.Sex == "" && row.Target == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(row.Target))
		if err != nil {
			return 0, line(invalid("target", "a whole number"))
		}
		in.Targets = append(in.Targets, AreaTarget{AgeBand: row.AgeBand, Sex: row.Sex, Target: n})
	}
	as := make([]store.Area, 0, len(order))
	for _, code := range order {
		in := *byCode[code]
		if err := checkAreaInput(code, in); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				ie.Detail = "area " + code + ": " + ie.Detail
			}
			return 0, err
		}
		as = append(as, toStoreArea(code, in, now))
	}
	if len(as) == 0 {
		return 0, missing("rows")
	}
	err := r.guard(ctx, operationAccess(actor, consent.ManageAreas), func(tx store.Tx, _ map[string]*facts) error { return r.putAreas(ctx, tx, as) })
	if err != nil {
		return 0, err
	}
	return len(as), nil
}

// ListAreas lists the area registry (public planning data; any operator).
func (r *Registry) ListAreas(ctx context.Context) ([]AreaView, error) {
	out := []AreaView{}
	err := r.store.View(ctx, func(tx store.Tx) error {
		out = out[:0] // a backend may retry this function
		as, err := tx.ListAreas(ctx)
		for _, a := range as {
			out = append(out, areaView(a))
		}
		return err
	})
	return out, err
}

// requireArea refuses an area code that is not in the area registry.
func requireArea(ctx context.Context, tx store.Tx, code string) error {
	_, err := tx.GetArea(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return &InputError{Code: CodeUnknownArea, Field: "area_code", Detail: "no area has this code; load the area registry first"}
	}
	return err
}

// projectPerson writes a person's statistics projection: area, birth year
// (also of a partial date), whether the birth date was estimated, sex,
// registration site, operator and time. Aliases and erased persons have none.
func projectPerson(ctx context.Context, tx store.Tx, p store.Person, ident Identity, operatorID string) error {
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return tx.DeletePersonStats(ctx, p.ID)
	}
	year := 0
	if b, err := firstBirthDay(ident.BirthDate); err == nil {
		year = b.Year()
	}
	estimated := ident.BirthDateEstimated || IsPartialBirthDate(ident.BirthDate)
	sex := ident.Sex
	if !slices.Contains(Sexes, sex) {
		sex = "unknown"
	}
	return tx.PutPersonStats(ctx, store.PersonStats{PersonID: p.ID, AreaCode: p.AreaCode, BirthYear: year, BirthEstimated: estimated, Sex: sex,
		Site: p.Site, OperatorID: operatorID, RegisteredAt: p.CreatedAt})
}

// registeringOperator is the operator who recorded the registration consent.
func registeringOperator(records []consent.Record) string {
	for _, rec := range records {
		if rec.Category == consent.Identity && rec.Purpose == consent.Registration {
			return rec.OperatorID
		}
	}
	return ""
}

// refuseOperation records and returns the refusal of an operation the
// role is not given, before any validation (a refused role learns nothing
// from the input checks); nil when the role may.
func (r *Registry) refuseOperation(ctx context.Context, actor Actor, op consent.Operation) error {
	if consent.DecideOperation(actor.Role, op).Allow {
		return nil
	}
	return r.guard(ctx, operationAccess(actor, op), func(store.Tx, map[string]*facts) error { return nil })
}
