package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/assent-registry/assent/internal/benchpop"
	"github.com/spf13/cobra"
)

func newBenchReportCmd() *cobra.Command {
	var people int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Time every programme report over a synthetic population (SQLite, or PostgreSQL with --postgres)",
		Long: `report writes --people synthetic persons (statistics projection, consents,
check-ups, biometric references, exclusion events; no sealed data, which
reports never read) into a temporary store, or the PostgreSQL database given
with --postgres (it must be empty), and times each report once, end to end,
as a manager asks it. Target: under 2 s per report at 1,000,000 people.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "assent-bench-report-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			a, err := openApp(ctx, dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)), pgFlag(cmd))
			if err != nil {
				return err
			}
			defer a.Close()
			last := time.Now()
			res, err := benchpop.Reports(ctx, a.db, a.reg, benchReportOptions(people, seed, func(done, total int) {
				if time.Since(last) > 5*time.Second || done == total {
					fmt.Fprintf(cmd.ErrOrStderr(), "populate: %d/%d\n", done, total)
					last = time.Now()
				}
			}))
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "population: %d people, %d areas, %d sites (written in %.1f s)\n", res.People, res.Areas, res.Sites, res.PopulateSeconds)
			kinds := make([]string, 0, len(res.ReportSeconds))
			for k := range res.ReportSeconds {
				kinds = append(kinds, k)
			}
			sort.Strings(kinds)
			for _, k := range kinds {
				fmt.Fprintf(w, "%-10s %.3f s\n", k, res.ReportSeconds[k])
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&people, "people", 100000, "registered population")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic data")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	addPostgresFlag(cmd.Flags())
	return cmd
}

func benchReportOptions(people int, seed uint64, progress func(done, total int)) benchpop.ReportOptions {
	return benchpop.ReportOptions{People: people, Seed: seed, Progress: progress}
}
