package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/biometric/crossset"
	"github.com/assent-registry/assent/internal/datasets"
)

// fingerprintCrossEval is the JSON of `assent eval fingerprint --calibrate-on`
// (and --cross-year): every test set with its in-sample rates (thresholds
// chosen on the set itself, as FVC reports) and the rates at thresholds
// fitted, frozen, on the calibration group.
type fingerprintCrossEval struct {
	Calibration []crossset.Fit        `json:"calibration"`
	Sets        []fingerprintCrossSet `json:"sets"`
	// Means over the test sets.
	MeanEERInSample   float64 `json:"mean_eer_in_sample"`
	MeanEER           float64 `json:"mean_eer"` // at the calibration group's EER threshold
	MeanFMR1000       float64 `json:"mean_fmr1000_in_sample"`
	MeanFNMRAt1e3     float64 `json:"mean_fnmr_at_fitted_1e-3"`
	MeanFMRAt1e3      float64 `json:"mean_fmr_at_fitted_1e-3"`
	MeanFNMRAtDefault float64 `json:"mean_fnmr_at_fitted_1e-4"`
}

type fingerprintCrossSet struct {
	InSample fingerprintEval `json:"in_sample"`
	// CalibratedOn indexes Calibration.
	CalibratedOn int             `json:"calibrated_on"`
	Out          crossset.Report `json:"out_of_sample"`
}

// setSpec parses DIR[:DPI] (or DIR@DPI); without a DPI, FVC2002 DB2 is
// 569 dpi and everything else 500.
func setSpec(spec string) (string, int, error) {
	dir, d, ok := spec, "", false
	if i := strings.LastIndexAny(spec, ":@"); i >= 0 {
		dir, d, ok = spec[:i], spec[i+1:], true
	}
	if ok {
		dpi, err := strconv.Atoi(d)
		if err != nil || dpi < 250 || dpi > 1500 {
			return "", 0, fmt.Errorf("eval fingerprint: %q: dpi must be a number from 250 to 1500", spec)
		}
		return dir, dpi, nil
	}
	clean := filepath.ToSlash(filepath.Clean(dir))
	if strings.HasSuffix(clean, "fvc2002/db2_b") || strings.HasSuffix(clean, "fvc2002/db2_a") {
		return dir, 569, nil
	}
	return dir, 500, nil
}

