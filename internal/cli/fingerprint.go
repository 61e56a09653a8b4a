package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
	"github.com/assent-registry/assent/internal/biometric/fingerprint/scanbench"
	"github.com/assent-registry/assent/internal/datasets"
)

// fingerprintEval is the JSON printed by `assent eval fingerprint --json`.
type fingerprintEval struct {
	Dataset string  `json:"dataset"`
	Mode    string  `json:"mode"` // "images" or "templates"
	DPI     int     `json:"dpi,omitempty"`
	EER     float64 `json:"eer"`
	FMR100  float64 `json:"fmr100"`
	FMR1000 float64 `json:"fmr1000"`
	ZeroFMR float64 `json:"zero_fmr"`
	// EERFVC is the EER of the original FVC impostor protocol (first
	// impressions only, 45 pairs for a B set); coarse, given for comparison.
	EERFVC       float64 `json:"eer_fvc45"`
	Genuine      int     `json:"genuine"`
	Impostor     int     `json:"impostor"`
	Images       int     `json:"images"`
	FTE          int     `json:"fte"` // failures to enrol (counted as non-matches)
	FTERate      float64 `json:"fte_rate"`
	ExtractMS    float64 `json:"extraction_ms_per_image,omitempty"`
	MeanMinutiae float64 `json:"mean_minutiae"`
	Threshold    float64 `json:"default_threshold"`
	ComparisonUS float64 `json:"comparison_us,omitempty"`
}

