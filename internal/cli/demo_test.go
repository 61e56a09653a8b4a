package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

func TestDemoPopulation(t *testing.T) {
	ctx := context.Background()
	a, err := openApp(ctx, t.TempDir(), true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var progress bytes.Buffer
	keys, err := setupDemo(ctx, a, 12, 7, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(consent.OperatorRoles) {
		t.Errorf("%d keys, want one per role", len(keys))
	}
	if !strings.Contains(progress.String(), "in 12 households across 3 areas") {
		t.Errorf("progress: %s", progress.String())
	}
	var out bytes.Buffer
	sample, err := demoSample(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	printDemo(&out, "http://127.0.0.1:1", "/tmp/x", keys, sample)
	if first := strings.SplitN(strings.TrimSpace(out.String()), "\n", 2)[0]; !strings.Contains(first, "http://127.0.0.1:1/ui/") {
		t.Errorf("the UI address is not printed first: %q", first)
	}
	if !strings.Contains(out.String(), sample.number) || !strings.Contains(out.String(), sample.code) || sample.code == "" {
		t.Errorf("no sample person number and portal code:\n%s", out.String())
	}
	id, err := a.reg.ResolvePerson(ctx, sample.number)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.Login(ctx, id, sample.code, "test"); err != nil {
		t.Errorf("the printed portal code does not sign in: %v", err)
	}
	for _, k := range keys {
		if !strings.Contains(out.String(), k.key) {
			t.Errorf("key of %s not printed", k.role)
		}
		actor, err := a.reg.Authenticate(ctx, k.key)
		if err != nil || actor.Role != k.role {
			t.Errorf("printed %s key does not authenticate: %v", k.role, err)
		}
	}
	if strings.Count(out.String(), "curl") != 3 {
		t.Errorf("want three curl commands:\n%s", out.String())
	}
	st, err := a.reg.ConsentStatistics(ctx, registryAuditor)
	if err != nil || len(st.Cells) == 0 {
		t.Errorf("demo consent stats: %+v %v", st, err)
	}
}

var registryAuditor = registry.Actor{Role: consent.Auditor}
