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
	var dataDir string
	var runs int
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Time every programme report over a synthetic population (SQLite, or PostgreSQL with --postgres)",
		Long: `report writes --people synthetic persons (statistics projection, consents,
check-ups, biometric references, exclusion events; no sealed data, which
reports never read) into a temporary store, or the PostgreSQL database given
with --postgres (it must be empty), and times each report once, end to end,
as a manager asks it. Target: under 2 s per report at 1,000,000 people.

With --data DIR the store is DIR's (kept afterwards) instead of a temporary
one; with --people 0 nothing is written and the reports are timed over the
population DIR (or --postgres) already holds, for instance one loaded in bulk
(docs/reports.md, "Speed"). --runs N times each report N times.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir := dataDir
			if dir == "" {
				tmp, err := os.MkdirTemp("", "assent-bench-report-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			a, err := openApp(ctx, dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)), pgFlag(cmd))
			if err != nil {
				return err
			}
			defer a.Close()
			last := time.Now()
			opt := benchReportOptions(people, seed, func(done, total int) {
				if time.Since(last) > 5*time.Second || done == total {
					fmt.Fprintf(cmd.ErrOrStderr(), "populate: %d/%d\n", done, total)
					last = time.Now()
				}
			})
			opt.Runs = runs
			res, err := benchpop.Reports(ctx, a.db, a.reg, opt)
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
				fmt.Fprintf(w, "%-10s", k)
				for _, s := range res.RunSeconds[k] {
					fmt.Fprintf(w, " %.3f s", s)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&people, "people", 100000, "registered population")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic data")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory to use and keep (default: a temporary one)")
	cmd.Flags().IntVar(&runs, "runs", 1, "times each report is asked")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	addPostgresFlag(cmd.Flags())
	return cmd
}

func benchReportOptions(people int, seed uint64, progress func(done, total int)) benchpop.ReportOptions {
	return benchpop.ReportOptions{People: people, Seed: seed, Progress: progress}
}
