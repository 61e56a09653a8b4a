package report

import (
	"slices"
)

// Exclusion kinds, as counted.
var exclusionKinds = []string{"capture_failed", "no_match", "not_enrolled"}

// ExclusionInput are the counts an exclusion report is built from.
type ExclusionInput struct {
	Areas     []Area
	SiteAreas map[string]string
	// Events by site, category (modality) and kind (in Decision).
	Events []Count
	// CareWithoutBiometrics by exam site.
	CareWithoutBiometrics []Count
}

// ExclusionRow counts, for one site (empty: the programme) and modality,
// captures too poor to enrol, verifications with no match, and
// verifications of people with no template.
type ExclusionRow struct {
	SiteCode      string `json:"site_code"`
	Modality      string `json:"modality"`
	CaptureFailed *int   `json:"capture_failed,omitempty"`
	NoMatch       *int   `json:"no_match,omitempty"`
	NotEnrolled   *int   `json:"not_enrolled,omitempty"`
	Suppressed    bool   `json:"suppressed"`
}

// CareRow counts people checked up at a site (empty: the programme) in the
// period who hold no biometric at all: served without one.
type CareRow struct {
	SiteCode              string `json:"site_code"`
	CareWithoutBiometrics *int   `json:"care_without_biometrics,omitempty"`
	Suppressed            bool   `json:"suppressed"`
}

// Exclusion is the exclusion report: whom the biometric systems fail.
type Exclusion struct {
	Kind      string         `json:"kind"`
	Area      string         `json:"area,omitempty"`
	From      string         `json:"from,omitempty"`
	To        string         `json:"to"`
	Privacy   Privacy        `json:"privacy"`
	Modality  []ExclusionRow `json:"by_site_and_modality"`
	CareSites []CareRow      `json:"care_without_biometrics"`
}

// siteTable releases per-site counts with their programme total (index 0).
func siteTable(sites []string, value func(site string) int, k int) *Table {
	t := NewTable(len(sites) + 1)
	sum := Sum{Total: 0}
	for i, s := range sites {
		t.Values[i+1] = value(s)
		t.Values[0] += t.Values[i+1]
		sum.Parts = append(sum.Parts, i+1)
	}
	t.Sums = []Sum{sum}
	t.Protect(k)
	return t
}

// BuildExclusion makes the exclusion report.
func BuildExclusion(in ExclusionInput, p Params) (Exclusion, error) {
	p.defaults()
	inArea := func(string) bool { return true }
	if p.Area != "" {
		tr, ok := subtree(in.Areas, p.Area)
		if !ok {
			return Exclusion{}, ErrUnknownArea
		}
		inArea = func(site string) bool { _, ok := tr.index[in.SiteAreas[site]]; return ok }
	}
	out := Exclusion{Kind: "exclusion", Area: p.Area, From: dateOrEmpty(p.From), To: dateOrEmpty(p.To), Privacy: Privacy{K: p.K},
		Modality: []ExclusionRow{}, CareSites: []CareRow{}}
	if p.Epsilon > 0 {
		out.Privacy.Epsilon, out.Privacy.EpsilonPerTable, out.Privacy.Mechanism = p.Epsilon, p.Epsilon/2, "two-sided geometric"
	}
	noise := noiser(p.Epsilon/2, p.rng())
	ev := map[[3]string]int{}
	var sites []string
	for _, c := range in.Events {
		if !inArea(c.Site) {
			continue
		}
		ev[[3]string{c.Site, c.Category, c.Decision}] += c.N
		if !slices.Contains(sites, c.Site) {
			sites = append(sites, c.Site)
		}
	}
	for k, v := range ev {
		ev[k] = noise(v)
	}
	slices.Sort(sites)
	for _, m := range []string{"face", "fingerprint", "iris"} {
		tabs := make([]*Table, len(exclusionKinds))
		for i, kind := range exclusionKinds {
			tabs[i] = siteTable(sites, func(s string) int { return ev[[3]string{s, m, kind}] }, p.K)
		}
		for i := range len(sites) + 1 {
			row := ExclusionRow{Modality: m}
			if i > 0 {
				row.SiteCode = sites[i-1]
			}
			dst := []**int{&row.CaptureFailed, &row.NoMatch, &row.NotEnrolled}
			for j, t := range tabs {
				if t.Suppressed[i] {
					row.Suppressed = true
				} else {
					*dst[j] = intp(t.Values[i])
				}
			}
			out.Modality = append(out.Modality, row)
		}
	}
	care := map[string]int{}
	var csites []string
	for _, c := range in.CareWithoutBiometrics {
		if inArea(c.Site) {
			care[c.Site] += c.N
			if !slices.Contains(csites, c.Site) {
				csites = append(csites, c.Site)
			}
		}
	}
	slices.Sort(csites)
	for s, v := range care {
		care[s] = noise(v)
	}
	t := siteTable(csites, func(s string) int { return care[s] }, p.K)
	for i := range len(csites) + 1 {
		row := CareRow{Suppressed: t.Suppressed[i]}
		if i > 0 {
			row.SiteCode = csites[i-1]
		}
		if !row.Suppressed {
			row.CareWithoutBiometrics = intp(t.Values[i])
		}
		out.CareSites = append(out.CareSites, row)
	}
	return out, nil
}

