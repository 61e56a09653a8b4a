package iris

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTune evaluates ASSENT_IRIS_DATA with parameters overridden by
// ASSENT_IRIS_TUNE ("name=value,..."); a development aid for choosing the
// single default parameter set.
func TestTune(t *testing.T) {
	dir, spec := os.Getenv("ASSENT_IRIS_DATA"), os.Getenv("ASSENT_IRIS_TUNE")
	if dir == "" || spec == "" {
		t.Skip("set ASSENT_IRIS_DATA and ASSENT_IRIS_TUNE to tune parameters")
	}
	c, err := tuneConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := evaluate(context.Background(), dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TUNE %s eer=%.5f fmr1000=%.5f fmr10000=%.5f zero=%.5f fte=%.4f gmean=%.3f imean=%.3f istd=%.4f dof=%.0f d'=%.2f m1=%.3f k=%.1f",
		spec, r.EER, r.FMR1000, r.FMR10000, r.ZeroFMR, r.FTE, r.GenuineMean, r.ImpostorMean, r.ImpostorStd, r.ImpostorDOF, r.Decidability, r.ImpostorSingleMean, r.EffectiveShifts)
	t.Logf("TUNE %s: %d genuine pairs above the EER threshold %.4f: %v", spec, len(r.badPairs), r.EERThreshold, r.badPairs)
}

// tuneConfig is defaultConfig with the overrides of spec ("name=value,...").
func tuneConfig(spec string) (config, error) {
	c := defaultConfig()
	if spec == "" {
		return c, nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, err
		}
		switch k {
		case "wavelength":
			c.wavelength = f
		case "sigmaOnF":
			c.sigmaOnF = f
		case "rhoMin":
			c.rhoMin = f
		case "rhoMax":
			c.rhoMax = f
		case "fragile":
			c.fragile = f
		case "brightK":
			c.brightK = f
		case "darkK":
			c.darkK = f
		case "lashK":
			c.lashK = f
		case "scale2":
			c.scale2 = f
		case "lashRun":
			c.lashRun = int(f)
		case "maskFrac":
			c.maskFrac = f
		case "collaretteFrac":
			c.collaretteFrac = f
		case "collaretteEdge":
			c.collaretteEdge = f
		case "minIrisFrac":
			c.minIrisFrac = f
		case "oneArc":
			c.oneArc = f
		case "limbusDy":
			c.limbusDy = f
		case "lidCurve":
			c.lidCurve = f != 0
		case "lidInlier":
			c.lidInlier = f
		case "lidGapOnly":
			c.lidGapOnly = f != 0
		case "lidUpperOnly":
			c.lidUpperOnly = f != 0
		case "lidMaxSigma":
			c.lidMaxSigma = f
		case "lidMin":
			c.lidMin = int(f)
		case "detrend":
			c.detrend = int(f)
		case "radial":
			c.radial = int(f)
		case "whiten":
			c.whiten = f
		case "whitenHalf":
			c.whitenHalf = int(f)
		case "whitenRef":
			c.whitenRef = f
		case "whitenInner":
			c.whitenInner = f != 0
		case "whitenSteep":
			c.whitenSteep = f != 0
		case "whitenCap":
			c.whitenCap = f
		case "fragileRow":
			c.fragileRow = f != 0
		case "upperSector":
			c.upperSector = f
		case "pupilCut":
			c.pupilCut = f
		case "collaretteBound":
			c.collaretteBound = f
		case "limbusSplitEdge":
			c.limbusSplitEdge = f != 0
		case "limbusSplitKeep":
			c.limbusSplitKeep = f
		case "limbusSplitInner":
			c.limbusSplitInner = f != 0
		case "limbusSplit":
			c.limbusSplit = f
		case "collaretteNear":
			c.collaretteNear = f
		case "lashDensity":
			c.lashDensity = f
		case "lashDensK":
			c.lashDensK = f
		case "lashWinCols":
			c.lashWinCols = int(f)
		case "lashWinRows":
			c.lashWinRows = int(f)
		case "lidBright":
			c.lidBright = f
		case "lidBrightCols":
			c.lidBrightCols = int(f)
		case "lidStepSkip":
			c.lidStepSkip = int(f)
		case "lidStepLevel":
			c.lidStepLevel = f
		case "lidStep":
			c.lidStep = f
		case "lidBrightBoth":
			c.lidBrightBoth = f != 0
		default:
			return c, fmt.Errorf("unknown parameter %q", k)
		}
	}
	return c, nil
}

