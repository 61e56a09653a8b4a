// Package report computes Assent's programme reports from aggregate counts:
// coverage against target populations, consent integrity (coercion
// signals), exclusion and register quality; it protects every release with
// statistical disclosure control and writes JSON, CSV, HTML (with SVG
// charts) and DHIS2 dataValueSets. It never sees a person: its inputs are
// counts the database grouped, and it imports no store and no registry.
package report

import (
	"math"
	"slices"
)

// DefaultK is the smallest count published: cells from 1 to K-1 are
// suppressed.
const DefaultK = 10

// Sum is one additive relation of a release: Values[Total] = Known +
// sum of Values[Parts]. Known is a count the release does not publish but a
// reader may know (e.g. people registered directly to a parent area); it is
// treated as public, the cautious assumption.
type Sum struct {
	Total int
	Parts []int
	Known int
}

// Table is one release: its cells' true (or noised) counts and every
// additive relation between them a reader can use (row, column and
// hierarchy totals).
type Table struct {
	Values     []int
	Suppressed []bool
	Sums       []Sum
}

// NewTable makes a table of n cells, all zero.
func NewTable(n int) *Table {
	return &Table{Values: make([]int, n), Suppressed: make([]bool, n)}
}

// Protect applies primary suppression (every cell with 0 < value < k) and
// complementary suppression until no suppressed cell is determined by the
// published cells and the table's sums: first the classic pass (no sum with
// exactly one suppressed cell), then an exact check that solves the whole
// linear system and suppresses more while any suppressed value is still
// fixed by it. Zero cells are published (a zero says nothing about anyone)
// unless chosen as a complement. k < 1 means DefaultK.
func (t *Table) Protect(k int) {
	if k < 1 {
		k = DefaultK
	}
	for i, v := range t.Values {
		if v > 0 && v < k {
			t.Suppressed[i] = true
		}
	}
	for {
		t.complementPass()
		progress := false
		for _, j := range t.Determined() {
			if t.Suppressed[j] && t.suppressComplement(j) {
				progress = true
			}
		}
		if !progress {
			return // none determined, or nothing left to suppress
		}
	}
}

// MaxExactBlock is the largest block of linked suppressed cells Determined
// solves exactly (dense elimination is cubic in it). A larger block is
// checked against sums with one unknown and differences of two sums sharing
// a suppressed cell (the attacks of the property test); docs/reports.md
// says so.
var MaxExactBlock = 400

// complementPass suppresses, for every sum with exactly one suppressed
// member, one more member, until none is left.
func (t *Table) complementPass() {
	for changed := true; changed; {
		changed = false
		for _, s := range t.Sums {
			members := append([]int{s.Total}, s.Parts...)
			n, only := 0, -1
			for _, m := range members {
				if t.Suppressed[m] {
					n++
					only = m
				}
			}
			if n == 1 && t.suppressIn(s, only) {
				changed = true
			}
		}
	}
}

// suppressComplement suppresses one more cell so that j is no longer
// fixed: a published member of a sum holding j, else of any sum linked to j
// through suppressed cells. It reports false when no candidate is left.
func (t *Table) suppressComplement(j int) bool {
	linked := map[int]bool{j: true}
	for grown := true; grown; {
		grown = false
		for _, s := range t.Sums {
			members := append([]int{s.Total}, s.Parts...)
			touches := false
			for _, m := range members {
				if linked[m] {
					touches = true
					break
				}
			}
			if !touches {
				continue
			}
			for _, m := range members {
				if t.Suppressed[m] && !linked[m] {
					linked[m] = true
					grown = true
				}
			}
		}
	}
	// Prefer a sum holding j itself, the one with most parts.
	var direct, other []Sum
	for _, s := range t.Sums {
		if s.Total == j || slices.Contains(s.Parts, j) {
			direct = append(direct, s)
			continue
		}
		for _, m := range append([]int{s.Total}, s.Parts...) {
			if linked[m] {
				other = append(other, s)
				break
			}
		}
	}
	slices.SortStableFunc(direct, func(a, b Sum) int { return len(b.Parts) - len(a.Parts) })
	for _, s := range append(direct, other...) {
		if t.suppressIn(s, j) {
			return true
		}
	}
	return false
}

// suppressIn suppresses the member of s other than j that costs least: the
// smallest positive published part, else the smallest published part, else
// the total.
func (t *Table) suppressIn(s Sum, j int) bool {
	pick := -1
	better := func(c int) bool {
		if pick < 0 {
			return true
		}
		vc, vp := t.Values[c], t.Values[pick]
		if (vc > 0) != (vp > 0) {
			return vc > 0
		}
		return vc < vp
	}
	for _, p := range s.Parts {
		if p != j && !t.Suppressed[p] && better(p) {
			pick = p
		}
	}
	if pick < 0 && s.Total != j && !t.Suppressed[s.Total] {
		pick = s.Total
	}
	if pick >= 0 {
		t.Suppressed[pick] = true
	}
	return pick >= 0
}

