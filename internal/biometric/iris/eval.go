package iris

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// EvalResult is what `assent eval iris --json` prints. Rates are fractions.
// Every pair of images is counted: an image that fails to enrol makes each
// of its pairs a non-match.
type EvalResult struct {
	Dataset        string  `json:"dataset"`
	Eyes           int     `json:"eyes"`
	Images         int     `json:"images"`
	Genuine        int     `json:"genuine"`
	Impostor       int     `json:"impostor"`
	FTE            float64 `json:"fte"`
	FailedToEnrol  int     `json:"failed_to_enrol"`
	MeanUsableBits float64 `json:"mean_usable_bits"`
	EER            float64 `json:"eer"`
	EERThreshold   float64 `json:"eer_threshold"`
	FMR100         float64 `json:"fmr100"`
	FMR1000        float64 `json:"fmr1000"`
	FMR10000       float64 `json:"fmr10000"`
	FMR100000      float64 `json:"fmr100000"` // lowest FNMR with FMR <= 1e-5
	ZeroFMR        float64 `json:"zero_fmr"`
	// Distance distributions: genuine and impostor, non-matches excluded.
	GenuineMean  float64 `json:"genuine_mean"`
	ImpostorMean float64 `json:"impostor_mean"`
	ImpostorStd  float64 `json:"impostor_std"`
	Decidability float64 `json:"decidability"`
	// Single-shift impostor statistics and the fitted number of independent
	// shifts, for the ThresholdForFMR model; and the empirical FMR at the
	// model's thresholds for 1e-3 and 1e-4, to check the mapping.
	ImpostorSingleMean float64 `json:"impostor_single_mean"`
	ImpostorDOF        float64 `json:"impostor_dof"`
	EffectiveShifts    float64 `json:"effective_shifts"`
	// ShiftsFittedAt lists the FMRs whose empirical thresholds the
	// effective shifts were fitted to (see fitShifts).
	ShiftsFittedAt []float64 `json:"effective_shifts_fitted_at,omitempty"`
	ModelFMR1e2    float64   `json:"empirical_fmr_at_model_1e-2"`
	ModelFMR1e3    float64   `json:"empirical_fmr_at_model_1e-3"`
	ModelFMR1e4    float64   `json:"empirical_fmr_at_model_1e-4"`
	// Timing on this machine.
	ExtractMsPerImage    float64 `json:"extract_ms_per_image"`
	ComparisonsPerSecond float64 `json:"matcher_comparisons_per_second"`
	// Coarse pass on real codes, as a search runs it (default margins, the
	// first-half filter included): genuine pairs accepted at the FMR1000
	// threshold that it would drop, and impostors it passes; the same at
	// the 1:N threshold of a registry of 200,000 eyes (FMR 1/(100 x
	// 200,000)); and, without the first-half filter, at several margins.
	CoarseThreshold        float64       `json:"coarse_threshold"`
	CoarseRecallLoss       float64       `json:"coarse_recall_loss"`
	CoarsePassRate         float64       `json:"coarse_impostor_pass_rate"`
	CoarseRecallLossStrict float64       `json:"coarse_recall_loss_1n"`
	CoarsePassRateStrict   float64       `json:"coarse_impostor_pass_rate_1n"`
	CoarseGenuineStrict    int           `json:"coarse_genuine_1n"`
	Coarse                 []CoarsePoint `json:"coarse_margins"`
	// Histograms of distances in bins of 0.01 over [0, 1).
	GenuineHist  []int    `json:"genuine_hist"`
	ImpostorHist []int    `json:"impostor_hist"`
	Failures     []string `json:"failures,omitempty"` // image paths relative to the dataset

	// CloseImpostors lists impostor pairs (different eye folders) closer
	// than CloseDistance, at most maxClose, nearest first; CloseEyePairs
	// groups them by the two eyes: when most of the images of two eyes
	// match each other, the same eye was most likely filed twice (the
	// data's fault); scattered single pairs point at the engine.
	CloseImpostors []PairDistance `json:"close_impostors,omitempty"`
	CloseEyePairs  []EyePair      `json:"close_eye_pairs,omitempty"`
	// ExcludedPairs counts the pairs between eye folders EvalOptions.SameEyes
	// names (neither genuine nor impostor); ExcludedUnder of them are at or
	// under the EER threshold, as genuine pairs of one eye would be.
	ExcludedPairs int `json:"excluded_pairs,omitempty"`
	ExcludedUnder int `json:"excluded_pairs_under_eer_threshold,omitempty"`
	// IdenticalImages lists pairs of byte-identical image files.
	IdenticalImages []PairDistance `json:"identical_images,omitempty"`

	// badGenuine counts, per image, its genuine pairs above the EER
	// threshold; a development aid, not printed.
	badGenuine map[string]int
	badPairs   []string
	samples    []sample
	gen, imp   []float64 // sorted distances, 2 for a forced non-match
}

