package iris

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDevLash10 prints, for the images of ASSENT_IRIS_DEBUG (comma
// separated), the rate of black top-hat responses (a sample darker than the
// brightest within ±3 columns of its row by more than k robust sigmas of the
// lateral inner iris) in the lateral reference and in blocks of 16 columns of
// the upper sector, with the share the shipped mask occludes there. A
// development aid (issue 17, tenth round): ASSENT_IRIS_DEV=1.
func TestDevLash10(t *testing.T) {
	list := os.Getenv("ASSENT_IRIS_DEBUG")
	if list == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEBUG")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(list, ",") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		g := toGray(img, c.maxSide)
		hl := fillHighlights(g)
		seg, ok := segmentWith(g, c)
		if !ok {
			t.Logf("%s: no segmentation", p)
			continue
		}
		band, occ0 := unwrap(g, hl, seg, c)
		occ := slices.Clone(occ0)
		maskOcclusionsSeg(band, occ, &seg, c)
		rows, cols := c.polarRows, c.polarCols
		var ref []float64
		for j := range cols {
			th := 2 * math.Pi * float64(j) / float64(cols)
			if math.Abs(math.Sin(th)) > 0.5 {
				continue
			}
			for i := range rows * 2 / 3 {
				if k := i*cols + j; !occ0[k] {
					ref = append(ref, float64(band[k]))
				}
			}
		}
		slices.Sort(ref)
		med := ref[len(ref)/2]
		dev := make([]float64, len(ref))
		for i, v := range ref {
			dev[i] = math.Abs(v - med)
		}
		slices.Sort(dev)
		sigma := math.Max(1.4826*dev[len(dev)/2], 2)
		top := make([]float64, len(band))
		for i := range rows {
			for j := range cols {
				var mx float32
				for d := -3; d <= 3; d++ {
					mx = max(mx, band[i*cols+(j+d+cols)%cols])
				}
				top[i*cols+j] = float64(mx-band[i*cols+j]) / sigma
			}
		}
		rate := func(j0, j1, i0, i1 int, k float64) (float64, float64) {
			n, m, o := 0, 0, 0
			for j := j0; j < j1; j++ {
				for i := i0; i < i1; i++ {
					x := i*cols + (j+cols)%cols
					if occ0[x] {
						continue
					}
					n++
					if top[x] > k {
						m++
					}
					if occ[x] {
						o++
					}
				}
			}
			if n == 0 {
				return 0, 0
			}
			return float64(m) / float64(n), float64(o) / float64(n)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: med %.0f sigma %.1f; lateral rate k=1,1.5,2,3:", p, med, sigma)
		for _, k := range []float64{1, 1.5, 2, 3} {
			r1, _ := rate(-cols/12, cols/12, 0, rows*2/3, k)
			r2, _ := rate(cols/2-cols/12, cols/2+cols/12, 0, rows*2/3, k)
			fmt.Fprintf(&b, " %.3f/%.3f", r1, r2)
		}
		b.WriteString("\n  upper blocks (col: rate k=1.5 inner, outer half; masked):")
		for j := cols/2 + cols/16; j < cols-cols/16; j += 16 {
			ri, oi := rate(j, j+16, 0, rows/2, 1.5)
			ro, oo := rate(j, j+16, rows/2, rows, 1.5)
			fmt.Fprintf(&b, " %d:%.2f,%.2f;%.2f,%.2f", j, ri, ro, oi, oo)
		}
		t.Log(b.String())
	}
}

// TestDevLashAll10 prints for every image of ASSENT_IRIS_DEV_SEG the largest
// windowed stroke density (as lashFronts counts it, at lashDensK 1.5, 2 and
// 2.5) over the lateral columns (|sin| < 0.5) and over the upper ones
// (sin < -0.3), one line an image. A development aid: ASSENT_IRIS_DEV=1.
func TestDevLashAll10(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_SEG")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_SEG")
	}
	c := defaultConfig()
	_, _, paths, err := listEyes(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(paths))
	var wg sync.WaitGroup
	W := runtime.GOMAXPROCS(0)
	each := func(n int) {
		data, err := os.ReadFile(filepath.Join(dir, paths[n]))
		if err != nil {
			return
		}
		img, err := DecodeImage(data)
		if err != nil {
			return
		}
		g := toGray(img, c.maxSide)
		hl := fillHighlights(g)
		seg, ok := segmentWith(g, c)
		if !ok {
			return
		}
		band, occ0 := unwrap(g, hl, seg, c)
		rows, cols := c.polarRows, c.polarCols
		var ref []float64
		for j := range cols {
			if math.Abs(math.Sin(2*math.Pi*float64(j)/float64(cols))) > 0.5 {
				continue
			}
			for i := range rows * 2 / 3 {
				if k := i*cols + j; !occ0[k] {
					ref = append(ref, float64(band[k]))
				}
			}
		}
		if len(ref) < 16 {
			return
		}
		slices.Sort(ref)
		med := ref[len(ref)/2]
		for i, v := range ref {
			ref[i] = math.Abs(v - med)
		}
		slices.Sort(ref)
		sigma := math.Max(1.4826*ref[len(ref)/2], 2)
		line := paths[n]
		for _, k := range []float64{1.5, 2, 2.5} {
			var lat, up float64
			for j := range cols {
				sn := math.Sin(2 * math.Pi * float64(j) / float64(cols))
				for i := 2; i < rows-2; i++ {
					h, m := 0, 0
					for di := -2; di <= 2; di++ {
						for dj := -8; dj <= 8; dj++ {
							jj := (j + dj + cols) % cols
							x := (i+di)*cols + jj
							if occ0[x] {
								continue
							}
							m++
							var mx float32
							for d := -3; d <= 3; d++ {
								mx = max(mx, band[(i+di)*cols+(jj+d+cols)%cols])
							}
							if float64(mx-band[x]) > k*sigma {
								h++
							}
						}
					}
					if m < 20 {
						continue
					}
					r := float64(h) / float64(m)
					if math.Abs(sn) < 0.5 {
						lat = max(lat, r)
					}
					if sn < -0.3 {
						up = max(up, r)
					}
				}
			}
			line += fmt.Sprintf("\t%.2f\t%.2f", lat, up)
		}
		lines[n] = line
	}
	for w := range W {
		wg.Go(func() {
			for n := w; n < len(paths); n += W {
				each(n)
			}
		})
	}
	wg.Wait()
	for _, l := range lines {
		if l != "" {
			t.Log(l)
		}
	}
}

