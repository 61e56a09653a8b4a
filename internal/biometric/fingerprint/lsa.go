package fingerprint

import (
	"math"
	"slices"
)

// consolidation selects the pair choice of a 1:1 comparison (exploration
// of the eighth pass; 0 is the shipped greedy choice among the best pairs of
// each row and column).
var consolidation = 0

// lsaPow is the power the similarities are raised to before the assignment.
var lsaPow = 1.0

// lsaTau: the assignment weighs only the excess over the 32nd best candidate.
var lsaTau = false

// fullSims fills m (na x nb, row-major) with the weighted local similarity
// of every cylinder pair whose directions differ by at most maxDirGap (0
// elsewhere): times f (the background factor), the type weight and, when
// both carry them, the descriptor weight, capped at 1.
func fullSims(a, b *cylinders, f float32, m []float32) {
	na, nb := a.n(), b.n()
	for i := range na {
		for j := range nb {
			k := i*nb + j
			m[k] = 0
			d := a.dir[i] - b.dir[j]
			if d < 0 {
				d = -d
			}
			if d > math.Pi {
				d = 2*math.Pi - d
			}
			if d > maxDirGap {
				continue
			}
			r := sqrtTab[hamming(&a.bits[i], &b.bits[j])] / (a.norm[i] + b.norm[j])
			if !(r <= 1) {
				continue
			}
			s := (1 - r) * f
			ta, tb := a.typ[i], b.typ[j]
			switch {
			case ta == TypeOther || tb == TypeOther:
			case ta == tb:
				s *= 1 + typeWeight
			default:
				s *= 1 - typeWeight
			}
			if a.desc != nil && b.desc != nil {
				if w, ok := descWeight(a.desc[i], b.desc[j]); ok {
					s *= w
				}
			}
			m[k] = min(1, s)
		}
	}
}

// assignMax returns, for each row of the n x m matrix w (row-major), the
// column assigned to it by a one-to-one assignment of maximum total weight
// (-1 for a row left out when n > m): the shortest augmenting path form of
// the Hungarian method, O(n^2 m).
func assignMax(w []float32, n, m int) []int {
	if n > m {
		// Transpose, assign, invert.
		t := make([]float32, n*m)
		for i := range n {
			for j := range m {
				t[j*n+i] = w[i*m+j]
			}
		}
		colOf := assignMax(t, m, n)
		rowOf := make([]int, n)
		for i := range rowOf {
			rowOf[i] = -1
		}
		for j, i := range colOf {
			if i >= 0 {
				rowOf[i] = j
			}
		}
		return rowOf
	}
	const inf = math.MaxFloat64
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1) // p[j]: the row (1-based) matched to column j
	way := make([]int, m+1)
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = inf
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta, j1 := inf, 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := -float64(w[(i0-1)*m+j-1]) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	rowOf := make([]int, n)
	for i := range rowOf {
		rowOf[i] = -1
	}
	for j := 1; j <= m; j++ {
		if p[j] > 0 {
			rowOf[p[j]-1] = j - 1
		}
	}
	return rowOf
}

// selectLSA returns at most maxRelax pairs of the maximum-weight one-to-one
// assignment of the local similarities, the highest first. With sparse set,
// only the candidate pairs (cands) enter the matrix; otherwise every pair.
func selectLSA(a, b *cylinders, f float32, cands []pair, sparse bool) []pair {
	na, nb := a.n(), b.n()
	m := make([]float32, na*nb)
	if sparse {
		for _, p := range cands {
			m[p.a*nb+p.b] = p.s
		}
	} else {
		fullSims(a, b, f, m)
	}
	w := m
	if lsaTau {
		// Only what a pair has above the 32nd best candidate counts.
		cs := make([]float32, 0, len(cands))
		for _, p := range cands {
			cs = append(cs, p.s)
		}
		slices.Sort(cs)
		slices.Reverse(cs)
		tau := cs[min(len(cs), maxRelax)-1]
		w = make([]float32, len(m))
		for k, x := range m {
			w[k] = max(0, x-tau)
		}
	} else if lsaPow != 1 {
		w = make([]float32, len(m))
		for k, x := range m {
			w[k] = float32(math.Pow(float64(x), lsaPow))
		}
	}
	rowOf := assignMax(w, na, nb)
	var out []pair
	for i, j := range rowOf {
		if j >= 0 && m[i*nb+j] > 0 {
			out = append(out, pair{i, j, m[i*nb+j]})
		}
	}
	slices.SortStableFunc(out, func(x, y pair) int {
		switch {
		case x.s > y.s:
			return -1
		case x.s < y.s:
			return 1
		}
		return 0
	})
	return out[:min(len(out), maxRelax)]
}

// selectGreedyFull is the greedy one-to-one choice over every pair of the
// full matrix (not only the best of each row and column).
func selectGreedyFull(a, b *cylinders, f float32) []pair {
	na, nb := a.n(), b.n()
	m := make([]float32, na*nb)
	fullSims(a, b, f, m)
	var all []pair
	for i := range na {
		for j := range nb {
			if m[i*nb+j] > 0 {
				all = append(all, pair{i, j, m[i*nb+j]})
			}
		}
	}
	slices.SortStableFunc(all, func(x, y pair) int {
		switch {
		case x.s > y.s:
			return -1
		case x.s < y.s:
			return 1
		}
		return 0
	})
	ua, ub := make([]bool, na), make([]bool, nb)
	var out []pair
	for _, p := range all {
		if ua[p.a] || ub[p.b] {
			continue
		}
		ua[p.a], ub[p.b] = true, true
		out = append(out, p)
		if len(out) == maxRelax {
			break
		}
	}
	return out
}