// CloseDistance is the distance under which an impostor pair is listed in
// CloseImpostors: far below any impostor distribution measured (IITD and
// CASIA impostor means about 0.46 with a standard deviation of 0.013), well
// inside the genuine one.
const CloseDistance = 0.32

const maxClose = 2000

// PairDistance is one pair of images (paths relative to the data set).
type PairDistance struct {
	A        string  `json:"a"`
	B        string  `json:"b"`
	Distance float64 `json:"distance"`
}

// EyePair counts, for two eye folders, their image pairs and how many of
// them are closer than CloseDistance.
type EyePair struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Close int    `json:"close"`
	Pairs int    `json:"pairs"`
}

// imageExt lists the file extensions Evaluate reads.
func imageExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".bmp", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".gif":
		return true
	}
	return false
}

// Evaluate runs the verification protocol on dir: every top-level folder is
// one eye (images in it or any subfolder); genuine pairs are two images of
// one eye, impostor pairs two images of different eyes, every pair once.
// progress, when not nil, is called after each extracted image.
func Evaluate(ctx context.Context, dir string, progress func(done, total int)) (*EvalResult, error) {
	return evaluateWith(ctx, dir, defaultConfig(), EvalOptions{}, progress)
}

// EvalOptions adjusts the protocol of EvaluateWith.
type EvalOptions struct {
	// SameEyes names pairs of eye folders shown to hold the same eye (the
	// data set filed one eye under two people): pairs between them are
	// neither genuine nor impostor, only counted in ExcludedPairs.
	SameEyes [][2]string
}

// EvaluateWith is Evaluate with options.
func EvaluateWith(ctx context.Context, dir string, o EvalOptions, progress func(done, total int)) (*EvalResult, error) {
	return evaluateWith(ctx, dir, defaultConfig(), o, progress)
}

func evaluate(ctx context.Context, dir string, c config, progress func(done, total int)) (*EvalResult, error) {
	return evaluateWith(ctx, dir, c, EvalOptions{}, progress)
}

type sample struct {
	eye  int
	path string
	t    *Template
	seg  segmentation // what extraction found, for diagnostics
	sum  [32]byte     // SHA-256 of the file
}

// eyeFolder is one eye of an evaluation set: its folder's name and its
// images, sorted.
type eyeFolder struct {
	name  string
	files []string
}

// eyeFolders lists an evaluation set: every top-level folder of dir that
// is not hidden and holds images (in it or any subfolder, hidden ones
// skipped) is one eye.
func eyeFolders(dir string) ([]eyeFolder, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []eyeFolder
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var files []string
		err := filepath.WalkDir(filepath.Join(dir, e.Name()), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && imageExt(d.Name()) && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			continue
		}
		slices.Sort(files)
		out = append(out, eyeFolder{name: e.Name(), files: files})
	}
	return out, nil
}