// TestDevCross evaluates CASIA-IrisV1 (ASSENT_IRIS_DATA) and IITD
// (ASSENT_IITD_DATA, same eyes excluded) with the parameters of
// ASSENT_IRIS_TUNE (may be empty) and prints the in-sample and cross-set
// figures on one line each; with ASSENT_IRIS_DEV_OUT it writes each image's
// segmentation and genuine errors there (TSV), to diff variants. A
// development aid: ASSENT_IRIS_DEV=1.
func TestDevCross(t *testing.T) {
	if os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1, ASSENT_IRIS_DATA and ASSENT_IITD_DATA")
	}
	casiaDir, iitdDir := os.Getenv("ASSENT_IRIS_DATA"), os.Getenv("ASSENT_IITD_DATA")
	spec := os.Getenv("ASSENT_IRIS_TUNE")
	c, err := tuneConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	casia, err := evaluateWith(ctx, casiaDir, c, EvalOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	iitd, err := evaluateWith(ctx, iitdDir, c, EvalOptions{SameEyes: sameEyesIITD(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name      string
		test, cal *EvalResult
	}{{"casia", casia, iitd}, {"iitd", iitd, casia}} {
		r, err := CrossFrom(x.test, x.cal)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Test
		line := fmt.Sprintf("DEV %s [%s] EER %.3f FTE %.2f FMR1000 %.3f FMR1e4 %.3f FMR1e5 %.3f Zero %.2f | out EER %.3f FNMR@1e-3 %.3f | d' %.2f usable %.0f close %d",
			x.name, spec, 100*tr.EER, 100*tr.FTE, 100*tr.FMR1000, 100*tr.FMR10000, 100*tr.FMR100000, 100*tr.ZeroFMR,
			100*r.Out.EER, 100*r.Out.At[2].FNMR, tr.Decidability, tr.MeanUsableBits, len(tr.CloseImpostors))
		for _, p := range r.InModel[1:3] {
			line += fmt.Sprintf(" | own %g: %.2fx", p.Target, p.FMR/p.Target)
		}
		t.Log(line)
		t.Logf("  out: EER at %.4f (FMR %.4f%% FNMR %.3f%%)", -r.Out.At[0].Threshold, 100*r.Out.At[0].FMR, 100*r.Out.At[0].FNMR)
		for _, p := range r.Out.At[1:] {
			t.Logf("  out: FMR %g at %.4f: measured FMR %.4f%% FNMR %.3f%%", p.Target, -p.Threshold, 100*p.FMR, 100*p.FNMR)
		}
		for _, m := range []struct {
			name string
			m    Model
			ps   []ModelPoint
		}{{"calibration model", r.CalibrationModel, r.OutModel}, {"own model", r.TestModel, r.InModel}, {"shipped model", DefaultModel(), r.ShippedModel}} {
			t.Logf("  %s %+v (fitted at %v):", m.name, m.m, tr.ShiftsFittedAt)
			for _, p := range m.ps {
				t.Logf("    FMR %g at %.4f: %d impostors, measured %.2e (%.2fx) FNMR %.3f%%", p.Target, p.Threshold, p.Impostors, p.FMR, p.FMR/p.Target, 100*p.FNMR)
			}
		}
		t.Logf("  failures %v; excluded %d (%d under EER threshold); identical %d; lowest impostor %.4f", tr.Failures, tr.ExcludedPairs, tr.ExcludedUnder, len(tr.IdenticalImages), tr.imp[0])
		for _, e := range tr.CloseEyePairs {
			t.Logf("  close eyes %s~%s %d/%d", e.A, e.B, e.Close, e.Pairs)
		}
		if out := os.Getenv("ASSENT_IRIS_DEV_OUT"); out != "" {
			var b strings.Builder
			for _, s := range tr.samples {
				rel, _ := filepath.Rel(tr.Dataset, s.path)
				u := 0
				if s.t != nil {
					u = s.t.UsableBits()
				}
				fmt.Fprintf(&b, "%s\t%v\t%.1f %.1f %.1f\t%.1f %.1f %.1f\t%.1f\t%d\t%d\t%.1f %.1f\n", rel, s.t != nil,
					s.seg.pupil.x, s.seg.pupil.y, s.seg.pupil.r, s.seg.iris.x, s.seg.iris.y, s.seg.iris.r, s.seg.contrast, u, tr.badGenuine[s.path],
					s.seg.alt.r, s.seg.altD)
			}
			if err := os.WriteFile(filepath.Join(out, x.name+".tsv"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCoarseVariants measures the coarse pass on ASSENT_IRIS_DATA for a few
// word strides and shift steps; a development aid.
func TestCoarseVariants(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DATA")
	if dir == "" || os.Getenv("ASSENT_IRIS_COARSE") == "" {
		t.Skip("set ASSENT_IRIS_DATA and ASSENT_IRIS_COARSE to compare coarse-pass variants")
	}
	r, err := evaluate(context.Background(), dir, defaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []GalleryOptions{{CoarseStride: 2, CoarseStep: 3}, {CoarseStride: 2, CoarseStep: 2}, {CoarseStride: 4, CoarseStep: 2}, {CoarseStride: 1, CoarseStep: 3}, {CoarseStride: 3, CoarseStep: 2}} {
		var x EvalResult
		coarseCheck(&x, r.samples, DefaultMatcher(), v)
		t.Logf("stride %d step %d: %+v", v.CoarseStride, v.CoarseStep, x.Coarse)
	}
}

// TestDevSeg writes the segmentation of every image under ASSENT_IRIS_DEV_SEG
// (with ASSENT_IRIS_TUNE) to ASSENT_IRIS_DEV_OUT/seg.tsv, no matching; a
// development aid.
func TestDevSeg(t *testing.T) {
	dir, out := os.Getenv("ASSENT_IRIS_DEV_SEG"), os.Getenv("ASSENT_IRIS_DEV_OUT")
	if dir == "" || out == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV_SEG and ASSENT_IRIS_DEV_OUT")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageExt(p) {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(paths))
	var wg sync.WaitGroup
	for w := range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := w; i < len(paths); i += runtime.GOMAXPROCS(0) {
				data, err := os.ReadFile(paths[i])
				if err != nil {
					continue
				}
				img, err := DecodeImage(data)
				if err != nil {
					continue
				}
				tp, seg, _ := extractSeg(img, c)
				rel, _ := filepath.Rel(dir, paths[i])
				u := 0
				if tp != nil {
					u = tp.UsableBits()
				}
				lines[i] = fmt.Sprintf("%s\t%v\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%.1f\n", rel, tp != nil, seg.pupil.r, seg.iris.r, seg.contrast, seg.alt.r, seg.altD, u, seg.pupilEdge)
			}
		})
	}
	wg.Wait()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
	}
	if err := os.WriteFile(filepath.Join(out, "seg.tsv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDevExtractCPU reports the CPU time (user + system, this process) of
// Extract per image on the first 100 images of ASSENT_IRIS_DEV_CPU, one
// goroutine, with the parameters of ASSENT_IRIS_TUNE (may be empty): on a
// machine shared with other jobs the wall time of a benchmark says little.
// A development aid.
func TestDevExtractCPU(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CPU")
	if dir == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV_CPU to a data set")
	}
	var imgs []image.Image
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !imageExt(p) || len(imgs) >= 100 {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		img, err := DecodeImage(data)
		if err == nil {
			imgs = append(imgs, img)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		start := cpu()
		for _, img := range imgs {
			extract(img, c)
		}
		t.Logf("round %d: %.1f ms CPU per image (%d images)", round, float64(cpu()-start)/float64(time.Millisecond)/float64(len(imgs)), len(imgs))
	}
}

// TestDevGenuine extracts every image of ASSENT_IRIS_DEV_GEN (one folder per
// eye) with ASSENT_IRIS_TUNE and counts the genuine pairs above the given
// thresholds (ASSENT_IRIS_DEV_THR, comma separated), with a sample of
// impostor pairs (each image against the first image of 12 other eyes) at
// the same thresholds; no tail, no model. Per image: segmentation and bad
// genuine pairs to ASSENT_IRIS_DEV_OUT/gen.tsv. A development aid, for fast
// variants of the segmentation.
func TestDevGenuine(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_GEN")
	if dir == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV_GEN")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	var thr []float64
	for _, s := range strings.Split(os.Getenv("ASSENT_IRIS_DEV_THR"), ",") {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			thr = append(thr, f)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var samples []sample
	eye := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n := 0
		filepath.WalkDir(filepath.Join(dir, e.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && imageExt(p) && !strings.Contains(p, "/.") {
				samples = append(samples, sample{eye: eye, path: p})
				n++
			}
			return err
		})
		if n > 0 {
			eye++
		}
	}
	var wg sync.WaitGroup
	W := runtime.GOMAXPROCS(0)
	for w := range W {
		wg.Go(func() {
			for i := w; i < len(samples); i += W {
				samples[i].t, samples[i].seg, _ = extractFileSum(samples[i].path, c)
			}
		})
	}
	wg.Wait()
	d := func(i, j int) float64 {
		if samples[i].t == nil || samples[j].t == nil {
			return 2
		}
		if hd, ok := Distance(samples[i].t, samples[j].t); ok {
			return hd
		}
		return 2
	}
	bad := make([]int, len(samples))
	genAbove := make([]int, len(thr))
	impUnder := make([]int, len(thr))
	var gen, imp int
	first := map[int]int{}
	for i := len(samples) - 1; i >= 0; i-- {
		first[samples[i].eye] = i
	}
	fte := 0
	for i := range samples {
		if samples[i].t == nil {
			fte++
		}
		for j := i + 1; j < len(samples) && samples[j].eye == samples[i].eye; j++ {
			x := d(i, j)
			gen++
			for k, th := range thr {
				if x > th {
					genAbove[k]++
					if k == 0 {
						bad[i]++
						bad[j]++
					}
				}
			}
		}
		for k := 1; k <= 12; k++ {
			e := (samples[i].eye + k*7) % eye
			if e == samples[i].eye {
				continue
			}
			x := d(i, first[e])
			imp++
			for k, th := range thr {
				if x <= th {
					impUnder[k]++
				}
			}
		}
	}
	line := fmt.Sprintf("DEVGEN [%s] images %d fte %d genuine %d impostor %d", os.Getenv("ASSENT_IRIS_TUNE"), len(samples), fte, gen, imp)
	for k, th := range thr {
		line += fmt.Sprintf(" | %.4f: gen>%d imp<=%d", th, genAbove[k], impUnder[k])
	}
	t.Log(line)
	if out := os.Getenv("ASSENT_IRIS_DEV_OUT"); out != "" {
		var b strings.Builder
		for i, s := range samples {
			rel, _ := filepath.Rel(dir, s.path)
			u := 0
			if s.t != nil {
				u = s.t.UsableBits()
			}
			fmt.Fprintf(&b, "%s\t%v\t%.1f %.1f %.1f\t%.1f %.1f %.1f\t%.1f\t%d\t%d\t%.1f %.1f\n", rel, s.t != nil,
				s.seg.pupil.x, s.seg.pupil.y, s.seg.pupil.r, s.seg.iris.x, s.seg.iris.y, s.seg.iris.r, s.seg.contrast, u, bad[i], s.seg.alt.r, s.seg.altD)
		}
		if err := os.WriteFile(filepath.Join(out, "gen.tsv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
