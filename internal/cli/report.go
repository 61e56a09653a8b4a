package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/report"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var dir, from, to, area, format, out, bands, mapping string
	var k, minAnswers int
	var epsilon, alpha float64
	cmd := &cobra.Command{
		Use:   "report KIND",
		Short: "Write a programme report (coverage, consent, exclusion, register): aggregates only, small cells suppressed",
		Long: `Write a programme report from the data in DIR. KIND is coverage, consent,
exclusion or register.
Reports hold counts only, never a person; cells under --k are suppressed, with
complementary suppression so that none can be recovered from the totals. The
request is recorded in the audit log as an aggregate access by a manager.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			switch kind {
			case registry.ReportCoverage, registry.ReportConsent, registry.ReportExclusion, registry.ReportRegister:
			default:
				return fmt.Errorf("report: unknown kind %q (coverage, consent, exclusion or register)", kind)
			}
			q := registry.ReportQuery{Area: area, K: k, Epsilon: epsilon, Alpha: alpha, MinAnswers: minAnswers}
			var err error
			if from != "" {
				if q.From, err = time.Parse(time.DateOnly, from); err != nil {
					return fmt.Errorf("--from: want YYYY-MM-DD")
				}
			}
			if to != "" {
				t, err := time.Parse(time.DateOnly, to)
				if err != nil {
					return fmt.Errorf("--to: want YYYY-MM-DD")
				}
				q.To = t.AddDate(0, 0, 1)
			}
			if bands != "" {
				q.Bands = strings.Split(bands, ",")
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			a, err := openDir(cmd.Context(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)), openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent report", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			actor := registry.Actor{Role: consent.Manager, OperatorID: "cli", Route: "assent report " + kind}
			var rep any
			switch kind {
			case registry.ReportCoverage:
				c, err := a.reg.CoverageReport(cmd.Context(), actor, q)
				if err != nil {
					return reportErr(err)
				}
				rep = c
			case registry.ReportConsent:
				c, err := a.reg.ConsentReport(cmd.Context(), actor, q)
				if err != nil {
					return reportErr(err)
				}
				rep = c
			case registry.ReportExclusion:
				c, err := a.reg.ExclusionReport(cmd.Context(), actor, q)
				if err != nil {
					return reportErr(err)
				}
				rep = c
			case registry.ReportRegister:
				c, err := a.reg.RegisterReport(cmd.Context(), actor, q)
				if err != nil {
					return reportErr(err)
				}
				rep = c
			}
			return writeReport(w, rep, format, mapping)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(f)
	f.StringVar(&from, "from", "", "first day of the period (YYYY-MM-DD; default: the beginning)")
	f.StringVar(&to, "to", "", "last day of the period (YYYY-MM-DD, inclusive; default: today)")
	f.StringVar(&area, "area", "", "area code, rolled up (default: the root of the area tree)")
	f.StringVar(&format, "format", "json", "json, csv, html or dhis2")
	f.StringVar(&out, "out", "", "output file (default stdout)")
	f.StringVar(&bands, "bands", "", "age bands, comma separated (default 0-11,12-17,18-64,65+)")
	f.StringVar(&mapping, "mapping", "", "DHIS2 mapping file (JSON; see docs/reports.md), for --format dhis2")
	f.IntVar(&k, "k", 0, "smallest count published (default 10)")
	f.Float64Var(&epsilon, "epsilon", 0, "privacy budget of the release: adds geometric noise (0 = none)")
	f.Float64Var(&alpha, "alpha", 0, "consent report: one-sided p below which few declines are flagged (default 0.001)")
	f.IntVar(&minAnswers, "min-answers", 0, "consent report: answers needed before a site is tested (default 30)")
	_ = cmd.MarkFlagRequired("data")
	cmd.AddCommand(newRebuildCountsCmd())
	return cmd
}

func newRebuildCountsCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rebuild-counts",
		Short: "Recompute the reports' pre-aggregated counts from the statistics projection (offline)",
		Long: `rebuild-counts recomputes the count tables the reports read from the
statistics projection, consents, exams, biometric references and exclusion
events, in one transaction, and prints how many count rows it corrected (0
when the counts kept with every write were right). The database keeps the
counts itself; run this after loading rows behind its back (a restore of an
old backup, a bulk load) or to check them. It holds the data directory
exclusively.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openDir(cmd.Context(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)), openOptions{Migrate: true, Lock: dirlock.Exclusive,
				Command: "assent report rebuild-counts", Why: "the counts are rebuilt offline", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			start := time.Now()
			changed, err := a.reg.RebuildReportCounts(cmd.Context())
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"changed_count_rows": changed, "seconds": time.Since(start).Seconds()})
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(cmd.Flags())
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func reportErr(err error) error {
	if ie, ok := err.(*registry.InputError); ok {
		return fmt.Errorf("report: %s: %s: %s", ie.Code, ie.Field, ie.Detail)
	}
	return err
}

func writeReport(w io.Writer, rep any, format, mapping string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		switch r := rep.(type) {
		case report.Coverage:
			return report.WriteCoverageCSV(w, r)
		case report.ConsentReport:
			return report.WriteConsentCSV(w, r)
		case report.Exclusion:
			return report.WriteExclusionCSV(w, r)
		case report.Register:
			return report.WriteRegisterCSV(w, r)
		}
	case "html":
		return report.WriteHTML(w, rep)
	case "dhis2":
		if mapping == "" {
			return fmt.Errorf("report: --format dhis2 needs --mapping FILE")
		}
		m, err := report.ReadDHIS2Mapping(mapping)
		if err != nil {
			return err
		}
		return report.WriteDHIS2(w, rep, m)
	}
	return fmt.Errorf("report: unknown format %q (json, csv, html or dhis2)", format)
}