func evaluateWith(ctx context.Context, dir string, c config, o EvalOptions, progress func(done, total int)) (*EvalResult, error) {
	const op = "iris.Evaluate"
	folders, err := eyeFolders(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var samples []sample
	var eyeNames []string
	for i, f := range folders {
		for _, p := range f.files {
			samples = append(samples, sample{eye: i, path: p})
		}
		eyeNames = append(eyeNames, f.name)
	}
	eyes := len(folders)
	if eyes < 2 {
		return nil, fmt.Errorf("%s: %s: need at least two eye folders with images", op, dir)
	}
	same := map[[2]int]bool{}
	for _, p := range o.SameEyes {
		a, b := slices.Index(eyeNames, p[0]), slices.Index(eyeNames, p[1])
		if a < 0 || b < 0 || a == b {
			return nil, fmt.Errorf("%s: same-eye pair %s=%s: not two eye folders of %s", op, p[0], p[1], dir)
		}
		same[[2]int{a, b}], same[[2]int{b, a}] = true, true
	}

	// Extract on every core.
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		done int
	)
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(samples) || ctx.Err() != nil {
					return
				}
				samples[i].t, samples[i].seg, samples[i].sum = extractFileSum(samples[i].path, c)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(samples))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	extractTime := time.Since(start)

	res := &EvalResult{Dataset: dir, Eyes: eyes, Images: len(samples)}
	res.ExtractMsPerImage = extractTime.Seconds() * 1000 * float64(workers) / float64(len(samples))
	for _, s := range samples {
		if s.t == nil {
			res.FailedToEnrol++
			rel, _ := filepath.Rel(dir, s.path)
			res.Failures = append(res.Failures, rel)
		}
	}
	res.FTE = float64(res.FailedToEnrol) / float64(len(samples))
	if ok := len(samples) - res.FailedToEnrol; ok > 0 {
		for _, s := range samples {
			if s.t != nil {
				res.MeanUsableBits += float64(s.t.UsableBits())
			}
		}
		res.MeanUsableBits /= float64(ok)
	}

	// Every pair once, with the gallery kernel: each image's shifts are
	// prepared once.
	m := DefaultMatcher()
	g := NewGallery(GalleryOptions{Matcher: m})
	packed := make([][]uint64, len(samples))
	preps := make([]prepared, len(samples))
	for i, s := range samples {
		if s.t != nil {
			packed[i] = make([]uint64, 2*g.words)
			g.packEntry(packed[i], s.t.Code, s.t.Mask)
			preps[i] = g.prepare(s.t)
		}
	}
	var gen, imp, genRaw []float64
	var single []float64 // impostor distance at shift 0
	var excluded []float64
	var closePairs [][2]int
	var closeDist []float64
	cmpStart := time.Now()
	cmps := 0
	norm := float64(m.NormBits)
	for i := range samples {
		for j := i + 1; j < len(samples); j++ {
			d := 2.0 // non-match: failure to enrol or not comparable
			if packed[i] != nil && packed[j] != nil {
				if hd := best(preps[i].full, packed[j], preps[i].shifts, m.MinBits, pairNorm(norm, preps[i].q, preps[j].q)); hd < 1 {
					d = hd
				}
				cmps++
			}
			if samples[i].eye == samples[j].eye {
				gen = append(gen, d)
				genRaw = append(genRaw, d)
			} else if same[[2]int{samples[i].eye, samples[j].eye}] {
				res.ExcludedPairs++
				excluded = append(excluded, d)
			} else {
				imp = append(imp, d)
				if d < CloseDistance && len(closePairs) < maxClose {
					closePairs = append(closePairs, [2]int{i, j})
					closeDist = append(closeDist, d)
				}
				if d < 2 && len(single) < 50000 {
					mid := m.Rotations * 2 * g.words
					if hd := best(preps[i].full[mid:mid+2*g.words], packed[j], 1, m.MinBits, pairNorm(norm, preps[i].q, preps[j].q)); hd < 1 {
						single = append(single, hd)
					}
				}
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
	res.ComparisonsPerSecond = float64(cmps) / time.Since(cmpStart).Seconds()
	listClose(res, dir, samples, closePairs, closeDist)
	res.Genuine, res.Impostor = len(gen), len(imp)
	rates(res, gen, imp)
	for _, d := range excluded {
		if d <= res.EERThreshold {
			res.ExcludedUnder++
		}
	}
	res.gen, res.imp = gen, imp // sorted by rates
	res.badGenuine = map[string]int{}
	k := 0
	for i := range samples {
		for j := i + 1; j < len(samples); j++ {
			if samples[i].eye != samples[j].eye {
				continue
			}
			if genRaw[k] > res.EERThreshold {
				res.badGenuine[samples[i].path]++
				res.badGenuine[samples[j].path]++
				res.badPairs = append(res.badPairs, fmt.Sprintf("%s %s %.3f", filepath.Base(samples[i].path), filepath.Base(samples[j].path), genRaw[k]))
			}
			k++
		}
	}
	m1, sd := meanStd(single)
	res.ImpostorSingleMean = m1
	if sd > 0 {
		res.ImpostorDOF = 0.25 / (sd * sd)
		res.EffectiveShifts, res.ShiftsFittedAt = fitShifts(imp, m1, sd)
	}
	for _, q := range []struct {
		fmr float64
		out *float64
	}{{1e-2, &res.ModelFMR1e2}, {1e-3, &res.ModelFMR1e3}, {1e-4, &res.ModelFMR1e4}} {
		t := ThresholdForFMR(q.fmr)
		n, _ := slices.BinarySearch(imp, math.Nextafter(t, 3))
		*q.out = float64(n) / float64(len(imp))
	}
	coarseCheck(res, samples, m, GalleryOptions{})
	res.samples = samples
	return res, nil
}

// ShiftFitMinPairs is the fewest impostor pairs beyond an FMR's empirical
// threshold for that FMR to take part in the tail fit.
const ShiftFitMinPairs = 20

// fitShifts fits the number of independent shifts k of the impostor model
// (single-shift distance normal with mean m1 and deviation sd, minimum of k
// shifts) to the measured tail: for each FMR of 1e-3, 1e-4, 1e-5, 1e-6 with
// at least ShiftFitMinPairs impostor pairs at or under its empirical
// threshold x (imp sorted), k_t solves 1-(1-F(x))^k_t = t; k is their
// geometric mean, so the model's error in log FMR is balanced over the
// decades measured instead of zero at 1e-3 and growing beyond.
func fitShifts(imp []float64, m1, sd float64) (float64, []float64) {
	var logSum float64
	var at []float64
	for _, t := range []float64{1e-3, 1e-4, 1e-5, 1e-6} {
		n := int(float64(len(imp)) * t)
		if n < ShiftFitMinPairs {
			break
		}
		f := 0.5 * math.Erfc(-(imp[n-1]-m1)/(sd*math.Sqrt2))
		if f <= 0 || f >= 1 {
			continue
		}
		logSum += math.Log(math.Log1p(-t) / math.Log1p(-f))
		at = append(at, t)
	}
	if len(at) == 0 {
		return 0, nil
	}
	return math.Exp(logSum / float64(len(at))), at
}

// listClose fills CloseImpostors, CloseEyePairs and IdenticalImages.
func listClose(res *EvalResult, dir string, samples []sample, pairs [][2]int, dist []float64) {
	rel := func(p string) string {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	eyeName := func(i int) string { return strings.SplitN(rel(samples[i].path), "/", 2)[0] }
	type key struct{ a, b int }
	byEye := map[key]*EyePair{}
	for k, p := range pairs {
		res.CloseImpostors = append(res.CloseImpostors, PairDistance{A: rel(samples[p[0]].path), B: rel(samples[p[1]].path), Distance: dist[k]})
		kk := key{samples[p[0]].eye, samples[p[1]].eye}
		e := byEye[kk]
		if e == nil {
			e = &EyePair{A: eyeName(p[0]), B: eyeName(p[1])}
			byEye[kk] = e
		}
		e.Close++
	}
	perEye := map[int]int{}
	for _, s := range samples {
		perEye[s.eye]++
	}
	for k, e := range byEye {
		e.Pairs = perEye[k.a] * perEye[k.b]
		res.CloseEyePairs = append(res.CloseEyePairs, *e)
	}
	slices.SortFunc(res.CloseImpostors, func(a, b PairDistance) int { return cmp.Compare(a.Distance, b.Distance) })
	slices.SortFunc(res.CloseEyePairs, func(a, b EyePair) int {
		return cmp.Or(cmp.Compare(b.Close, a.Close), cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
	})
	seen := map[[32]byte]int{}
	for i, s := range samples {
		if s.sum == ([32]byte{}) {
			continue
		}
		if j, ok := seen[s.sum]; ok {
			res.IdenticalImages = append(res.IdenticalImages, PairDistance{A: rel(samples[j].path), B: rel(s.path)})
			continue
		}
		seen[s.sum] = i
	}
}

func extractFileSum(path string, c config) (*Template, segmentation, [32]byte) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, segmentation{}, [32]byte{}
	}
	sum := sha256.Sum256(data)
	img, err := DecodeImage(data)
	if err != nil {
		return nil, segmentation{}, sum
	}
	t, seg, _ := extractSeg(img, c)
	return t, seg, sum
}

func meanStd(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	var s, ss float64
	for _, x := range v {
		s += x
	}
	mean := s / float64(len(v))
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)))
}