// TestDevForce10 extracts the images of ASSENT_IRIS_DEBUG (the first is
// the probe) under forced variants of the probe's segmentation and mask
// and prints the probe's distance to each of the others: what would make
// a failing pair match. A development aid: ASSENT_IRIS_DEV=1.
func TestDevForce10(t *testing.T) {
	list := os.Getenv("ASSENT_IRIS_DEBUG")
	if list == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEBUG")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	type prep struct {
		g   gray
		hl  []bool
		seg segmentation
	}
	var ps []prep
	for _, p := range strings.Split(list, ",") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		g := toGray(img, c.maxSide)
		hl := fillHighlights(g)
		seg, _ := segmentWith(g, c)
		ps = append(ps, prep{g, hl, seg})
	}
	enc := func(x prep, seg segmentation, extra func(i, j int) bool) *Template {
		band, occ := unwrap(x.g, x.hl, seg, c)
		maskOcclusionsSeg(band, occ, &seg, c)
		for i := range c.polarRows {
			for j := range c.polarCols {
				if extra != nil && extra(i, j) {
					occ[i*c.polarCols+j] = true
				}
			}
		}
		return encode(band, occ, c)
	}
	others := make([]*Template, len(ps))
	for k := 1; k < len(ps); k++ {
		others[k] = enc(ps[k], ps[k].seg, nil)
	}
	sin := func(j int) float64 { return math.Sin(2 * math.Pi * float64(j) / float64(c.polarCols)) }
	p := ps[0]
	type variant struct {
		name  string
		seg   segmentation
		extra func(i, j int) bool
	}
	var vs []variant
	vs = append(vs, variant{"shipped", p.seg, nil})
	for _, r := range []float64{95, 100, 103, 106} {
		s := p.seg
		s.iris.r = r
		s.iris.x = p.seg.pupil.x
		vs = append(vs, variant{fmt.Sprintf("limbus centred r %.0f", r), s, nil})
	}
	vs = append(vs, variant{"upper half masked", p.seg, func(i, j int) bool { return sin(j) < 0 }})
	vs = append(vs, variant{"upper |sin|>0.3 masked", p.seg, func(i, j int) bool { return sin(j) < -0.3 }})
	vs = append(vs, variant{"lower half masked", p.seg, func(i, j int) bool { return sin(j) > 0 }})
	vs = append(vs, variant{"outer half masked", p.seg, func(i, j int) bool { return i >= c.polarRows/2 }})
	vs = append(vs, variant{"inner half masked", p.seg, func(i, j int) bool { return i < c.polarRows/2 }})
	for _, v := range vs {
		tp := enc(p, v.seg, v.extra)
		line := fmt.Sprintf("%-26s bits %4d:", v.name, tp.UsableBits())
		for k := 1; k < len(ps); k++ {
			d, _ := Distance(tp, others[k])
			line += fmt.Sprintf(" %.4f", d)
		}
		t.Log(line)
	}
	// Raw disagreement of the shipped probe with each other image at the
	// best shift, by 45-degree sector (0 = right, 90 = down) and by inner
	// and outer half of the code rows.
	a := enc(p, p.seg, nil)
	for k := 1; k < len(ps); k++ {
		b := others[k]
		w := a.words()
		rc, rm := make([]uint64, w), make([]uint64, w)
		bestS, best := 0, 2.0
		for sh := -DefaultMatcher().Rotations; sh <= DefaultMatcher().Rotations; sh++ {
			rotate(rc, b.Code, b.Rows, b.Cols, sh)
			rotate(rm, b.Mask, b.Rows, b.Cols, sh)
			var diff, n int
			for i := range w {
				mk := a.Mask[i] & rm[i]
				diff += bits.OnesCount64((a.Code[i] ^ rc[i]) & mk)
				n += bits.OnesCount64(mk)
			}
			if n > 400 && float64(diff)/float64(n) < best {
				best, bestS = float64(diff)/float64(n), sh
			}
		}
		rotate(rc, b.Code, b.Rows, b.Cols, bestS)
		rotate(rm, b.Mask, b.Rows, b.Cols, bestS)
		var dif, cnt [8][2]int
		for bit := range a.Bits() {
			wd, m := bit/64, uint64(1)<<(bit%64)
			if a.Mask[wd]&rm[wd]&m == 0 {
				continue
			}
			row, col := (bit/2)%a.Rows, bit/(2*a.Rows)
			sec := col * 8 / a.Cols
			h := 0
			if row >= a.Rows/2 {
				h = 1
			}
			cnt[sec][h]++
			if (a.Code[wd]^rc[wd])&m != 0 {
				dif[sec][h]++
			}
		}
		line := fmt.Sprintf("raw %.3f shift %d by sector inner/outer:", best, bestS)
		for sec := range 8 {
			line += fmt.Sprintf(" %d:", sec*45)
			for h := range 2 {
				if cnt[sec][h] < 30 {
					line += " --"
				} else {
					line += fmt.Sprintf(" %.2f", float64(dif[sec][h])/float64(cnt[sec][h]))
				}
			}
		}
		t.Log(line)
	}
}

