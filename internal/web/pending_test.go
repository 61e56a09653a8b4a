package web

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
	"github.com/assent-registry/assent/internal/registry/registrytest"
)

// TestCapturePending: with a gallery shard down, the capture page says the
// duplicate check will finish later, never "captured" alone.
func TestCapturePending(t *testing.T) {
	g := registrytest.NewShardDown()
	e := newEnvWith(t, registrytest.Options{Galleries: g})
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	dedup := e.client()
	dedup.signIn(consent.Registrar, consent.Deduplication)
	pid := e.resolve(reg.register(adultForm("Later", "1970-01-01", "consent.identity.registration", "consent.fingerprint.deduplication")).attr("data-person-number"))
	img, err := os.ReadFile(filepath.Join(datasets.FingerprintSet(t, "fvc2002/db1_b"), "101_1.tif"))
	if err != nil {
		t.Fatal(err)
	}
	for _, down := range []bool{false, true} {
		g.Down.Store(down)
		p := dedup.upload("/ui/persons/"+pid+"/capture", map[string][]string{"position": {"right_index"}}, img)
		if p.status != http.StatusSeeOther {
			t.Fatalf("capture (shard down %v): %d\n%s", down, p.status, p.body)
		}
		want := map[bool]string{false: "enrolled", true: "pending"}[down]
		page := dedup.get(p.header.Get("Location"))
		if got := page.attr("data-capture-result"); got != want {
			t.Errorf("shard down %v: data-capture-result %q, want %q", down, got, want)
		}
	}
	if !dedup.get("/ui/persons/" + pid + "/capture?result=pending").has(`will finish later`) {
		t.Errorf("the pending message is not on the page")
	}
}