// rates fills the error rates from genuine and impostor distances (accept
// when distance <= threshold; 2 marks a forced non-match).
func rates(res *EvalResult, gen, imp []float64) {
	slices.Sort(gen)
	slices.Sort(imp)
	ng, ni := float64(len(gen)), float64(len(imp))
	// fmr(t): impostors <= t; fnmr(t): genuines > t.
	fmr := func(t float64) float64 {
		n, _ := slices.BinarySearch(imp, math.Nextafter(t, 3))
		return float64(n) / ni
	}
	fnmr := func(t float64) float64 {
		n, _ := slices.BinarySearch(gen, math.Nextafter(t, 3))
		return 1 - float64(n)/ng
	}
	ts := append(slices.Clone(gen), imp...)
	ts = append(ts, 0)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	res.EER = 1
	best := math.Inf(1)
	res.FMR100, res.FMR1000, res.FMR10000, res.FMR100000, res.ZeroFMR = 1, 1, 1, 1, 1
	for _, t := range ts {
		if t >= 2 {
			break
		}
		a, b := fmr(t), fnmr(t)
		if d := math.Abs(a - b); d < best {
			best, res.EER, res.EERThreshold = d, (a+b)/2, t
		}
		for _, lim := range []struct {
			max float64
			out *float64
		}{{0.01, &res.FMR100}, {0.001, &res.FMR1000}, {0.0001, &res.FMR10000}, {0.00001, &res.FMR100000}, {0, &res.ZeroFMR}} {
			if a <= lim.max && b < *lim.out {
				*lim.out = b
			}
		}
	}
	var g, im []float64
	for _, v := range gen {
		if v < 2 {
			g = append(g, v)
		}
	}
	for _, v := range imp {
		if v < 2 {
			im = append(im, v)
		}
	}
	gm, gs := meanStd(g)
	imean, is := meanStd(im)
	res.GenuineMean, res.ImpostorMean, res.ImpostorStd = gm, imean, is
	if gs+is > 0 {
		res.Decidability = math.Abs(imean-gm) / math.Sqrt((gs*gs+is*is)/2)
	}
	res.GenuineHist = hist(g)
	res.ImpostorHist = hist(im)
}