// TestDevLower10 prints, for the images of ASSENT_IRIS_DEBUG, the median
// of each band row over the lateral columns (|sin| < 0.5) and over four
// lower sectors (sin > 0.3, by angle), in robust sigmas of the lateral
// inner iris from its median: where a lower lid brightens the band. A
// development aid: ASSENT_IRIS_DEV=1.
func TestDevLower10(t *testing.T) {
	list := os.Getenv("ASSENT_IRIS_DEBUG")
	if list == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEBUG")
	}
	c := defaultConfig()
	for _, p := range strings.Split(list, ",") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		g := toGray(img, c.maxSide)
		hl := fillHighlights(g)
		seg, _ := segmentWith(g, c)
		band, occ := unwrap(g, hl, seg, c)
		rows, cols := c.polarRows, c.polarCols
		var ref []float64
		for j := range cols {
			if math.Abs(math.Sin(2*math.Pi*float64(j)/float64(cols))) > 0.5 {
				continue
			}
			for i := range rows * 2 / 3 {
				if k := i*cols + j; !occ[k] {
					ref = append(ref, float64(band[k]))
				}
			}
		}
		slices.Sort(ref)
		med := ref[len(ref)/2]
		dev := make([]float64, len(ref))
		for i, v := range ref {
			dev[i] = math.Abs(v - med)
		}
		slices.Sort(dev)
		sigma := math.Max(1.4826*dev[len(dev)/2], 2)
		occ2 := slices.Clone(occ)
		maskOcclusionsSeg(band, occ2, &seg, c)
		rowMed := func(i int, keep func(j int) bool) (float64, float64) {
			var v []float64
			m := 0
			for j := range cols {
				if keep(j) && !occ[i*cols+j] {
					v = append(v, float64(band[i*cols+j]))
					if occ2[i*cols+j] {
						m++
					}
				}
			}
			if len(v) == 0 {
				return math.NaN(), 0
			}
			slices.Sort(v)
			return (v[len(v)/2] - med) / sigma, float64(m) / float64(len(v))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s: med %.0f sigma %.1f; row: lateral | lower sectors 20-55, 55-90, 90-125, 125-160 deg (masked share)\n", p, med, sigma)
		for i := range rows {
			l, _ := rowMed(i, func(j int) bool { return math.Abs(math.Sin(2*math.Pi*float64(j)/float64(cols))) < 0.5 })
			fmt.Fprintf(&b, "  %2d: %5.1f |", i, l)
			for s := range 4 {
				a0, a1 := 20+35*float64(s), 55+35*float64(s)
				v, m := rowMed(i, func(j int) bool {
					a := 360 * float64(j) / float64(cols)
					return a >= a0 && a < a1
				})
				fmt.Fprintf(&b, " %5.1f (%.2f)", v, m)
			}
			b.WriteString("\n")
		}
		t.Log(b.String())
	}
}