// term is one signed member of a sum, by column among suppressed cells.
type term struct{ col, coef int }

// Determined lists the suppressed cells whose value follows from the
// published cells and the sums (the linear system has one solution for
// them). Protect leaves none. The system restricted to suppressed cells
// splits into independent blocks (cells linked by a sum both are in); each
// block is solved on its own.
func (t *Table) Determined() []int {
	colOf := map[int]int{}
	var cells []int
	for i, s := range t.Suppressed {
		if s {
			colOf[i] = len(cells)
			cells = append(cells, i)
		}
	}
	if len(cells) == 0 {
		return nil
	}
	// Each sum as signed columns over suppressed cells.
	var eqs [][]term
	parent := make([]int, len(cells))
	for i := range parent {
		parent[i] = i
	}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, s := range t.Sums {
		var eq []term
		if c, ok := colOf[s.Total]; ok {
			eq = append(eq, term{c, 1})
		}
		for _, p := range s.Parts {
			if c, ok := colOf[p]; ok {
				eq = append(eq, term{c, -1})
			}
		}
		if len(eq) == 0 {
			continue
		}
		for _, tm := range eq[1:] {
			parent[find(tm.col)] = find(eq[0].col)
		}
		eqs = append(eqs, eq)
	}
	blockCols := map[int][]int{}
	for c := range cells {
		r := find(c)
		blockCols[r] = append(blockCols[r], c)
	}
	blockEqs := map[int][][]term{}
	for _, eq := range eqs {
		r := find(eq[0].col)
		blockEqs[r] = append(blockEqs[r], eq)
	}
	var out []int
	for r, cs := range blockCols {
		local := make(map[int]int, len(cs))
		for i, c := range cs {
			local[c] = i
		}
		var rows [][]float64
		for _, eq := range blockEqs[r] {
			if len(cs) > MaxExactBlock {
				break
			}
			row := make([]float64, len(cs))
			for _, tm := range eq {
				row[local[tm.col]] += float64(tm.coef)
			}
			rows = append(rows, row)
		}
		if len(cs) > MaxExactBlock {
			out = append(out, t.pairDetermined(cells, blockEqs[r])...)
			continue
		}
		for _, i := range determinedColumns(rows, len(cs)) {
			out = append(out, cells[cs[i]])
		}
	}
	slices.Sort(out)
	return out
}

// determinedColumns brings rows to reduced row echelon form and lists the
// columns whose value the system fixes: pivot columns whose row has no
// other non-zero entry.
func determinedColumns(rows [][]float64, ncols int) []int {
	const eps = 1e-9
	pivotRow := make([]int, ncols)
	for i := range pivotRow {
		pivotRow[i] = -1
	}
	r := 0
	for c := 0; c < ncols && r < len(rows); c++ {
		best := r
		for i := r + 1; i < len(rows); i++ {
			if math.Abs(rows[i][c]) > math.Abs(rows[best][c]) {
				best = i
			}
		}
		if math.Abs(rows[best][c]) < eps {
			continue
		}
		rows[r], rows[best] = rows[best], rows[r]
		pv := rows[r][c]
		for k := c; k < ncols; k++ {
			rows[r][k] /= pv
		}
		for i := range rows {
			if i == r || math.Abs(rows[i][c]) < eps {
				continue
			}
			f := rows[i][c]
			for k := c; k < ncols; k++ {
				rows[i][k] -= f * rows[r][k]
			}
		}
		pivotRow[c] = r
		r++
	}
	var out []int
	for c, pr := range pivotRow {
		if pr < 0 {
			continue
		}
		alone := true
		for k, v := range rows[pr] {
			if k != c && math.Abs(v) > eps {
				alone = false
				break
			}
		}
		if alone {
			out = append(out, c)
		}
	}
	return out
}

// pairDetermined finds, in one block, the suppressed cells fixed by a sum
// with one suppressed member or by the difference of two sums that share a
// suppressed cell.
func (t *Table) pairDetermined(cells []int, eqs [][]term) []int {
	var out []int
	byCol := map[int][]int{}
	for i, eq := range eqs {
		for _, tm := range eq {
			byCol[tm.col] = append(byCol[tm.col], i)
		}
		if len(eq) == 1 {
			out = append(out, cells[eq[0].col])
		}
	}
	found := map[int]bool{}
	for _, es := range byCol {
		for a := 0; a < len(es); a++ {
			for b := a + 1; b < len(es); b++ {
				for _, sign := range []int{1, -1} {
					d := map[int]int{}
					for _, tm := range eqs[es[a]] {
						d[tm.col] += tm.coef
					}
					for _, tm := range eqs[es[b]] {
						d[tm.col] -= sign * tm.coef
					}
					only, n := -1, 0
					for c, k := range d {
						if k != 0 {
							only, n = c, n+1
						}
					}
					if n == 1 && (d[only] == 1 || d[only] == -1) && !found[only] {
						found[only] = true
						out = append(out, cells[only])
					}
				}
			}
		}
	}
	return out
}
