package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/demo"
	"github.com/assent-registry/assent/internal/dirlock"
	"github.com/assent-registry/assent/internal/opsmetrics"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var addr string
	var households int
	var seed uint64
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Serve the registry on a fresh temporary data dir with a synthetic population",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			dir, err := os.MkdirTemp("", "assent-demo-")
			if err != nil {
				return err
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			m := opsmetrics.New(log)
			a, err := openDir(ctx, dir, log, openOptions{Migrate: true, Create: true, Lock: dirlock.Shared, Command: "assent demo", Observer: m})
			if err != nil {
				return err
			}
			defer a.Close()
			keys, err := setupDemo(ctx, a, households, seed, out)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return err
				}
			}
			sample, err := demoSample(ctx, a)
			if err != nil {
				return err
			}
			url := "http://" + ln.Addr().String()
			printDemo(out, url, dir, keys, sample)
			return serve(ctx, a, ln, log, serveConfig{cpEvery: time.Minute, cpEntries: 1000, metrics: m})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address (a free port is used if it is taken)")
	cmd.Flags().IntVar(&households, "households", 80, "households to generate (about 3.7 people each)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the population generator")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary data dir on exit")
	return cmd
}

type demoKey struct {
	role consent.Role
	site string
	key  string
}

func setupDemo(ctx context.Context, a *app, households int, seed uint64, progress io.Writer) ([]demoKey, error) {
	admin := registry.Actor{Role: consent.Admin}
	for _, ar := range demo.AreaTree {
		if _, err := a.reg.PutArea(ctx, admin, ar.Code, ar.In); err != nil {
			return nil, err
		}
	}
	for _, s := range demo.Areas {
		if _, err := a.reg.CreateSite(ctx, admin, s); err != nil {
			return nil, err
		}
	}
	site0 := demo.Areas[0].Code
	var keys []demoKey
	registrars := map[string]registry.Actor{}
	for _, s := range demo.Areas {
		op, _, err := a.reg.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: s.Code, Name: "demo registrar " + s.Code})
		if err != nil {
			return nil, err
		}
		registrars[s.Code] = registry.Actor{OperatorID: op.ID, Role: consent.Registrar, Site: s.Code, Route: "assent demo"}
	}
	for _, role := range consent.OperatorRoles {
		site := site0
		if role == consent.Admin || role == consent.Auditor || role == consent.Manager || role == consent.Researcher {
			site = ""
		}
		_, key, err := a.reg.CreateOperator(ctx, registry.NewOperator{Role: role, Site: site, Name: "demo " + string(role)})
		if err != nil {
			return nil, err
		}
		keys = append(keys, demoKey{role: role, site: site, key: key})
	}
	start := time.Now()
	fmt.Fprintf(progress, "generating %d households...\n", households)
	res, err := demo.Populate(ctx, a.reg, registrars, demo.Options{Seed: seed, Households: households})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "registered %d people in %d households across %d areas in %s\n", res.Persons, res.Households, len(demo.Areas), time.Since(start).Round(time.Millisecond))
	return keys, nil
}

// demoPerson is a sample registration whose portal code is known, for
// trying the portal.
type demoPerson struct {
	number, code string
}

// demoSample registers one more person, with some grants and some
// declines, and keeps the number and portal code to print.
func demoSample(ctx context.Context, a *app) (demoPerson, error) {
	site := demo.Areas[0]
	op, _, err := a.reg.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: site.Code, Name: "demo sample registrar"})
	if err != nil {
		return demoPerson{}, err
	}
	actor := registry.Actor{OperatorID: op.ID, Role: consent.Registrar, Site: site.Code, Route: "assent demo"}
	out, err := a.reg.CreatePerson(ctx, actor, consent.Registration, registry.NewPerson{GivenName: "Amina", FamilyName: "Sample", BirthDate: "1988-04-12",
		Sex: "female", AreaCode: site.AreaCode, Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "v1", Language: "en",
			Decisions: []registry.DecisionInput{{Category: "face", Purpose: "verification", Decision: "granted"}, {Category: "fingerprint", Purpose: "deduplication", Decision: "granted"},
				{Category: "iris", Purpose: "deduplication", Decision: "declined"}, {Category: "health", Purpose: "research", Decision: "declined"}}}})
	if err != nil {
		return demoPerson{}, err
	}
	return demoPerson{number: out.PersonNumber, code: out.Receipt.Code}, nil
}

func printDemo(w io.Writer, url, dir string, keys []demoKey, sample demoPerson) {
	fmt.Fprintf(w, "\nAssent demo: open the web interface at %[1]s/ui/ (sign in with a key below)\n", url)
	fmt.Fprintf(w, "  the person's portal: %[1]s/portal?n=%[2]s  person number %[3]s, portal code %[4]s\n", url, strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, sample.number), sample.number, sample.code)
	fmt.Fprintf(w, "\nServing at %s (data in %s; Ctrl-C stops)\n\nAPI keys, one per role (they sign in at /ui/login too):\n", url, dir)
	var reg string
	for _, k := range keys {
		site := k.site
		if site == "" {
			site = "-"
		}
		fmt.Fprintf(w, "  %-12s site %-13s %s\n", k.role, site, k.key)
		if k.role == consent.Registrar {
			reg = k.key
		}
	}
	fmt.Fprintf(w, `
Try:
  curl -s %[1]s/healthz
  curl -s -X POST %[1]s/v1/persons -H 'Authorization: Bearer %[2]s' -H 'Assent-Purpose: registration' \
    -d '{"given_name":"Ada","family_name":"Example","birth_date":"1990-04-01","sex":"female","area_code":"AREA-N","consent":{"method":"verbal","notice_version":"demo-1","language":"en"}}'
  curl -s %[1]s/v1/persons/PERSON_ID -H 'Authorization: Bearer %[2]s' -H 'Assent-Purpose: registration'

The OpenAPI document is at %[1]s/openapi.json.
`, url, reg)
}