// TestDevCoarseLost10 lists the genuine pairs of ASSENT_IRIS_DATA that the
// full comparison accepts at the 1:N threshold of 200,000 eyes and the
// coarse pass of a search drops (as coarseCheck counts them), with
// ASSENT_IRIS_TUNE. A development aid: ASSENT_IRIS_DEV=1.
func TestDevCoarseLost10(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DATA")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DATA")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := evaluate(context.Background(), dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := DefaultMatcher()
	g := NewGallery(GalleryOptions{Matcher: m})
	strict := ThresholdForFMR(1 / (100 * 200000.0))
	e := make([]uint64, 2*g.words)
	ss := r.samples
	for i := range ss {
		if ss[i].t == nil {
			continue
		}
		p := g.prepare(ss[i].t)
		k := g.coarseKernel(p.coarseShifts, strict+DefaultCoarseMargin, strict+DefaultCoarseHalfMargin)
		for j := i + 1; j < len(ss); j++ {
			if ss[j].t == nil || ss[j].eye != ss[i].eye {
				continue
			}
			g.packEntry(e, ss[j].t.Code, ss[j].t.Mask)
			pn := pairNorm(float64(m.NormBits), p.q, corrRoot(ss[j].t.RowCorrelation()))
			full := best(p.full, e, p.shifts, m.MinBits, pn)
			if full > strict {
				continue
			}
			if !k.pass(p.coarse, g.coarsePart(e), float32(math.Sqrt(float64(m.NormBits)/pn))) {
				rel1, _ := filepath.Rel(dir, ss[i].path)
				rel2, _ := filepath.Rel(dir, ss[j].path)
				t.Logf("LOST %s~%s full %.4f (1:N threshold %.4f)", rel1, rel2, full, strict)
			}
		}
	}
}
