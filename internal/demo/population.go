// Package demo makes a synthetic population for `assent demo`: households of
// invented people across three areas, from a seeded generator, registered
// through the registry's own use cases (so consents, sealing and the audit
// log are exercised exactly as in production). No real person is in it.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// Areas are the demo's administrative areas, one site each.
var Areas = []registry.NewSite{
	{Code: "north-clinic", Name: "North health post", AreaCode: "AREA-N"},
	{Code: "river-clinic", Name: "Riverside health post", AreaCode: "AREA-R"},
	{Code: "hill-clinic", Name: "Hill health post", AreaCode: "AREA-H"},
}

// AreaTree is the demo's area registry: one region over the three areas,
// with invented target populations per age band and sex (about what 80
// households hold, so coverage is near, not at, 100 %).
var AreaTree = []struct {
	Code string
	In   registry.AreaInput
}{
	{"REGION", registry.AreaInput{Name: "Demo region"}},
	{"AREA-N", registry.AreaInput{Name: "North", ParentCode: "REGION", Targets: demoTargets(14)}},
	{"AREA-R", registry.AreaInput{Name: "Riverside", ParentCode: "REGION", Targets: demoTargets(15)}},
	{"AREA-H", registry.AreaInput{Name: "Hill", ParentCode: "REGION", Targets: demoTargets(13)}},
}

func demoTargets(adults int) []registry.AreaTarget {
	var out []registry.AreaTarget
	for _, sex := range []string{"female", "male"} {
		out = append(out,
			registry.AreaTarget{AgeBand: "0-11", Sex: sex, Target: adults * 2 / 3},
			registry.AreaTarget{AgeBand: "12-17", Sex: sex, Target: adults / 3},
			registry.AreaTarget{AgeBand: "18-64", Sex: sex, Target: adults * 2},
			registry.AreaTarget{AgeBand: "65+", Sex: sex, Target: adults / 2})
	}
	return out
}

var (
	givenFemale = []string{"Amina", "Beatriz", "Chiara", "Dalia", "Esi", "Farah", "Grace", "Hana", "Ines", "Joy", "Kemi", "Lina", "Maya", "Nia", "Olga", "Priya", "Rosa", "Sara", "Tala", "Uma"}
	givenMale   = []string{"Ade", "Bruno", "Chen", "Dario", "Emeka", "Femi", "Gabriel", "Hugo", "Ivan", "Jonas", "Kofi", "Luca", "Mateo", "Nuno", "Omar", "Pavel", "Rui", "Samir", "Tomas", "Yusuf"}
	families    = []string{"Abara", "Bello", "Costa", "Dube", "Eze", "Ferreira", "Gomes", "Haddad", "Ito", "Jovanovic", "Kamau", "Lopes", "Mensah", "Nakamura", "Okafor", "Pereira", "Quispe", "Rossi", "Silva", "Tembo", "Urquhart", "Varga", "Wanjiru", "Xavier", "Yilmaz", "Zulu"}
	streets     = []string{"Acacia Road", "Baobab Lane", "Cedar Street", "Market Row", "River Walk", "Hill Path", "School Road", "Well Street"}
)

// Options shape the population.
type Options struct {
	Seed       uint64
	Households int // default 80 (about 300 people)
	Now        time.Time
}

// Result counts what was made.
type Result struct {
	Households, Persons int
	PersonIDs           []string
}

// Populate registers the population. actors gives the registrar of each
// area's site by site code.
func Populate(ctx context.Context, reg *registry.Registry, registrars map[string]registry.Actor, opt Options) (Result, error) {
	if opt.Households == 0 {
		opt.Households = 80
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now().UTC()
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5eed))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	var res Result
	for h := range opt.Households {
		area := Areas[h%len(Areas)]
		actor := registrars[area.Code]
		hh, err := reg.CreateHousehold(ctx, actor, consent.Registration, registry.NewHousehold{
			Address:  fmt.Sprintf("%d %s, %s", 1+rng.IntN(200), pick(streets), area.Name),
			AreaCode: area.AreaCode,
		})
		if err != nil {
			return res, fmt.Errorf("demo: household: %w", err)
		}
		res.Households++
		family := pick(families)
		headAge := 22 + rng.IntN(50)
		headSex := []string{"female", "male"}[rng.IntN(2)]
		head, err := register(ctx, reg, actor, rng, opt.Now, family, headSex, headAge, area.AreaCode, hh.ID, "head", "")
		if err != nil {
			return res, err
		}
		res.Persons++
		res.PersonIDs = append(res.PersonIDs, head)
		if rng.IntN(10) < 7 {
			sex := map[string]string{"female": "male", "male": "female"}[headSex]
			id, err := register(ctx, reg, actor, rng, opt.Now, family, sex, max(18, headAge-5+rng.IntN(10)), area.AreaCode, hh.ID, "spouse", "")
			if err != nil {
				return res, err
			}
			res.Persons++
			res.PersonIDs = append(res.PersonIDs, id)
		}
		for range rng.IntN(5) {
			age := rng.IntN(max(1, min(headAge-16, 30)))
			sex := []string{"female", "male"}[rng.IntN(2)]
			guardian := ""
			if age < 18 {
				guardian = head
			}
			id, err := register(ctx, reg, actor, rng, opt.Now, family, sex, age, area.AreaCode, hh.ID, "child", guardian)
			if err != nil {
				return res, err
			}
			res.Persons++
			res.PersonIDs = append(res.PersonIDs, id)
		}
	}
	return res, nil
}

func register(ctx context.Context, reg *registry.Registry, actor registry.Actor, rng *rand.Rand, now time.Time,
	family, sex string, age int, area, household, rel, guardian string) (string, error) {
	names := givenFemale
	if sex == "male" {
		names = givenMale
	}
	birth := now.AddDate(-age, 0, -1-rng.IntN(360))
	var decisions []registry.DecisionInput
	for _, c := range []consent.Category{consent.Fingerprint, consent.Iris, consent.Face} {
		for _, p := range []consent.Purpose{consent.Deduplication, consent.Verification} {
			d := consent.Granted
			if rng.IntN(10) < 2 { // about one in five declines: a real choice
				d = consent.Declined
			}
			decisions = append(decisions, registry.DecisionInput{Category: string(c), Purpose: string(p), Decision: string(d)})
		}
	}
	if rng.IntN(2) == 0 {
		decisions = append(decisions, registry.DecisionInput{Category: string(consent.Health), Purpose: string(consent.Research), Decision: string(consent.Granted)})
	}
	out, err := reg.CreatePerson(ctx, actor, consent.Registration, registry.NewPerson{
		GivenName: names[rng.IntN(len(names))], FamilyName: family, BirthDate: birth.Format(time.DateOnly), Sex: sex,
		AreaCode: area, HouseholdID: household, Relationship: rel, GuardianID: guardian,
		Consent: &registry.ConsentInput{Method: "verbal-witnessed", NoticeVersion: "demo-1", Language: "en", Decisions: decisions},
	})
	if err != nil {
		return "", fmt.Errorf("demo: person: %w", err)
	}
	return out.ID, nil
}
