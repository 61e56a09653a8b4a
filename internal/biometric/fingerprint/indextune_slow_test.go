package fingerprint

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestIndexTuning measures, on the eight FVC B sets pooled, how many
// genuine pairs an index of other shapes would keep (fewer tables, other
// bands, only some of a gallery template's cylinders indexed, coarser
// direction levels), with the voting of index.go re-done here so that the
// shapes need no rebuild (tables x values per key at most minhashFuncs).
// It only reports. ASSENT_INDEX_TUNING lists the shapes, separated by
// ";", each as "tables values bucketBits maxCylinders selection
// dirShift norm", for example "15 3 15 0 ones 2 all" (the shipped index:
// all cylinders, directions in 256>>2 levels, scores divided by the
// square root of the cylinder count) or "32 3 15 32 centre 0 all" (only
// the 32 cylinders nearest the centroid indexed).
func TestIndexTuning(t *testing.T) {
	heavy(t)
	if os.Getenv("ASSENT_INDEX_TUNING") == "" {
		t.Skip("set ASSENT_INDEX_TUNING=1")
	}
	root := dataDir(t)
	ts, fingers := pooledTemplates(t, root, false)
	n := len(ts)
	// per template and cylinder: minhash values, direction level, ones
	type cylInfo struct {
		acc  [minhashFuncs]uint16
		dir  uint32
		ones int
		ok   bool
		dc   float64 // distance to the template's centroid
	}
	info := make([][]cylInfo, n)
	total := 0
	for i, tp := range ts {
		p := pack(&tp.cyl)
		c := &tp.cyl
		var cx, cy float64
		for k := range c.n() {
			cx += float64(c.x[k])
			cy += float64(c.y[k])
		}
		cx /= float64(max(1, c.n()))
		cy /= float64(max(1, c.n()))
		info[i] = make([]cylInfo, c.n())
		total += c.n()
		p.positions(func(k int, pos []uint16) {
			ci := &info[i][k]
			ci.ones = len(pos)
			ci.ok = len(pos) >= indexMinOnes
			minhashGo(minhashRank, pos, &ci.acc)
			ci.dir = p.geom[k].dirLevel()
			ci.dc = math.Hypot(float64(c.x[k])-cx, float64(c.y[k])-cy)
		})
	}
	t.Logf("%d templates, %.1f cylinders on average", n, float64(total)/float64(n))
	thresholds := []float64{DefaultThreshold(), Threshold(1 / (100 * 200000.0))}
	type pair struct {
		i, j int
		full float64
	}
	var pairs []pair
	var s scratch
	for i := range n {
		for j := range n {
			if i != j && fingers[i] == fingers[j] {
				if f := match(&ts[i].cyl, &ts[j].cyl, &s); f >= thresholds[0] {
					pairs = append(pairs, pair{i, j, f})
				}
			}
		}
	}
	type config struct {
		tables, band, bucketBits, maxCyl int
		sel                              string // "ones", "centre", "first"
		dirShift                         int
		norm                             string // "all", "indexed"
	}
	run := func(cf config) string {
		nb := cf.tables << cf.bucketBits
		type posting struct {
			e   int32
			dir uint8
		}
		buckets := make([][]posting, nb)
		indexed := make([]int, n)
		count := 0
		key := func(acc *[minhashFuncs]uint16, l int) int {
			k := uint32(0)
			for b := range cf.band {
				k = k*cylWords*64 + uint32(acc[l*cf.band+b])
			}
			return l<<cf.bucketBits | int((k*0x9e3779b1)>>(32-cf.bucketBits))
		}
		for e := range n {
			var ks []int
			for k, ci := range info[e] {
				if ci.ok {
					ks = append(ks, k)
				}
			}
			if cf.maxCyl > 0 && len(ks) > cf.maxCyl {
				switch cf.sel {
				case "ones":
					slices.SortStableFunc(ks, func(a, b int) int { return info[e][b].ones - info[e][a].ones })
				case "centre":
					slices.SortStableFunc(ks, func(a, b int) int {
						if info[e][a].dc < info[e][b].dc {
							return -1
						}
						if info[e][a].dc > info[e][b].dc {
							return 1
						}
						return 0
					})
				}
				ks = ks[:cf.maxCyl]
			}
			indexed[e] = len(ks)
			for _, k := range ks {
				ci := &info[e][k]
				d := ci.dir >> cf.dirShift
				for l := range cf.tables {
					b := key(&ci.acc, l)
					buckets[b] = append(buckets[b], posting{int32(e), uint8(d)})
					count++
				}
			}
		}
		limit := max(indexStopMin, indexStopFactor*count/nb)
		half := uint32(1<<cf.dirShift) / 2
		scores := make([][]float64, n)
		for i := range n {
			votes := make([][indexRotBins]int, n)
			for _, ci := range info[i] {
				if !ci.ok {
					continue
				}
				for l := range cf.tables {
					ps := buckets[key(&ci.acc, l)]
					if len(ps) > limit {
						continue
					}
					for _, p := range ps {
						gd := uint32(p.dir)<<cf.dirShift + half
						if bin := binOf[(gd-ci.dir)&(indexDirLevels-1)]; bin >= 0 {
							votes[p.e][bin]++
						}
					}
				}
			}
			sc := make([]float64, n)
			for e := range n {
				best := 0
				for b := 0; b+1 < indexRotBins; b++ {
					best = max(best, min(255, votes[e][b])+min(255, votes[e][b+1]))
				}
				m := len(info[e])
				if cf.norm == "indexed" {
					m = indexed[e]
				}
				sc[e] = float64(best) / math.Sqrt(float64(max(1, m)))
			}
			scores[i] = sc
		}
		var out []string
		for _, th := range thresholds {
			kept, all := 0, 0
			for _, p := range pairs {
				if p.full < th {
					continue
				}
				all++
				above, imp := 0, 0
				for e, v := range scores[p.i] {
					if fingers[e] == fingers[p.i] {
						continue
					}
					imp++
					if v >= scores[p.i][p.j] {
						above++
					}
				}
				if float64(above)/float64(max(1, imp)) <= DefaultPenetration {
					kept++
				}
			}
			out = append(out, fmt.Sprintf("%.4f of %d", float64(kept)/float64(max(1, all)), all))
		}
		return fmt.Sprintf("%+v: postings/template %.1f; kept at 2%%: default %s, 1:N %s", cf, float64(count)/float64(n), out[0], out[1])
	}
	var cfs []config
	for _, spec := range strings.Split(os.Getenv("ASSENT_INDEX_TUNING"), ";") {
		var cf config
		if _, err := fmt.Sscanf(spec, "%d %d %d %d %s %d %s", &cf.tables, &cf.band, &cf.bucketBits, &cf.maxCyl, &cf.sel, &cf.dirShift, &cf.norm); err == nil && cf.tables*cf.band <= minhashFuncs {
			cfs = append(cfs, cf)
		}
	}
	if len(cfs) == 0 {
		cfs = []config{{indexTables, indexBand, indexBucketBits, 0, "ones", dirDrop, "all"}}
	}
	for _, cf := range cfs {
		t.Log(run(cf))
	}
}