func newEvalFingerprintCmd() *cobra.Command {
	var (
		dataset, plot  string
		calibrateOn    string
		dpi            int
		asJSON, useISO bool
		crossYear      bool
	)
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Evaluate the fingerprint engine on an FVC-style set (all-pairs protocol)",
		Long: `Extracts a template from every <finger>_<impression> image in --dataset (or
decodes every ISO/IEC 19794-2 record with --templates) and scores the FVC
protocol: genuine = every pair of impressions of a finger, impostor = every
impression against every impression of the other fingers. A failure to enrol
makes each of its pairs a non-match.

Cross-set protocol: --calibrate-on SETS fits the thresholds (the EER threshold
and those of FMR 1e-2, 1e-3, 1e-4) on the pooled pairs of SETS and reports
each --dataset set (comma-separated; DIR:DPI for a resolution, FVC2002 DB2 is
569 by default) at those frozen thresholds beside its in-sample rates.
--cross-year does it for the eight shared B sets: FVC2000 scored with the fit
on FVC2002 and the other way round (--dataset may name the data root).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if crossYear || calibrateOn != "" {
				return runFingerprintCross(cmd.OutOrStdout(), asJSON, crossYear, dataset, calibrateOn)
			}
			if dataset == "" {
				return fmt.Errorf("eval fingerprint: --dataset is required")
			}
			res, gen, imp, err := evalFingerprint(dataset, dpi, useISO)
			if err != nil {
				return err
			}
			if plot != "" {
				f, err := os.Create(plot)
				if err != nil {
					return fmt.Errorf("eval fingerprint: %w", err)
				}
				err = fingerprint.WritePlotSVG(f, filepath.Base(dataset)+" ("+res.Mode+")", gen, imp)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("eval fingerprint: plot: %w", err)
				}
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) {
				fmt.Fprintf(w, "%s (%s): EER %.2f%%  FMR100 %.2f%%  FMR1000 %.2f%%  ZeroFMR %.2f%%\n",
					res.Dataset, res.Mode, 100*res.EER, 100*res.FMR100, 100*res.FMR1000, 100*res.ZeroFMR)
				fmt.Fprintf(w, "genuine %d  impostor %d  images %d  FTE %d  mean minutiae %.1f  extraction %.1f ms/image\n",
					res.Genuine, res.Impostor, res.Images, res.FTE, res.MeanMinutiae, res.ExtractMS)
			})
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "directory of <finger>_<impression> images (or .iso records with --templates)")
	cmd.Flags().IntVar(&dpi, "dpi", 500, "scan resolution of the images (FVC2002 DB2 is 569)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&plot, "plot", "", "write score histograms and a DET curve to this SVG file")
	cmd.Flags().StringVar(&calibrateOn, "calibrate-on", "", "comma-separated sets to fit the thresholds on; --dataset sets are then scored out of sample")
	cmd.Flags().BoolVar(&crossYear, "cross-year", false, "FVC2000 <-> FVC2002 cross-set protocol on the shared B sets")
	cmd.Flags().BoolVar(&useISO, "templates", false, "evaluate the matcher on ISO/IEC 19794-2 records (.iso) instead of images")
	return cmd
}

func printResult(w io.Writer, asJSON bool, v any, text func(io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(v)
	}
	text(w)
	return nil
}

// loadTemplates reads a data set as templates, nil for failures to enrol.
func loadTemplates(dir string, dpi int, useISO bool) ([]fingerprint.Impression, []*fingerprint.Template, time.Duration, error) {
	const op = "fingerprint: load"
	var ext []string
	if useISO {
		ext = []string{".iso", ".ist"}
	}
	imps, err := fingerprint.ListDataset(dir, ext...)
	if err != nil {
		return nil, nil, 0, err
	}
	ts := make([]*fingerprint.Template, len(imps))
	var spent time.Duration
	for i, im := range imps {
		b, err := os.ReadFile(im.Path)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %w", op, err)
		}
		if useISO {
			rec, err := iso19794.Decode(b)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %s: %w", op, im.Path, err)
			}
			if ts[i], err = fingerprint.FromISO(rec, 0); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %s: %w", op, im.Path, err)
			}
			continue
		}
		img, err := fingerprint.DecodeImage(b)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %s: %w", op, im.Path, err)
		}
		start := time.Now()
		t, err := fingerprint.Extract(img, dpi)
		spent += time.Since(start)
		if err == nil {
			ts[i] = t
		}
	}
	return imps, ts, spent, nil
}

func evalFingerprint(dir string, dpi int, useISO bool) (fingerprintEval, []float64, []float64, error) {
	imps, ts, spent, err := loadTemplates(dir, dpi, useISO)
	if err != nil {
		return fingerprintEval{}, nil, nil, err
	}
	res := fingerprintEval{Dataset: dir, Mode: "images", DPI: dpi, Images: len(imps), Threshold: fingerprint.DefaultVerifyThreshold()}
	if useISO {
		res.Mode, res.DPI = "templates", 0
	} else {
		res.ExtractMS = float64(spent.Microseconds()) / 1000 / float64(len(imps))
	}
	nm := 0
	for _, t := range ts {
		if t == nil {
			res.FTE++
		} else {
			nm += len(t.Minutiae)
		}
	}
	res.FTERate = float64(res.FTE) / float64(len(imps))
	if ok := len(imps) - res.FTE; ok > 0 {
		res.MeanMinutiae = float64(nm) / float64(ok)
	}
	start := time.Now()
	gen, imp := fingerprint.PairScores(imps, ts)
	res.ComparisonUS = float64(time.Since(start).Microseconds()) / float64(len(gen)+len(imp))
	r, err := fingerprint.ComputeRates(gen, imp)
	if err != nil {
		return res, nil, nil, fmt.Errorf("eval fingerprint: %w", err)
	}
	res.EER, res.FMR100, res.FMR1000, res.ZeroFMR, res.Genuine, res.Impostor = r.EER, r.FMR100, r.FMR1000, r.ZeroFMR, r.Genuine, r.Impostor
	// FVC's original impostor protocol: first impressions only.
	var first []int
	for i, im := range imps {
		if im.Index == 1 {
			first = append(first, i)
		}
	}
	var imp45 []float64
	for x := range first {
		for y := x + 1; y < len(first); y++ {
			a, b := ts[first[x]], ts[first[y]]
			v := -1.0
			if a != nil && b != nil {
				v = fingerprint.Score(a, b)
			}
			imp45 = append(imp45, v)
		}
	}
	if r45, err := fingerprint.ComputeRates(gen, imp45); err == nil {
		res.EERFVC = r45.EER
	}
	return res, gen, imp, nil
}

// fingerprintBench is the JSON printed by `assent bench fingerprint --json`.
type fingerprintBench struct {
	scanbench.Result
	ExtractMS    float64 `json:"extraction_ms_per_image"`
	ExtractCPUMS float64 `json:"extraction_cpu_ms_per_image,omitempty"`
	Source       string  `json:"source"`
}

func newBenchFingerprintCmd() *cobra.Command {
	var (
		n, probes, dpi  int
		dataset         string
		asJSON, indexed bool
	)
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Measure the fingerprint 1:N scan speed on all cores",
		Long: `Extracts templates from a data set, replicates them with random jitter
(rotation, translation, dropped minutiae) up to --gallery entries, then times
1:N searches of real probes over the whole gallery on all cores. One
comparison is one probe against one gallery entry, all alignments included.
With --indexed the searches run the index first and compare in full only its
shortlist (as enrolment does); comparisons then count the shortlist only.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" {
				dataset = defaultFingerprintSet()
			}
			res, err := benchFingerprint(cmd.Context(), dataset, dpi, n, probes, indexed)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) {
				fmt.Fprintf(w, "gallery %d, %d probes, %d workers: %.0f comparisons/s per core (%.0f/s total)\n",
					res.Gallery, res.Probes, res.Workers, res.PerSecondPerCore, res.PerSecond)
				fmt.Fprintf(w, "(wall clock: %.0f per core) extraction %.1f ms/image, %.0f bytes/template packed (%.0f serialised), %.1f minutiae\n",
					res.WallPerSecondPerCore,
					res.ExtractMS, res.BytesPerTemplate, res.SerialisedBytes, res.MeanMinutiae)
				if res.Indexed {
					fmt.Fprintf(w, "indexed: shortlist %d of %d, %.1f ms per search (max %.1f), index %.0f%% of the memory\n",
						res.Shortlist, res.Gallery, res.SearchMS, res.SearchMaxMS, 100*res.IndexedShare)
				}
			})
		},
	}
	cmd.Flags().IntVar(&n, "gallery", 10000, "gallery size (real templates, then jittered copies)")
	cmd.Flags().IntVar(&probes, "probes", 20, "number of probes searched")
	cmd.Flags().StringVar(&dataset, "dataset", "", "image set to build from (default: FVC2002 DB1_B in $ASSENT_FINGERPRINT_DATA or ../shared/data/fingerprint)")
	cmd.Flags().IntVar(&dpi, "dpi", 500, "scan resolution of the images")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&indexed, "indexed", false, "time indexed searches (the index's shortlist compared in full)")
	return cmd
}

func defaultFingerprintSet() string {
	return filepath.Join(datasets.Fingerprint(), "fvc2002", "db1_b")
}

func benchFingerprint(ctx context.Context, dataset string, dpi, n, probes int, indexed bool) (fingerprintBench, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	imps, ts, spent, err := loadTemplates(dataset, dpi, false)
	if err != nil {
		return fingerprintBench{}, err
	}
	r, err := scanbench.Run(ctx, scanbench.Config{Templates: ts, Gallery: n, Probes: probes, Seed: 1, Indexed: indexed})
	if err != nil {
		return fingerprintBench{}, fmt.Errorf("bench fingerprint: %w", err)
	}
	return fingerprintBench{Result: r, Source: dataset,
		ExtractMS: float64(spent.Microseconds()) / 1000 / float64(len(imps))}, nil
}
