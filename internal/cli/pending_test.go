package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
)

// TestMaintainCompletesPending: a capture left pending while a gallery
// shard was down is finished by `assent maintain`, which loads the
// in-process gallery for it: the case opens and the row goes.
func TestMaintainCompletesPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := openApp(ctx, dir, true, quiet)
	if err != nil {
		t.Fatal(err)
	}
	admin := registry.Actor{Role: consent.Admin}
	if _, err := a.reg.PutArea(ctx, admin, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	// The registry of a node whose gallery shard is down.
	g := registrytest.NewShardDown()
	node := registry.New(a.db, a.keys, registry.Options{Galleries: g})
	reg := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	rng := rand.New(rand.NewPCG(7, 7))
	f := synth.NewFinger(rng)
	var ids []string
	for i, tpl := range []interface{ MarshalBinary() ([]byte, error) }{f.Template(), f.Mate(rng)} {
		p, err := node.CreatePerson(ctx, reg, consent.Registration, registry.NewPerson{GivenName: "P", FamilyName: "Q", BirthDate: "1980-01-01", Sex: "unknown", AreaCode: "A",
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en", Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		raw, _ := tpl.MarshalBinary()
		g.Down.Store(i == 1)
		out, err := node.EnrolTemplate(ctx, reg, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]string{0: registry.DedupDone, 1: registry.DedupPending}[i]; out.Deduplication != want {
			t.Fatalf("capture %d: %q, want %q", i, out.Deduplication, want)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	code, out := run("maintain", "--data", dir)
	if code != 0 || !strings.Contains(out, "loading 1:N galleries") {
		t.Fatalf("maintain: exit %d, gallery loaded first?\n%s", code, out)
	}
	var rep struct {
		Done int `json:"pending_searches_completed"`
		Left int `json:"pending_searches_left"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil || rep.Done != 1 || rep.Left != 0 {
		t.Fatalf("maintain report %+v (%v)\n%s", rep, err, out)
	}
	a, err = openApp(ctx, dir, false, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.db.View(ctx, func(tx store.Tx) error {
		n, err := tx.CountPendingSearches(ctx)
		if err != nil || n != 0 {
			t.Errorf("%d pending rows after maintain (%v)", n, err)
		}
		cs, err := tx.ListCases(ctx, store.CaseOpen, 10)
		if err != nil || len(cs) != 1 || cs[0].PersonA != ids[0] || cs[0].PersonB != ids[1] {
			t.Errorf("cases after maintain: %+v (%v), want (first, second)", cs, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing pending: maintain loads no gallery and reports zeros.
	if code, out := run("maintain", "--data", dir); code != 0 || strings.Contains(out, "loading 1:N galleries") {
		t.Errorf("maintain with nothing pending: exit %d\n%s", code, out)
	}
}