func splitSets(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// crossYearGroups is the FVC2000 <-> FVC2002 protocol on the shared B sets.
func crossYearGroups(root string) [2][]string {
	var g [2][]string
	for i, year := range []string{"fvc2000", "fvc2002"} {
		for db := 1; db <= 4; db++ {
			g[i] = append(g[i], filepath.Join(root, year, fmt.Sprintf("db%d_b", db)))
		}
	}
	return g
}

type scoredSet struct {
	name     string
	res      fingerprintEval
	gen, imp []float64
}

func scoreSets(specs []string, cache map[string]*scoredSet) ([]*scoredSet, error) {
	var out []*scoredSet
	for _, spec := range specs {
		if s, ok := cache[spec]; ok {
			out = append(out, s)
			continue
		}
		dir, dpi, err := setSpec(spec)
		if err != nil {
			return nil, err
		}
		res, gen, imp, err := evalFingerprint(dir, dpi, false)
		if err != nil {
			return nil, err
		}
		s := &scoredSet{name: dir, res: res, gen: gen, imp: imp}
		cache[spec] = s
		out = append(out, s)
	}
	return out, nil
}

// evalFingerprintCross scores every test group with a fit on its calibration
// group: pairs[i] = {test specs, calibration specs}.
func evalFingerprintCross(pairs [][2][]string) (fingerprintCrossEval, error) {
	cache := map[string]*scoredSet{}
	var out fingerprintCrossEval
	for _, p := range pairs {
		cal, err := scoreSets(p[1], cache)
		if err != nil {
			return out, err
		}
		var names []string
		var gen, imp []float64
		for _, s := range cal {
			names = append(names, s.name)
			gen = append(gen, s.gen...)
			imp = append(imp, s.imp...)
		}
		fit, err := crossset.FitScores(names, gen, imp)
		if err != nil {
			return out, fmt.Errorf("eval fingerprint: calibration: %w", err)
		}
		out.Calibration = append(out.Calibration, fit)
		test, err := scoreSets(p[0], cache)
		if err != nil {
			return out, err
		}
		for _, s := range test {
			rep, err := crossset.Apply(fit, s.name, s.gen, s.imp)
			if err != nil {
				return out, fmt.Errorf("eval fingerprint: %w", err)
			}
			out.Sets = append(out.Sets, fingerprintCrossSet{InSample: s.res, CalibratedOn: len(out.Calibration) - 1, Out: rep})
		}
	}
	n := float64(len(out.Sets))
	for _, s := range out.Sets {
		out.MeanEERInSample += s.InSample.EER / n
		out.MeanFMR1000 += s.InSample.FMR1000 / n
		out.MeanEER += s.Out.EER / n
		out.MeanFMRAt1e3 += s.Out.At[2].FMR / n
		out.MeanFNMRAt1e3 += s.Out.At[2].FNMR / n
		out.MeanFNMRAtDefault += s.Out.At[3].FNMR / n
	}
	return out, nil
}

func printFingerprintCross(w io.Writer, r fingerprintCrossEval) {
	for i, f := range r.Calibration {
		fmt.Fprintf(w, "calibration %d: %s (%d genuine, %d impostor pairs): EER threshold %.4f", i, strings.Join(f.Sets, ", "), f.Genuine, f.Impostor, f.EERThreshold)
		for _, t := range f.Thresholds {
			if t.Measured {
				fmt.Fprintf(w, ", FMR %g at %.4f", t.Target, t.Score)
			} else {
				fmt.Fprintf(w, ", FMR %g not measurable", t.Target)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-28s %4s | %-22s | %-40s\n", "", "", "in sample (own thresholds)", "out of sample (thresholds of the calibration)")
	fmt.Fprintf(w, "%-28s %4s | %9s %11s | %9s %14s %14s %14s\n", "set", "cal", "EER", "FMR1000", "EER", "FMR/FNMR EER", "FMR/FNMR 1e-3", "FMR/FNMR 1e-4")
	for _, s := range r.Sets {
		a0, a3, a4 := s.Out.At[0], s.Out.At[2], s.Out.At[3]
		fmt.Fprintf(w, "%-28s %4d | %8.2f%% %10.2f%% | %8.2f%% %6.2f/%5.2f%% %6.2f/%5.2f%% %6.3f/%5.2f%%\n", shortSet(s.Out.Set), s.CalibratedOn,
			100*s.InSample.EER, 100*s.InSample.FMR1000, 100*s.Out.EER, 100*a0.FMR, 100*a0.FNMR, 100*a3.FMR, 100*a3.FNMR, 100*a4.FMR, 100*a4.FNMR)
	}
	fmt.Fprintf(w, "mean: in sample EER %.2f%% FMR1000 %.2f%%; out of sample EER %.2f%%, at the fitted 1e-3 threshold FMR %.3f%% FNMR %.2f%%, at 1e-4 FNMR %.2f%%\n",
		100*r.MeanEERInSample, 100*r.MeanFMR1000, 100*r.MeanEER, 100*r.MeanFMRAt1e3, 100*r.MeanFNMRAt1e3, 100*r.MeanFNMRAtDefault)
}

// shortSet keeps the last two path elements (fvc2002/db1_b).
func shortSet(p string) string {
	d, f := filepath.Split(filepath.Clean(p))
	return filepath.Join(filepath.Base(d), f)
}

func defaultCrossRoot() string { return datasets.Fingerprint() }

func runFingerprintCross(w io.Writer, asJSON, crossYear bool, dataset, calibrateOn string) error {
	var pairs [][2][]string
	if crossYear {
		if calibrateOn != "" {
			return fmt.Errorf("eval fingerprint: --cross-year and --calibrate-on exclude each other")
		}
		root := dataset
		if root == "" {
			root = defaultCrossRoot()
		}
		g := crossYearGroups(root)
		pairs = [][2][]string{{g[0], g[1]}, {g[1], g[0]}}
	} else {
		if dataset == "" {
			return fmt.Errorf("eval fingerprint: --dataset is required with --calibrate-on")
		}
		pairs = [][2][]string{{splitSets(dataset), splitSets(calibrateOn)}}
	}
	r, err := evalFingerprintCross(pairs)
	if err != nil {
		return err
	}
	return printResult(w, asJSON, r, func(w io.Writer) { printFingerprintCross(w, r) })
}
