package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-registry/assent/internal/biometric/iris"
)

// readSameEyes reads lines "A B" (# starts a comment).
func readSameEyes(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) != 2 {
			return nil, fmt.Errorf("%s:%d: want two eye folder names", path, n)
		}
		out = append(out, [2]string{fs[0], fs[1]})
	}
	return out, sc.Err()
}

// pairsIn keeps the pairs whose two folders both exist in dir.
func pairsIn(dir string, pairs [][2]string) [][2]string {
	var out [][2]string
	for _, p := range pairs {
		a, errA := os.Stat(filepath.Join(dir, p[0]))
		b, errB := os.Stat(filepath.Join(dir, p[1]))
		if errA == nil && errB == nil && a.IsDir() && b.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

func runIrisCross(cmd *cobra.Command, test, cal string, pairs [][2]string, asJSON bool) error {
	stderr := cmd.ErrOrStderr()
	last := map[string]int{}
	progress := func(set string, done, total int) {
		if pct := done * 10 / total; pct != last[set]-1 {
			last[set] = pct + 1
			fmt.Fprintf(stderr, "eval iris: %s: extracted %d/%d images\n", set, done, total)
		}
	}
	r, err := iris.EvaluateCross(cmd.Context(), test, cal,
		iris.EvalOptions{SameEyes: pairsIn(test, pairs)}, iris.EvalOptions{SameEyes: pairsIn(cal, pairs)}, progress)
	if err != nil {
		return fmt.Errorf("eval iris: %w", err)
	}
	w := cmd.OutOrStdout()
	if asJSON {
		return irisWriteJSON(w, r)
	}
	return printIrisCross(w, r)
}

func printIrisCross(w io.Writer, r *iris.CrossResult) error {
	fmt.Fprintf(w, "== test set, in sample (thresholds chosen on itself)\n")
	if err := printEvalIris(w, r.Test); err != nil {
		return err
	}
	fmt.Fprintf(w, "== calibration set, in sample\n")
	if err := printEvalIris(w, r.Calibration); err != nil {
		return err
	}
	f := r.Fit
	fmt.Fprintf(w, "== out of sample: %s scored with the thresholds of %s\n", r.Test.Dataset, r.Calibration.Dataset)
	fmt.Fprintf(w, "EER          %.3f%% (FMR %.4f%%, FNMR %.3f%% at the calibration's EER threshold %.4f)\n",
		100*r.Out.EER, 100*r.Out.At[0].FMR, 100*r.Out.At[0].FNMR, -f.EERThreshold)
	for _, p := range r.Out.At[1:] {
		if !p.Measured {
			fmt.Fprintf(w, "FMR %-8g not fitted (too few calibration impostors)\n", p.Target)
			continue
		}
		fmt.Fprintf(w, "FMR %-8g threshold %.4f: measured FMR %.4f%%, FNMR %.3f%%\n", p.Target, -p.Threshold, 100*p.FMR, 100*p.FNMR)
	}
	model := func(name string, m iris.Model, ps []iris.ModelPoint) {
		if !m.Fitted() {
			fmt.Fprintf(w, "%s: not fitted (needs at least 20,000 impostor pairs: 20 beyond FMR 1e-3)\n", name)
			return
		}
		fmt.Fprintf(w, "%s (mean %.4f, dof %.0f, shifts %.1f):\n", name, m.Mean, m.DOF, m.Shifts)
		for _, p := range ps {
			note := ""
			if !p.Measurable {
				note = " (below what these pairs can measure)"
			}
			fmt.Fprintf(w, "  model FMR %-6g threshold %.4f: %d impostors accepted, measured FMR %.2e (%.2fx), FNMR %.3f%%%s\n",
				p.Target, p.Threshold, p.Impostors, p.FMR, p.FMR/p.Target, 100*p.FNMR, note)
		}
	}
	model("calibration set's model on the test set (out of sample)", r.CalibrationModel, r.OutModel)
	model("test set's own model (in sample: the measured far tail)", r.TestModel, r.InModel)
	model("shipped model (ThresholdForFMR) on the test set", iris.DefaultModel(), r.ShippedModel)
	return nil
}
