package report

import (
	"math"
	"math/rand/v2"
)

// AllKey names a margin (a total over a dimension) in a released table.
const AllKey = "all"

// Area is one node of the area tree as reports see it.
type Area struct {
	Code, Name, Parent string
	// Targets by age band and sex (the planned population).
	Targets map[[2]string]int
}

// tree is the part of the area tree a report covers: the root and all its
// descendants, depth first, parents before children.
type tree struct {
	codes    []string
	index    map[string]int
	children [][]int
	names    []string
}

// AllAreas is the code of the virtual root over every root area (a code no
// real area can have), used when a report names no area and the tree has
// several roots.
const AllAreas = "*"

func subtree(areas []Area, root string) (tree, bool) {
	kids := map[string][]string{}
	names := map[string]string{AllAreas: "all areas"}
	for _, a := range areas {
		kids[a.Parent] = append(kids[a.Parent], a.Code)
		names[a.Code] = a.Name
	}
	kids[AllAreas] = kids[""]
	if _, ok := names[root]; !ok {
		return tree{}, false
	}
	t := tree{index: map[string]int{}}
	var walk func(code string) int
	walk = func(code string) int {
		i := len(t.codes)
		t.index[code] = i
		t.codes = append(t.codes, code)
		t.names = append(t.names, names[code])
		t.children = append(t.children, nil)
		for _, k := range kids[code] {
			if _, seen := t.index[k]; seen {
				continue // a cycle in stored data: ignore the back edge
			}
			c := walk(k)
			t.children[i] = append(t.children[i], c)
		}
		return i
	}
	walk(root)
	return t, true
}

// grid is a released table over areas x rows x cols, rolled up the area
// tree, with optional row and column margins (AllKey). Own holds the counts
// of people whose area is exactly that area; Table the released cells.
type grid struct {
	t                  tree
	rows, cols         []string
	rowTotal, colTotal bool
	own                []int
	tab                *Table
}

func newGrid(t tree, rows, cols []string, rowTotal, colTotal bool) *grid {
	g := &grid{t: t, rowTotal: rowTotal, colTotal: colTotal}
	g.rows = append(append([]string{}, rows...), iff(rowTotal, []string{AllKey}, nil)...)
	g.cols = append(append([]string{}, cols...), iff(colTotal, []string{AllKey}, nil)...)
	n := len(t.codes) * len(g.rows) * len(g.cols)
	g.own = make([]int, n)
	g.tab = NewTable(n)
	return g
}

func iff[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

func (g *grid) cell(a, r, c int) int { return (a*len(g.rows)+r)*len(g.cols) + c }

func (g *grid) nrows() int { return len(g.rows) - iff(g.rowTotal, 1, 0) }
func (g *grid) ncols() int { return len(g.cols) - iff(g.colTotal, 1, 0) }

// add counts n people of area code in row r, column c (inner keys only).
func (g *grid) add(code string, r, c, n int) {
	a, ok := g.t.index[code]
	if !ok || r < 0 || c < 0 {
		return
	}
	g.own[g.cell(a, r, c)] += n
}

// noise adds two-sided geometric noise of parameter exp(-eps/sensitivity)
// to every inner own count (clamped at zero); totals are sums of noised
// counts, so the release stays consistent.
func (g *grid) noise(eps float64, sensitivity int, rng *rand.Rand) {
	if eps <= 0 {
		return
	}
	alpha := math.Exp(-eps / float64(max(1, sensitivity)))
	for a := range g.t.codes {
		for r := range g.nrows() {
			for c := range g.ncols() {
				i := g.cell(a, r, c)
				g.own[i] = max(0, g.own[i]+geometric(alpha, rng)-geometric(alpha, rng))
			}
		}
	}
}

// noiser returns a function adding two-sided geometric noise of budget eps
// (sensitivity 1) to a count, clamped at zero; the identity when eps <= 0.
func noiser(eps float64, rng *rand.Rand) func(int) int {
	if eps <= 0 {
		return func(v int) int { return v }
	}
	alpha := math.Exp(-eps)
	return func(v int) int { return max(0, v+geometric(alpha, rng)-geometric(alpha, rng)) }
}

// geometric draws the number of failures before a success of probability
// 1-alpha.
func geometric(alpha float64, rng *rand.Rand) int {
	if alpha <= 0 {
		return 0
	}
	u := rng.Float64()
	for u == 0 {
		u = rng.Float64()
	}
	return int(math.Floor(math.Log(u) / math.Log(alpha)))
}

// build rolls the own counts up the tree and into the margins, and records
// every sum a reader can use.
func (g *grid) build() {
	v := g.tab.Values
	var roll func(a int)
	roll = func(a int) {
		for _, ch := range g.t.children[a] {
			roll(ch)
		}
		for r := range g.nrows() {
			for c := range g.ncols() {
				i := g.cell(a, r, c)
				v[i] = g.own[i]
				for _, ch := range g.t.children[a] {
					v[i] += v[g.cell(ch, r, c)]
				}
			}
		}
		if g.colTotal {
			for r := range g.nrows() {
				s := Sum{Total: g.cell(a, r, len(g.cols)-1)}
				for c := range g.ncols() {
					v[s.Total] += v[g.cell(a, r, c)]
					s.Parts = append(s.Parts, g.cell(a, r, c))
				}
				g.tab.Sums = append(g.tab.Sums, s)
			}
		}
		if g.rowTotal {
			for c := range g.cols {
				s := Sum{Total: g.cell(a, len(g.rows)-1, c)}
				for r := range g.nrows() {
					v[s.Total] += v[g.cell(a, r, c)]
					s.Parts = append(s.Parts, g.cell(a, r, c))
				}
				g.tab.Sums = append(g.tab.Sums, s)
			}
		}
		if len(g.t.children[a]) > 0 {
			for r := range g.rows {
				for c := range g.cols {
					s := Sum{Total: g.cell(a, r, c)}
					for _, ch := range g.t.children[a] {
						s.Parts = append(s.Parts, g.cell(ch, r, c))
					}
					s.Known = v[s.Total]
					for _, p := range s.Parts {
						s.Known -= v[p]
					}
					g.tab.Sums = append(g.tab.Sums, s)
				}
			}
		}
	}
	roll(0)
}
