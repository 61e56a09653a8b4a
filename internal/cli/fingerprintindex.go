package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
)

// fingerprintIndexEval is the JSON printed by
// `assent eval fingerprint-index --json`.
type fingerprintIndexEval struct {
	Datasets []string `json:"datasets"`
	// GalleryTemplates is the registry size whose 1:N threshold is checked.
	GalleryTemplates int                          `json:"gallery_templates"`
	Results          []fingerprint.IndexRetention `json:"results"`
}

func newEvalFingerprintIndexCmd() *cobra.Command {
	var (
		asJSON  bool
		gallery int
	)
	cmd := &cobra.Command{
		Use:   "fingerprint-index SET[:DPI]...",
		Short: "Measure how many genuine pairs the fingerprint index keeps (several FVC-style sets pooled)",
		Long: `Extracts every image of the given sets (a set's dpi after a colon, 500 by
default), puts all templates in one indexed gallery and searches each one.
For every genuine pair whose full comparison reaches the threshold, it finds
the share of impostor entries the index ranks at or above the mate: the
pair is kept at a penetration rate when that share is at most the rate.
Reported at the 1-in-10,000 threshold and at the 1:N threshold of a
registry of --gallery templates (false-match rate 1/(100 x gallery)).`,
		Example: `  assent eval fingerprint-index ../shared/data/fingerprint/fvc2002/db1_b ../shared/data/fingerprint/fvc2002/db2_b:569`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ts []*fingerprint.Template
			var fingers []int
			for si, arg := range args {
				dir, dpi := arg, 500
				if i := strings.LastIndex(arg, ":"); i > 0 {
					d, err := strconv.Atoi(arg[i+1:])
					if err != nil {
						return fmt.Errorf("eval fingerprint-index: %q: the dpi after the colon is not a number", arg)
					}
					dir, dpi = arg[:i], d
				}
				imps, got, _, err := loadTemplates(dir, dpi, false)
				if err != nil {
					return err
				}
				for i, im := range imps {
					ts = append(ts, got[i])
					fingers = append(fingers, si*1_000_000+im.Finger)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d templates\n", filepath.Base(dir), len(imps))
			}
			if gallery < 1 {
				return fmt.Errorf("eval fingerprint-index: --gallery must be at least 1")
			}
			ths := []float64{fingerprint.DefaultThreshold(), fingerprint.Threshold(min(fingerprint.DefaultFMR, 1/(100*float64(gallery))))}
			res := fingerprintIndexEval{Datasets: args, GalleryTemplates: gallery,
				Results: fingerprint.EvalIndex(ts, fingers, ths, []float64{0.005, 0.01, 0.015, fingerprint.DefaultPenetration, 0.03, 0.05, 0.1})}
			return printResult(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) {
				for _, r := range res.Results {
					fmt.Fprintf(w, "threshold %.4f: %d genuine pairs among %d templates\n", r.Threshold, r.Pairs, r.Templates)
					for i, p := range r.Penetration {
						fmt.Fprintf(w, "  kept at penetration %5.1f%%: %.2f%%\n", 100*p, 100*r.Kept[i])
					}
				}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().IntVar(&gallery, "gallery", 200_000, "templates in the registry whose 1:N threshold is checked (two fingers of 100,000 people)")
	return cmd
}
