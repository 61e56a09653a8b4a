package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// TestGalleryLoadLogsOnce: the start of a gallery load is logged once, not
// once per page, and its end carries the counts per modality.
func TestGalleryLoadLogsOnce(t *testing.T) {
	ctx := context.Background()
	dir := newRegistryDir(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := openApp(ctx, dir, true, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "S", AreaCode: "A"}); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if err := loadGalleries(ctx, a, log, time.Hour); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, `msg="loading 1:N galleries"`); n != 1 {
		t.Errorf("logged the start %d times:\n%s", n, out)
	}
	for _, want := range []string{`msg="1:N galleries loaded"`, "fingerprint=0", "iris=0", "persons=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