// RegisterInput are the register's problem counts.
type RegisterInput struct {
	HouseholdsWithoutHead int
	HeadsUnderAge         int
	MinorsGuardianErased  int
	EstimatedBirthDates   int
	OpenCasesByAge        map[string]int
}

// RegisterCell is one count of the register quality report.
type RegisterCell struct {
	Measure    string `json:"measure"`
	Count      *int   `json:"count,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// Register is the register quality report: counts only.
type Register struct {
	Kind    string         `json:"kind"`
	AsOf    string         `json:"as_of"`
	Privacy Privacy        `json:"privacy"`
	Cells   []RegisterCell `json:"cells"`
}

// BuildRegister makes the register quality report. Open duplicate cases are
// released by age with their total (complementary suppression applies).
func BuildRegister(in RegisterInput, p Params) Register {
	p.defaults()
	out := Register{Kind: "register", AsOf: dateOrEmpty(p.To), Privacy: Privacy{K: p.K}}
	noise := noiser(p.Epsilon, p.rng())
	if p.Epsilon > 0 {
		out.Privacy.Epsilon, out.Privacy.EpsilonPerTable, out.Privacy.Mechanism = p.Epsilon, p.Epsilon, "two-sided geometric"
	}
	single := []struct {
		m string
		v int
	}{{"households_without_head", in.HouseholdsWithoutHead}, {"household_heads_under_age", in.HeadsUnderAge}, {"minors_whose_guardian_was_erased", in.MinorsGuardianErased},
		{"persons_with_estimated_birth_date", in.EstimatedBirthDates}}
	for _, s := range single {
		t := NewTable(1)
		t.Values[0] = noise(s.v)
		t.Protect(p.K)
		c := RegisterCell{Measure: s.m, Suppressed: t.Suppressed[0]}
		if !c.Suppressed {
			c.Count = intp(t.Values[0])
		}
		out.Cells = append(out.Cells, c)
	}
	ages := []string{"0-6", "7-29", "30+"}
	t := NewTable(len(ages) + 1)
	sum := Sum{Total: len(ages)}
	for i, a := range ages {
		t.Values[i] = noise(in.OpenCasesByAge[a])
		t.Values[len(ages)] += t.Values[i]
		sum.Parts = append(sum.Parts, i)
	}
	t.Sums = []Sum{sum}
	t.Protect(p.K)
	for i, name := range append(ages, AllKey) {
		c := RegisterCell{Measure: "open_duplicate_cases_days_" + name, Suppressed: t.Suppressed[i]}
		if !c.Suppressed {
			c.Count = intp(t.Values[i])
		}
		out.Cells = append(out.Cells, c)
	}
	return out
}