func hist(v []float64) []int {
	h := make([]int, 100)
	for _, x := range v {
		h[min(max(int(x*100), 0), 99)]++
	}
	return h
}

// CoarsePoint is the coarse pass measured at one margin.
type CoarsePoint struct {
	Margin           float64 `json:"margin"`
	RecallLoss       float64 `json:"recall_loss"`
	ImpostorPassRate float64 `json:"impostor_pass_rate"`
}

// coarseCheck measures the coarse pass of Gallery.Search on the real codes:
// at the thresholds of FMR 1/1000 and of a 200,000-eye registry given by
// ThresholdForFMR, the share of genuine pairs the full comparison accepts
// that the coarse pass drops, and the share of impostor pairs it lets
// through (the search's own test); and, for the coarse distance alone, the
// same at a few margins.
func coarseCheck(res *EvalResult, samples []sample, m Matcher, opt GalleryOptions) {
	opt.Matcher = m
	g := NewGallery(opt)
	t := ThresholdForFMR(1e-3)
	strict := ThresholdForFMR(1 / (100 * 200000.0))
	res.CoarseThreshold = t + DefaultCoarseMargin
	frac := float64(g.coarseWords) / float64(g.words)
	cmin, cnorm := int(float64(m.MinBits)*frac), float64(m.NormBits)*frac
	e := make([]uint64, 2*g.words)
	qs := make([]float64, len(samples))
	for i, s := range samples {
		if s.t != nil {
			qs[i] = corrRoot(s.t.RowCorrelation())
		}
	}
	var gen, imp []float64 // coarse distances (no first-half filter)
	// The search's own test at the default margins, for both thresholds.
	type tally struct{ gen, lost, imp, passed int }
	var at [2]tally
	for i := range samples {
		if samples[i].t == nil {
			continue
		}
		p := g.prepare(samples[i].t)
		kernels := [2]coarseKernel{
			g.coarseKernel(p.coarseShifts, t+DefaultCoarseMargin, t+DefaultCoarseHalfMargin),
			g.coarseKernel(p.coarseShifts, strict+DefaultCoarseMargin, strict+DefaultCoarseHalfMargin),
		}
		for j := i + 1; j < len(samples); j++ {
			if samples[j].t == nil {
				continue
			}
			g.packEntry(e, samples[j].t.Code, samples[j].t.Mask)
			pn := pairNorm(float64(m.NormBits), p.q, qs[j])
			f := float32(math.Sqrt(float64(m.NormBits) / pn))
			c := bestStrided(p.coarse, g.coarsePart(e), 1, p.coarseShifts, cmin, pairNorm(cnorm, p.q, qs[j]))
			genuine := samples[i].eye == samples[j].eye
			full := 1.0
			if genuine {
				full = best(p.full, e, p.shifts, m.MinBits, pn)
				if full <= t {
					gen = append(gen, c)
				}
			} else {
				imp = append(imp, c)
			}
			for k, th := range [2]float64{t, strict} {
				passed := kernels[k].pass(p.coarse, g.coarsePart(e), f)
				switch {
				case genuine && full <= th:
					at[k].gen++
					if !passed {
						at[k].lost++
					}
				case !genuine:
					at[k].imp++
					if passed {
						at[k].passed++
					}
				}
			}
		}
	}
	ratio := func(a, b int) float64 { return float64(a) / float64(max(1, b)) }
	res.CoarseRecallLoss, res.CoarsePassRate = ratio(at[0].lost, at[0].gen), ratio(at[0].passed, at[0].imp)
	res.CoarseRecallLossStrict, res.CoarsePassRateStrict = ratio(at[1].lost, at[1].gen), ratio(at[1].passed, at[1].imp)
	res.CoarseGenuineStrict = at[1].gen
	slices.Sort(gen)
	slices.Sort(imp)
	for _, margin := range []float64{0.01, DefaultCoarseMargin, 0.03, 0.04, 0.06} {
		ct := t + margin
		pt := CoarsePoint{Margin: margin}
		if len(gen) > 0 {
			n, _ := slices.BinarySearch(gen, math.Nextafter(ct, 3))
			pt.RecallLoss = 1 - float64(n)/float64(len(gen))
		}
		if len(imp) > 0 {
			n, _ := slices.BinarySearch(imp, math.Nextafter(ct, 3))
			pt.ImpostorPassRate = float64(n) / float64(len(imp))
		}
		res.Coarse = append(res.Coarse, pt)
	}
}

