package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/assent-registry/assent/internal/biometric/iris"
)

// newEvalIrisCmd builds `assent eval iris --dataset DIR [--json] [--plot FILE]`.
func newEvalIrisCmd() *cobra.Command {
	var (
		dataset, plot string
		calibrateOn   string
		sameEyes      string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "iris",
		Short: "Evaluate the iris engine: every top-level folder of --dataset is one eye",
		Long: `Extracts a template from every image (PNG, BMP, TIFF, JPEG, GIF) and compares
every pair once: genuine = two images of one eye (top-level folder), impostor =
images of different eyes. An image that fails to enrol counts in FTE and makes
each of its pairs a non-match. Rates are fractions.

--same-eyes FILE names pairs of eye folders shown to hold one eye filed under
two people (lines "A B", # comments; docs/data/iitd-same-eyes.txt): pairs
between them count as neither genuine nor impostor.

Cross-set protocol: --calibrate-on DIR evaluates DIR as well, fits the
thresholds (EER, FMR 1e-2 .. 1e-4) and the impostor model (ThresholdForFMR)
on it, and reports --dataset at those frozen thresholds beside its in-sample
figures, with the model's far tail checked on --dataset's impostor pairs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" {
				return fmt.Errorf("eval iris: --dataset is required")
			}
			stderr := cmd.ErrOrStderr()
			var pairs [][2]string
			if sameEyes != "" {
				var err error
				if pairs, err = readSameEyes(sameEyes); err != nil {
					return fmt.Errorf("eval iris: %w", err)
				}
			}
			if calibrateOn != "" {
				return runIrisCross(cmd, dataset, calibrateOn, pairs, asJSON)
			}
			last := -1
			progress := func(done, total int) {
				if pct := done * 10 / total; pct != last {
					last = pct
					fmt.Fprintf(stderr, "eval iris: extracted %d/%d images\n", done, total)
				}
			}
			r, err := iris.EvaluateWith(cmd.Context(), dataset, iris.EvalOptions{SameEyes: pairsIn(dataset, pairs)}, progress)
			if err != nil {
				return fmt.Errorf("eval iris: %w", err)
			}
			if plot != "" {
				if err := irisWritePlotFile(plot, r); err != nil {
					return fmt.Errorf("eval iris: %w", err)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return irisWriteJSON(out, r)
			}
			return printEvalIris(out, r)
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", "", "data set directory: one folder per eye")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&calibrateOn, "calibrate-on", "", "data set to fit thresholds and the impostor model on; --dataset is then scored out of sample")
	cmd.Flags().StringVar(&sameEyes, "same-eyes", "", "file of eye-folder pairs holding the same eye, excluded from both genuine and impostor pairs")
	cmd.Flags().StringVar(&plot, "plot", "", "write the genuine/impostor histograms to this PNG file")
	return cmd
}

func irisWritePlotFile(path string, r *iris.EvalResult) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := iris.WritePlot(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func irisWriteJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

func printEvalIris(w io.Writer, r *iris.EvalResult) error {
	_, err := fmt.Fprintf(w, `dataset      %s
eyes         %d
images       %d (failed to enrol %d, FTE %.2f%%)
genuine      %d
impostor     %d
EER          %.3f%% (threshold %.4f)
FMR100       %.3f%%
FMR1000      %.3f%%
FMR10000     %.3f%%
FMR100000    %.3f%%
ZeroFMR      %.3f%%
decidability %.2f (genuine mean %.3f, impostor mean %.3f sd %.4f)
extraction   %.1f ms/image
coarse pass  loses %.3f%% of genuine pairs, passes %.3f%% of impostors (FMR 1e-3 threshold);
             loses %.3f%% of %d, passes %.4f%% (1:N threshold of 200,000 eyes)
`, r.Dataset, r.Eyes, r.Images, r.FailedToEnrol, 100*r.FTE, r.Genuine, r.Impostor,
		100*r.EER, r.EERThreshold, 100*r.FMR100, 100*r.FMR1000, 100*r.FMR10000, 100*r.FMR100000, 100*r.ZeroFMR,
		r.Decidability, r.GenuineMean, r.ImpostorMean, r.ImpostorStd, r.ExtractMsPerImage,
		100*r.CoarseRecallLoss, 100*r.CoarsePassRate, 100*r.CoarseRecallLossStrict, r.CoarseGenuineStrict, 100*r.CoarsePassRateStrict)
	if err != nil {
		return err
	}
	if r.ExcludedPairs > 0 {
		fmt.Fprintf(w, "same eyes    %d pairs between folders of one eye excluded (%d of them at or under the EER threshold)\n", r.ExcludedPairs, r.ExcludedUnder)
	}
	if len(r.IdenticalImages) > 0 {
		fmt.Fprintf(w, "identical    %d pairs of byte-identical image files:", len(r.IdenticalImages))
		for _, p := range r.IdenticalImages {
			fmt.Fprintf(w, " %s=%s", p.A, p.B)
		}
		fmt.Fprintln(w)
	}
	if len(r.CloseImpostors) > 0 {
		fmt.Fprintf(w, "close        %d impostor pairs under distance %.2f, from %d pairs of eyes; most:", len(r.CloseImpostors), iris.CloseDistance, len(r.CloseEyePairs))
		for i, e := range r.CloseEyePairs {
			if i == 10 {
				break
			}
			fmt.Fprintf(w, " %s~%s %d/%d", e.A, e.B, e.Close, e.Pairs)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// newBenchIrisCmd builds `assent bench iris [--gallery N] [--json]`.
func newBenchIrisCmd() *cobra.Command {
	var (
		opt    iris.BenchOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "iris",
		Short: "Measure the iris 1:N scan on a synthetic gallery against a plain XOR-AND-popcount roofline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Gallery < 0 {
				return fmt.Errorf("bench iris: --gallery must be positive")
			}
			r, err := iris.Bench(cmd.Context(), opt)
			if err != nil {
				return fmt.Errorf("bench iris: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return irisWriteJSON(out, r)
			}
			_, err = fmt.Fprintf(out, `gallery                 %d entries, %d probes
code                    %d bits + mask, %d rotations, %d bytes/eye
scan, one core          %.0f comparisons/s (%.0f%% of roofline %.0f)
scan, all %d cores       %.0f comparisons/s
coarse pass, one core   %.0f comparisons/s (%.2fx), impostor pass rate %.4f
coarse recall loss      %.5f (%d mated pairs found of %d)
`, r.Gallery, r.Probes, r.CodeBits, r.Rotations, r.BytesPerEye,
				r.ComparisonsPerSecondPerCore, 100*r.FractionOfRoofline, r.RooflinePerCore,
				r.Cores, r.ComparisonsPerSecondAllCores,
				r.CoarsePerCore, r.CoarseSpeedup, r.CoarsePassRate,
				r.CoarseRecallLoss, r.MatedFound, r.MatedPairs)
			return err
		},
	}
	cmd.Flags().IntVar(&opt.Gallery, "gallery", 20000, "synthetic gallery size")
	cmd.Flags().IntVar(&opt.Probes, "probes", 8, "probes per timed pass")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
