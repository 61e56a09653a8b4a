package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sexes are the sex values of the Contract, in report order.
var Sexes = []string{"female", "male", "other", "unknown"}

// UnknownBand collects people whose birth year is unknown or whose age
// falls in no configured band.
const UnknownBand = "unknown"

// DefaultBands are the age bands of a coverage report unless configured.
var DefaultBands = []string{"0-11", "12-17", "18-64", "65+"}

// Band is a range of ages in years; Max < 0 means open ("65+").
type Band struct {
	Label    string
	Min, Max int
}

var bandRE = regexp.MustCompile(`^([0-9]{1,3})(?:-([0-9]{1,3})|\+)$`)

// ParseBands reads labels like "0-11", "65+". Bands must not overlap.
func ParseBands(labels []string) ([]Band, error) {
	var out []Band
	for _, l := range labels {
		m := bandRE.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			return nil, fmt.Errorf("age band %q: want MIN-MAX or MIN+", l)
		}
		lo, _ := strconv.Atoi(m[1])
		hi := -1
		if m[2] != "" {
			hi, _ = strconv.Atoi(m[2])
			if hi < lo {
				return nil, fmt.Errorf("age band %q: upper bound below lower", l)
			}
		}
		b := Band{Label: m[0], Min: lo, Max: hi}
		top := func(x Band) int { return iff(x.Max < 0, 1<<30, x.Max) }
		for _, o := range out {
			if b.Min <= top(o) && o.Min <= top(b) {
				return nil, fmt.Errorf("age bands %q and %q overlap", o.Label, b.Label)
			}
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no age band")
	}
	return out, nil
}

// bandOf is the row of an age among bands, or len(bands) (unknown).
func bandOf(bands []Band, birthYear, refYear int) int {
	if birthYear <= 0 {
		return len(bands)
	}
	age := refYear - birthYear
	for i, b := range bands {
		if age >= b.Min && (b.Max < 0 || age <= b.Max) {
			return i
		}
	}
	return len(bands)
}

// Count is one group the database counted; the fields that do not apply are
// empty.
type Count struct {
	AreaCode   string
	BirthYear  int
	Sex        string
	Site       string
	OperatorID string
	Category   string
	Purpose    string
	Decision   string
	Week       int64 // weeks since Monday 1970-01-05
	N          int
}

// Params are a report's options.
type Params struct {
	Area     string    // root of the report (rolled up)
	From, To time.Time // period; To exclusive
	Bands    []Band    // DefaultBands when empty
	K        int       // DefaultK when < 1
	// Epsilon, when > 0, adds geometric noise to every count: each table
	// gets Epsilon divided by the number of tables (the budget is recorded).
	Epsilon float64
	Seed    uint64 // noise seed (random when 0)
}

func (p *Params) defaults() {
	if len(p.Bands) == 0 {
		p.Bands, _ = ParseBands(DefaultBands)
	}
	if p.K < 1 {
		p.K = DefaultK
	}
}

func (p Params) rng() *rand.Rand {
	s := p.Seed
	if s == 0 {
		s = rand.Uint64()
	}
	return rand.New(rand.NewPCG(s, 0x5dc))
}

// Privacy describes the noise of a release.
type Privacy struct {
	K               int     `json:"k"`
	Epsilon         float64 `json:"epsilon,omitempty"`           // total budget of this release
	EpsilonPerTable float64 `json:"epsilon_per_table,omitempty"` // each table's share
	Mechanism       string  `json:"mechanism,omitempty"`
}

// CoverageInput are the counts a coverage report is built from.
type CoverageInput struct {
	Areas      []Area
	Registered []Count // area, birth year, sex
	CheckedUp  []Count // area, birth year, sex
	Weekly     []Count // area, week
	Enrolled   []Count // area, category (modality)
	Answers    []Count // area, category, purpose, decision
}

