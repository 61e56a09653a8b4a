package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/spf13/cobra"
)

// areasHeader is the Contract's header of an areas file.
var areasHeader = []string{"code", "name", "parent_code", "age_band", "sex", "target"}

func newAreasCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "areas", Short: "Manage the area registry (areas and target populations)"}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "data", "", "data directory")
	addPostgresFlag(cmd.PersistentFlags())
	_ = cmd.MarkPersistentFlagRequired("data")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	imp := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Load areas and targets from a CSV file (code,name,parent_code,age_band,sex,target): all rows or none; loading it again changes nothing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := readAreasCSV(args[0])
			if err != nil {
				return err
			}
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent areas", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			n, err := a.reg.ImportAreas(cmd.Context(), registry.Actor{Role: consent.Admin, Route: "assent areas import"}, rows)
			if err != nil {
				var ie *registry.InputError
				if errors.As(err, &ie) {
					return fmt.Errorf("areas import: %s: %s", ie.Code, ie.Detail)
				}
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "{\"areas\":%d,\"rows\":%d}\n", n, len(rows))
			return err
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "Print the area registry as CSV (the import format)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := openDir(cmd.Context(), dir, quiet, openOptions{Migrate: true, Lock: dirlock.Shared, Command: "assent areas", Postgres: pgFlag(cmd), KeysPostgres: keysPGFlag(cmd)})
			if err != nil {
				return err
			}
			defer a.Close()
			as, err := a.reg.ListAreas(cmd.Context())
			if err != nil {
				return err
			}
			w := csv.NewWriter(cmd.OutOrStdout())
			_ = w.Write(areasHeader)
			for _, ar := range as {
				if len(ar.Targets) == 0 {
					_ = w.Write([]string{ar.Code, ar.Name, ar.ParentCode, "", "", ""})
				}
				for _, t := range ar.Targets {
					_ = w.Write([]string{ar.Code, ar.Name, ar.ParentCode, t.AgeBand, t.Sex, fmt.Sprint(t.Target)})
				}
			}
			w.Flush()
			return w.Error()
		},
	}
	cmd.AddCommand(imp, list)
	return cmd
}

func readAreasCSV(path string) ([]registry.AreaRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(areasHeader)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	for i := range head {
		head[i] = strings.TrimSpace(strings.TrimPrefix(head[i], "\ufeff"))
	}
	if !slices.Equal(head, areasHeader) {
		return nil, fmt.Errorf("%s: header must be %s", path, strings.Join(areasHeader, ","))
	}
	var rows []registry.AreaRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		rows = append(rows, registry.AreaRow{Line: line, Code: rec[0], Name: rec[1], Parent: rec[2], AgeBand: rec[3], Sex: rec[4], Target: rec[5]})
	}
	return rows, nil
}
