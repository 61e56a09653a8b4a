package fingerprint

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Impression is one image of a data set: the finger it shows and its file.
type Impression struct {
	Finger int
	Index  int
	Path   string
}

// ListDataset finds the impressions of an FVC-style set: files named
// <finger>_<impression>.<ext> (tif, tiff, bmp, png, or iso for ISO records),
// sorted by finger and impression.
func ListDataset(dir string, ext ...string) ([]Impression, error) {
	const op = "fingerprint: list dataset"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(ext) == 0 {
		ext = []string{".tif", ".tiff", ".bmp", ".png"}
	}
	var out []Impression
	for _, e := range ents {
		name := e.Name()
		x := strings.ToLower(filepath.Ext(name))
		if !slices.Contains(ext, x) {
			continue
		}
		f, i, ok := strings.Cut(strings.TrimSuffix(name, filepath.Ext(name)), "_")
		fi, err1 := strconv.Atoi(f)
		ii, err2 := strconv.Atoi(i)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Impression{Finger: fi, Index: ii, Path: filepath.Join(dir, name)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no <finger>_<impression> files in %s: %w", op, dir, os.ErrNotExist)
	}
	slices.SortFunc(out, func(a, b Impression) int {
		return cmp.Or(cmp.Compare(a.Finger, b.Finger), cmp.Compare(a.Index, b.Index))
	})
	return out, nil
}

// Rates summarises genuine and impostor score distributions with the FVC
// indicators. Rates are fractions.
type Rates struct {
	EER      float64 `json:"eer"`
	FMR100   float64 `json:"fmr100"`   // lowest FNMR with FMR <= 1%
	FMR1000  float64 `json:"fmr1000"`  // lowest FNMR with FMR <= 0.1%
	ZeroFMR  float64 `json:"zero_fmr"` // lowest FNMR with no false match
	Genuine  int     `json:"genuine"`
	Impostor int     `json:"impostor"`
}

// ErrNoScores means Compute was given an empty genuine or impostor list.
var ErrNoScores = errors.New("no genuine or no impostor scores")

// ComputeRates derives EER, FMR100, FMR1000 and ZeroFMR from scores where
// higher means more alike. A failed enrolment should be passed as a score
// below every real score (for example -1), so it counts as a non-match.
// The EER is taken where FMR and FNMR cross, averaging the two at the
// threshold that brings them closest, as FVC does.
func ComputeRates(genuine, impostor []float64) (Rates, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return Rates{}, fmt.Errorf("fingerprint: rates: %w", ErrNoScores)
	}
	g := slices.Clone(genuine)
	im := slices.Clone(impostor)
	slices.Sort(g)
	slices.Sort(im)
	// Candidate thresholds: every distinct score, accept when score >= t.
	ts := append(slices.Clone(g), im...)
	ts = append(ts, math.Inf(1))
	slices.Sort(ts)
	ts = slices.Compact(ts)
	r := Rates{Genuine: len(g), Impostor: len(im), FMR100: 1, FMR1000: 1, ZeroFMR: 1}
	bestGap := math.Inf(1)
	for _, t := range ts {
		fnmr := float64(countBelow(g, t)) / float64(len(g))
		fmr := float64(len(im)-countBelow(im, t)) / float64(len(im))
		if gap := math.Abs(fmr - fnmr); gap < bestGap {
			bestGap = gap
			r.EER = (fmr + fnmr) / 2
		}
		if fmr <= 0.01 {
			r.FMR100 = min(r.FMR100, fnmr)
		}
		if fmr <= 0.001 {
			r.FMR1000 = min(r.FMR1000, fnmr)
		}
		if fmr == 0 {
			r.ZeroFMR = min(r.ZeroFMR, fnmr)
		}
	}
	return r, nil
}

func countBelow(sorted []float64, t float64) int {
	i, _ := slices.BinarySearch(sorted, t)
	return i
}

// PairScores runs the FVC protocol over templates indexed like imps (nil for
// a failure to enrol): genuine pairs are every two impressions of one finger,
// impostor pairs every impression against every impression of the other
// fingers, each unordered pair once. Pairs with a nil template score -1.
func PairScores(imps []Impression, ts []*Template) (genuine, impostor []float64) {
	var s scratch
	for i := range imps {
		for j := i + 1; j < len(imps); j++ {
			v := -1.0
			if ts[i] != nil && ts[j] != nil {
				v = match(&ts[i].cyl, &ts[j].cyl, &s)
			}
			if imps[i].Finger == imps[j].Finger {
				genuine = append(genuine, v)
			} else {
				impostor = append(impostor, v)
			}
		}
	}
	return genuine, impostor
}

// IndexRetention says how many genuine pairs an indexed search keeps: of the
// ordered genuine pairs (probe, mate) whose full comparison reaches
// Threshold, the fraction whose mate the index ranks within each penetration
// rate (the share of impostor entries ranked at or above the mate).
type IndexRetention struct {
	Templates   int       `json:"templates"`
	Threshold   float64   `json:"threshold"`
	Pairs       int       `json:"genuine_pairs"` // ordered pairs reaching Threshold
	Penetration []float64 `json:"penetration"`
	Kept        []float64 `json:"kept"` // fraction of Pairs kept at Penetration[i]
}

// EvalIndex puts every template in one indexed gallery (finger[i] names the
// finger of ts[i]; nil templates are left out), searches each as a probe and
// measures IndexRetention for every threshold given.
func EvalIndex(ts []*Template, finger []int, thresholds, penetrations []float64) []IndexRetention {
	g := NewGallery()
	g.indexFrom = 0
	var keys []string
	var live []*Template
	var fingers []int
	for i, t := range ts {
		if t != nil {
			keys = append(keys, strconv.Itoa(i))
			live = append(live, t)
			fingers = append(fingers, finger[i])
		}
	}
	g.AddAll(keys, live)
	out := make([]IndexRetention, len(thresholds))
	for k, th := range thresholds {
		out[k] = IndexRetention{Templates: len(live), Threshold: th, Penetration: penetrations, Kept: make([]float64, len(penetrations))}
	}
	var s scratch
	for i, probe := range live {
		scores := g.indexScores(probe, 0)
		byEntry := make([]float32, len(live))
		for _, sc := range scores {
			byEntry[sc.entry()] = sc.score()
		}
		for j, mate := range live {
			if j == i || fingers[j] != fingers[i] {
				continue
			}
			// As a gallery compares (galleryCylinders).
			pc, mc := probe.galleryCylinders(), mate.galleryCylinders()
			full := match(&pc, &mc, &s)
			above, impostors := 0, 0
			for e, v := range byEntry {
				if fingers[e] == fingers[i] {
					continue
				}
				impostors++
				if v >= byEntry[j] {
					above++
				}
			}
			needed := float64(above) / float64(max(1, impostors))
			for k := range out {
				if full < out[k].Threshold {
					continue
				}
				out[k].Pairs++
				for p, pen := range penetrations {
					if needed <= pen {
						out[k].Kept[p]++
					}
				}
			}
		}
	}
	for k := range out {
		for p := range out[k].Kept {
			out[k].Kept[p] /= float64(max(1, out[k].Pairs))
		}
	}
	return out
}