// CoverageCell is one released cell: an area (rolled up), an age band and a
// sex, or a margin (AllKey). A suppressed cell carries no counts.
type CoverageCell struct {
	AreaCode   string   `json:"area_code"`
	AgeBand    string   `json:"age_band"`
	Sex        string   `json:"sex"`
	Target     *int     `json:"target,omitempty"`
	Registered *int     `json:"registered,omitempty"`
	Coverage   *float64 `json:"coverage,omitempty"` // registered / target; above 1 when the target is wrong, never capped
	Suppressed bool     `json:"suppressed"`
}

// CheckupCell counts people checked up in the period.
type CheckupCell struct {
	AreaCode   string `json:"area_code"`
	AgeBand    string `json:"age_band"`
	Sex        string `json:"sex"`
	CheckedUp  *int   `json:"checked_up,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// EnrolledCell counts people enrolled with a modality by the period's end.
type EnrolledCell struct {
	AreaCode   string `json:"area_code"`
	Modality   string `json:"modality"`
	Enrolled   *int   `json:"enrolled,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// AnswerCell counts consent answers recorded in the period.
type AnswerCell struct {
	AreaCode   string `json:"area_code"`
	Category   string `json:"category"`
	Purpose    string `json:"purpose"`
	Decision   string `json:"decision"`
	Answers    *int   `json:"answers,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// AreaInfo names an area of the report and its parent.
type AreaInfo struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Parent string `json:"parent_code,omitempty"`
}

// Coverage is the coverage report.
type Coverage struct {
	Kind      string         `json:"kind"`
	Area      string         `json:"area"`
	From      string         `json:"from,omitempty"`
	To        string         `json:"to"`
	AgeBands  []string       `json:"age_bands"`
	Areas     []AreaInfo     `json:"areas"`
	Privacy   Privacy        `json:"privacy"`
	Cells     []CoverageCell `json:"cells"`
	CheckedUp []CheckupCell  `json:"checked_up"`
	Enrolled  []EnrolledCell `json:"enrolled"`
	Answers   []AnswerCell   `json:"consent_answers"`
	// Weekly counts registrations in the report's area per week of the
	// period (the last row, week "total", is their sum).
	Weekly []WeekCell `json:"registrations_per_week"`
}

// WeekCell is the number of people registered in one week (Monday first).
type WeekCell struct {
	Week       string `json:"week"` // the Monday, YYYY-MM-DD, or "total"
	Registered *int   `json:"registered,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// ErrUnknownArea: the report's area is not in the area registry.
var ErrUnknownArea = fmt.Errorf("report: unknown area")

func dateOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func intp(v int) *int { return &v }

// BuildCoverage makes the coverage report of p.Area and every area under it.
func BuildCoverage(in CoverageInput, p Params) (Coverage, error) {
	p.defaults()
	tr, ok := subtree(in.Areas, p.Area)
	if !ok {
		return Coverage{}, ErrUnknownArea
	}
	const tables = 5 // registered, checked up, enrolled, answers, weekly
	eps := p.Epsilon / tables
	rng := p.rng()
	refYear := p.To.Add(-time.Millisecond).UTC().Year()
	bandLabels := make([]string, 0, len(p.Bands)+1)
	for _, b := range p.Bands {
		bandLabels = append(bandLabels, b.Label)
	}
	rows := append(append([]string{}, bandLabels...), UnknownBand)
	sexIdx := func(s string) int {
		for i, x := range Sexes {
			if x == s {
				return i
			}
		}
		return len(Sexes) - 1
	}
	out := Coverage{Kind: "coverage", Area: p.Area, From: dateOrEmpty(p.From), To: dateOrEmpty(p.To), AgeBands: bandLabels,
		Privacy: Privacy{K: p.K}}
	if p.Epsilon > 0 {
		out.Privacy.Epsilon, out.Privacy.EpsilonPerTable, out.Privacy.Mechanism = p.Epsilon, eps, "two-sided geometric"
	}
	parentOf := map[string]string{}
	targets := map[string]map[[2]string]int{}
	for _, a := range in.Areas {
		parentOf[a.Code] = a.Parent
		targets[a.Code] = a.Targets
	}
	for i, code := range tr.codes {
		info := AreaInfo{Code: code, Name: tr.names[i]}
		if i > 0 {
			info.Parent = parentOf[code]
		}
		out.Areas = append(out.Areas, info)
	}

	// Registered and checked up: area x band x sex with margins.
	people := func(cs []Count) *grid {
		g := newGrid(tr, rows, Sexes, true, true)
		for _, c := range cs {
			g.add(c.AreaCode, bandOf(p.Bands, c.BirthYear, refYear), sexIdx(c.Sex), c.N)
		}
		g.noise(eps, 1, rng)
		g.build()
		g.tab.Protect(p.K)
		return g
	}
	reg := people(in.Registered)
	tgt := targetGrid(tr, targets, rows, Sexes)
	for a, code := range tr.codes {
		for r, band := range reg.rows {
			for c, sex := range reg.cols {
				i := reg.cell(a, r, c)
				cell := CoverageCell{AreaCode: code, AgeBand: band, Sex: sex, Suppressed: reg.tab.Suppressed[i]}
				if !cell.Suppressed {
					cell.Registered = intp(reg.tab.Values[i])
					if t, ok := tgt[i]; ok {
						cell.Target = intp(t)
						if t > 0 {
							cv := float64(reg.tab.Values[i]) / float64(t)
							cell.Coverage = &cv
						}
					}
				}
				out.Cells = append(out.Cells, cell)
			}
		}
	}
	up := people(in.CheckedUp)
	for a, code := range tr.codes {
		for r, band := range up.rows {
			for c, sex := range up.cols {
				i := up.cell(a, r, c)
				cell := CheckupCell{AreaCode: code, AgeBand: band, Sex: sex, Suppressed: up.tab.Suppressed[i]}
				if !cell.Suppressed {
					cell.CheckedUp = intp(up.tab.Values[i])
				}
				out.CheckedUp = append(out.CheckedUp, cell)
			}
		}
	}

	// Enrolled per modality: a person may hold several, so no margin.
	mods := []string{"face", "fingerprint", "iris"}
	en := newGrid(tr, mods, []string{AllKey}, false, false)
	for _, c := range in.Enrolled {
		en.add(c.AreaCode, indexOf(mods, c.Category), 0, c.N)
	}
	en.noise(eps, len(mods), rng)
	en.build()
	en.tab.Protect(p.K)
	for a, code := range tr.codes {
		for r, m := range mods {
			i := en.cell(a, r, 0)
			cell := EnrolledCell{AreaCode: code, Modality: m, Suppressed: en.tab.Suppressed[i]}
			if !cell.Suppressed {
				cell.Enrolled = intp(en.tab.Values[i])
			}
			out.Enrolled = append(out.Enrolled, cell)
		}
	}

	// Consent answers per category x purpose and decision.
	pairs := ConsentPairs()
	pairKeys := make([]string, len(pairs))
	for i, pr := range pairs {
		pairKeys[i] = pr[0] + "/" + pr[1]
	}
	decisions := []string{"granted", "declined", "withdrawn"}
	an := newGrid(tr, pairKeys, decisions, false, false)
	for _, c := range in.Answers {
		an.add(c.AreaCode, indexOf(pairKeys, c.Category+"/"+c.Purpose), indexOf(decisions, c.Decision), c.N)
	}
	an.noise(eps, 1, rng)
	an.build()
	an.tab.Protect(p.K)
	for a, code := range tr.codes {
		for r, pr := range pairs {
			for c, d := range decisions {
				i := an.cell(a, r, c)
				cell := AnswerCell{AreaCode: code, Category: pr[0], Purpose: pr[1], Decision: d, Suppressed: an.tab.Suppressed[i]}
				if !cell.Suppressed {
					cell.Answers = intp(an.tab.Values[i])
				}
				out.Answers = append(out.Answers, cell)
			}
		}
	}
	out.Weekly = weekly(tr, in.Weekly, p, eps, rng)
	return out, nil
}

var weekZero = time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)

// weekly totals registrations in the tree per week, from the period's first
// week (or the first week with a registration) to its last.
func weekly(tr tree, cs []Count, p Params, eps float64, rng *rand.Rand) []WeekCell {
	per := map[int64]int{}
	first, last := int64(-1), int64(-1)
	for _, c := range cs {
		if _, ok := tr.index[c.AreaCode]; !ok {
			continue
		}
		per[c.Week] += c.N
		if first < 0 || c.Week < first {
			first = c.Week
		}
		last = max(last, c.Week)
	}
	if !p.From.IsZero() {
		first = int64(p.From.Sub(weekZero) / (7 * 24 * time.Hour))
	}
	last = max(last, int64(p.To.Add(-time.Millisecond).Sub(weekZero)/(7*24*time.Hour)))
	if first < 0 || last-first > 520 {
		first = max(first, last-520) // at most ten years of weeks
	}
	n := int(last - first + 1)
	t := NewTable(n + 1)
	total := Sum{Total: n}
	alpha := math.Exp(-eps)
	for i := range n {
		v := per[first+int64(i)]
		if eps > 0 {
			v = max(0, v+geometric(alpha, rng)-geometric(alpha, rng))
		}
		t.Values[i] = v
		t.Values[n] += v
		total.Parts = append(total.Parts, i)
	}
	t.Sums = []Sum{total}
	t.Protect(p.K)
	out := make([]WeekCell, 0, n+1)
	for i := range n + 1 {
		c := WeekCell{Week: "total", Suppressed: t.Suppressed[i]}
		if i < n {
			c.Week = weekZero.AddDate(0, 0, 7*int(first+int64(i))).Format(time.DateOnly)
		}
		if !c.Suppressed {
			c.Registered = intp(t.Values[i])
		}
		out = append(out, c)
	}
	return out
}

// ConsentPairs are the (category, purpose) pairs a person is asked about
// (DESIGN.md), in report order.
func ConsentPairs() [][2]string {
	return [][2]string{
		{"identity", "registration"},
		{"face", "verification"}, {"face", "deduplication"},
		{"fingerprint", "verification"}, {"fingerprint", "deduplication"},
		{"iris", "verification"}, {"iris", "deduplication"},
		{"blood_type", "research"}, {"dna", "research"}, {"health", "research"},
	}
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// targetGrid gives the target of every (area, band, sex) cell of a people
// grid where one is known: an area's own target for a band and sex when it
// has one, else the sum of its children's when all of them have one;
// margins are sums when every part is known. Targets are public planning
// figures, not counts of people, and are not suppressed.
func targetGrid(tr tree, targets map[string]map[[2]string]int, rows, cols []string) map[int]int {
	g := newGrid(tr, rows, cols, true, true)
	out := map[int]int{}
	var roll func(a int)
	roll = func(a int) {
		for _, ch := range tr.children[a] {
			roll(ch)
		}
		for r := range g.nrows() {
			for c := range g.ncols() {
				i := g.cell(a, r, c)
				if v, ok := targets[tr.codes[a]][[2]string{rows[r], cols[c]}]; ok {
					out[i] = v
					continue
				}
				if len(tr.children[a]) == 0 {
					continue
				}
				sum, all := 0, true
				for _, ch := range tr.children[a] {
					v, ok := out[g.cell(ch, r, c)]
					sum += v
					all = all && ok
				}
				if all {
					out[i] = sum
				}
			}
		}
		// Margins: a sum over the known parts, when any is known and the
		// missing ones are sexes or bands without a target anywhere here
		// (other, unknown) — counted as zero.
		for r := range len(g.rows) {
			sum, any := 0, false
			for c := range g.ncols() {
				rr := r
				if r == len(g.rows)-1 {
					continue
				}
				if v, ok := out[g.cell(a, rr, c)]; ok {
					sum += v
					any = true
				}
			}
			if any {
				out[g.cell(a, r, len(g.cols)-1)] = sum
			}
		}
		for c := range len(g.cols) {
			sum, any := 0, false
			for r := range g.nrows() {
				if v, ok := out[g.cell(a, r, c)]; ok {
					sum += v
					any = true
				}
			}
			if any {
				out[g.cell(a, len(g.rows)-1, c)] = sum
			}
		}
	}
	roll(0)
	return out
}
