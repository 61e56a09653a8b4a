package consent

import (
	"cmp"
	"slices"
)

// Defaults of ConsentStats.
const (
	DefaultMinCell       = 10
	DefaultAllGrantedMin = 30
)

// Count is a number of consent records with one decision, for one site and
// category (the store aggregates; no person id reaches this code). Records
// made through the portal have the empty site.
type Count struct {
	Site     string
	Category Category
	Decision Decision
	N        int
}

// Cell is the published counts of one (site, category). A nil count is
// suppressed: it was between 1 and MinCell-1. Zero is shown as zero.
type Cell struct {
	Site      string   `json:"site"`
	Category  Category `json:"category"`
	Granted   *int     `json:"granted"`
	Declined  *int     `json:"declined"`
	Withdrawn *int     `json:"withdrawn"`
}

// Stats is the coercion-monitoring report.
type Stats struct {
	MinCell       int    `json:"min_cell"`
	AllGrantedMin int    `json:"all_granted_min"`
	Cells         []Cell `json:"cells"` // by site, then in the order of Categories
	// FlaggedSites (sorted) are the sites whose answers were all grants: at
	// least AllGrantedMin granted and no declined, summed over categories.
	// Withdrawals are not answers to the question and do not count. A real
	// choice produces some refusals; none at all is a sign of pressure.
	FlaggedSites []string `json:"flagged_sites"`
}

// ConsentStats aggregates counts (entries with the same site, category and
// decision are summed; entries with an unknown category or decision, or a
// negative N, are skipped) into per-site, per-category cells, suppressing every
// count from 1 to minCell-1, and flags sites as described at Stats. minCell
// < 1 means DefaultMinCell and allGrantedMin < 1 means DefaultAllGrantedMin.
// Flagging uses the unsuppressed totals; it reveals only that a site had no
// refusals, which the zero count shows anyway.
func ConsentStats(counts []Count, minCell int, allGrantedMin int) Stats {
	if minCell < 1 {
		minCell = DefaultMinCell
	}
	if allGrantedMin < 1 {
		allGrantedMin = DefaultAllGrantedMin
	}
	type key struct {
		site string
		cat  Category
	}
	type tally struct{ granted, declined, withdrawn int }
	cells := make(map[key]*tally)
	sites := make(map[string]*tally)
	for _, c := range counts {
		if !c.Category.Valid() || !c.Decision.Valid() || c.N < 0 {
			continue
		}
		k := key{c.Site, c.Category}
		t, ok := cells[k]
		if !ok {
			t = &tally{}
			cells[k] = t
		}
		s, ok := sites[c.Site]
		if !ok {
			s = &tally{}
			sites[c.Site] = s
		}
		switch c.Decision {
		case Granted:
			t.granted += c.N
			s.granted += c.N
		case Declined:
			t.declined += c.N
			s.declined += c.N
		case Withdrawn:
			t.withdrawn += c.N
			s.withdrawn += c.N
		}
	}
	publish := func(n int) *int {
		if n > 0 && n < minCell {
			return nil
		}
		return &n
	}
	st := Stats{MinCell: minCell, AllGrantedMin: allGrantedMin, Cells: []Cell{}, FlaggedSites: []string{}}
	for k, t := range cells {
		st.Cells = append(st.Cells, Cell{
			Site: k.site, Category: k.cat,
			Granted: publish(t.granted), Declined: publish(t.declined), Withdrawn: publish(t.withdrawn),
		})
	}
	slices.SortFunc(st.Cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(categoryIndex(a.Category), categoryIndex(b.Category)))
	})
	for site, t := range sites {
		if t.granted >= allGrantedMin && t.declined == 0 {
			st.FlaggedSites = append(st.FlaggedSites, site)
		}
	}
	slices.Sort(st.FlaggedSites)
	return st
}

func categoryIndex(c Category) int { return slices.Index(Categories, c) }