// WritePlot draws the genuine (blue) and impostor (red) distance histograms
// of r as a PNG, each normalised to its own peak, with the EER threshold as a
// grey line.
func WritePlot(w io.Writer, r *EvalResult) error {
	const W, H, pad = 800, 400, 20
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	draw := func(h []int, col color.RGBA) {
		peak := slices.Max(h)
		if peak == 0 {
			return
		}
		bw := (W - 2*pad) / len(h)
		for b, n := range h {
			top := H - pad - (H-2*pad)*n/peak
			for x := pad + b*bw; x < pad+(b+1)*bw-1; x++ {
				for y := top; y < H-pad; y++ {
					old := img.RGBAAt(x, y)
					img.SetRGBA(x, y, color.RGBA{min(old.R, col.R), min(old.G, col.G), min(old.B, col.B), 255})
				}
			}
		}
	}
	draw(r.ImpostorHist, color.RGBA{230, 80, 80, 255})
	draw(r.GenuineHist, color.RGBA{80, 80, 230, 255})
	x := pad + int(r.EERThreshold*float64(W-2*pad))
	for y := pad; y < H-pad; y++ {
		img.SetRGBA(x, y, color.RGBA{90, 90, 90, 255})
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("iris.WritePlot: %w", err)
	}
	return nil
}
