package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
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
	EERFVC        float64 `json:"eer_fvc45"`
	Genuine       int     `json:"genuine"`
	Impostor      int     `json:"impostor"`
	Images        int     `json:"images"`
	FTE           int     `json:"fte"` // failures to enrol (counted as non-matches)
	FTERate       float64 `json:"fte_rate"`
	ExtractMS     float64 `json:"extraction_ms_per_image,omitempty"`
	MeanMinutiae  float64 `json:"mean_minutiae"`
	Threshold     float64 `json:"default_threshold"`
	ComparisonsMS float64 `json:"comparison_us,omitempty"`
}

func newEvalFingerprintCmd() *cobra.Command {
	var (
		dataset, plot  string
		dpi            int
		asJSON, useISO bool
	)
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Evaluate the fingerprint engine on an FVC-style set (all-pairs protocol)",
		Long: `Extracts a template from every <finger>_<impression> image in --dataset (or
decodes every ISO/IEC 19794-2 record with --templates) and scores the FVC
protocol: genuine = every pair of impressions of a finger, impostor = every
impression against every impression of the other fingers. A failure to enrol
makes each of its pairs a non-match.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	res := fingerprintEval{Dataset: dir, Mode: "images", DPI: dpi, Images: len(imps), Threshold: fingerprint.DefaultThreshold()}
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
	res.ComparisonsMS = float64(time.Since(start).Microseconds()) / float64(len(gen)+len(imp))
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
	Gallery          int     `json:"gallery"`
	Probes           int     `json:"probes"`
	Workers          int     `json:"workers"`
	PerSecondPerCore float64 `json:"comparisons_per_second_per_core"`
	PerSecond        float64 `json:"comparisons_per_second"`
	ExtractMS        float64 `json:"extraction_ms_per_image"`
	BytesPerTemplate float64 `json:"bytes_per_template"` // packed gallery memory per template
	SerialisedBytes  float64 `json:"serialised_bytes_per_template"`
	MeanMinutiae     float64 `json:"mean_minutiae"`
	Source           string  `json:"source"`
	BuildSeconds     float64 `json:"gallery_build_seconds"`
}

func newBenchFingerprintCmd() *cobra.Command {
	var (
		n, probes, dpi int
		dataset        string
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Measure the fingerprint 1:N scan speed on all cores",
		Long: `Extracts templates from a data set, replicates them with random jitter
(rotation, translation, dropped minutiae) up to --gallery entries, then times
1:N searches of real probes over the whole gallery on all cores. One
comparison is one probe against one gallery entry, all alignments included.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" {
				dataset = defaultFingerprintSet()
			}
			res, err := benchFingerprint(cmd.Context(), dataset, dpi, n, probes)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) {
				fmt.Fprintf(w, "gallery %d, %d probes, %d workers: %.0f comparisons/s per core (%.0f/s total)\n",
					res.Gallery, res.Probes, res.Workers, res.PerSecondPerCore, res.PerSecond)
				fmt.Fprintf(w, "extraction %.1f ms/image, %.0f bytes/template packed (%.0f serialised), %.1f minutiae\n",
					res.ExtractMS, res.BytesPerTemplate, res.SerialisedBytes, res.MeanMinutiae)
			})
		},
	}
	cmd.Flags().IntVar(&n, "gallery", 10000, "gallery size")
	cmd.Flags().IntVar(&probes, "probes", 20, "number of probes searched")
	cmd.Flags().StringVar(&dataset, "dataset", "", "image set to build from (default: FVC2002 DB1_B in $ASSENT_FINGERPRINT_DATA or ../shared/data/fingerprint)")
	cmd.Flags().IntVar(&dpi, "dpi", 500, "scan resolution of the images")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func defaultFingerprintSet() string {
	root := os.Getenv("ASSENT_FINGERPRINT_DATA")
	if root == "" {
		root = filepath.Join("..", "shared", "data", "fingerprint")
	}
	return filepath.Join(root, "fvc2002", "db1_b")
}

// jitter returns a copy of ms rotated and shifted at random, with about one
// minutia in eight dropped, as a stand-in for another person's finger.
func jitter(r *rand.Rand, ms []fingerprint.Minutia) []fingerprint.Minutia {
	a := (r.Float64() - 0.5) * math.Pi / 6
	dx, dy := (r.Float64()-0.5)*40, (r.Float64()-0.5)*40
	c, s := math.Cos(a), math.Sin(a)
	out := make([]fingerprint.Minutia, 0, len(ms))
	for _, m := range ms {
		if r.IntN(8) == 0 {
			continue
		}
		x := c*float64(m.X) - s*float64(m.Y) + dx + (r.Float64()-0.5)*4
		y := s*float64(m.X) + c*float64(m.Y) + dy + (r.Float64()-0.5)*4
		d := math.Mod(float64(m.Dir)+a+2*math.Pi, 2*math.Pi)
		m.X, m.Y, m.Dir = float32(x), float32(y), float32(d)
		out = append(out, m)
	}
	return out
}

func benchFingerprint(ctx context.Context, dataset string, dpi, n, probes int) (fingerprintBench, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if n < 1 || probes < 1 {
		return fingerprintBench{}, fmt.Errorf("bench fingerprint: --gallery and --probes must be positive")
	}
	_, ts, spent, err := loadTemplates(dataset, dpi, false)
	if err != nil {
		return fingerprintBench{}, err
	}
	var base []*fingerprint.Template
	for _, t := range ts {
		if t != nil {
			base = append(base, t)
		}
	}
	if len(base) == 0 {
		return fingerprintBench{}, fmt.Errorf("bench fingerprint: no image of %s gave a template", dataset)
	}
	res := fingerprintBench{Gallery: n, Probes: probes, Workers: runtime.GOMAXPROCS(0), Source: dataset,
		ExtractMS: float64(spent.Microseconds()) / 1000 / float64(len(ts))}
	// Build the jittered templates on all cores, then add them in order.
	start := time.Now()
	entries := make([]*fingerprint.Template, n)
	var wg sync.WaitGroup
	for w := range res.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(1, uint64(w)))
			for i := w; i < n; i += res.Workers {
				b := base[i%len(base)]
				if i < len(base) {
					entries[i] = b
					continue
				}
				entries[i] = fingerprint.NewTemplate(b.Width, b.Height, jitter(r, b.Minutiae))
			}
		}()
	}
	wg.Wait()
	g := fingerprint.NewGallery()
	ser, nm := 0, 0
	for i, t := range entries {
		g.Add(fmt.Sprint(i), t)
		b, _ := t.MarshalBinary()
		ser += len(b)
		nm += len(t.Minutiae)
	}
	res.BuildSeconds = time.Since(start).Seconds()
	res.BytesPerTemplate = float64(g.Bytes()) / float64(n)
	res.SerialisedBytes = float64(ser) / float64(n)
	res.MeanMinutiae = float64(nm) / float64(n)
	thr := fingerprint.DefaultThreshold()
	start = time.Now()
	for p := range probes {
		if _, err := g.Search(ctx, base[p%len(base)], thr, fingerprint.SearchOptions{}); err != nil {
			return res, fmt.Errorf("bench fingerprint: %w", err)
		}
	}
	el := time.Since(start).Seconds()
	res.PerSecond = float64(n) * float64(probes) / el
	res.PerSecondPerCore = res.PerSecond / float64(res.Workers)
	return res, nil
}
