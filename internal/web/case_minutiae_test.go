package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
	"github.com/assent-registry/assent/internal/store"
)

// TestCasePageDrawsMinutiae (issue 13, item 9): a registrar captures the
// same finger (FVC2002 DB1 B 104, impressions 1 and 2) for two people; the
// adjudicator's case page draws both templates' minutiae as inline SVG,
// one circle per minutia, with a caption; a case where one person declined
// fingerprint deduplication draws none.
func TestCasePageDrawsMinutiae(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	dedup := e.client()
	dedup.signIn(consent.Registrar, consent.Deduplication)
	var pids []string
	for i, name := range []string{"First", "Again"} {
		rc := reg.register(adultForm(name, "1970-01-01", "consent.identity.registration", "consent.fingerprint.deduplication"))
		pid := e.resolve(rc.attr("data-person-number"))
		pids = append(pids, pid)
		img, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("104_%d.tif", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if p := dedup.upload("/ui/persons/"+pid+"/capture", map[string][]string{"position": {"right_index"}}, img); p.status >= 400 {
			t.Fatalf("capture %d: %d\n%s", i+1, p.status, p.body)
		}
	}
	var cs []store.Case
	if err := e.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		cs, err = tx.ListCases(context.Background(), store.CaseOpen, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("%d open cases, want the duplicate's one", len(cs))
	}
	adj := e.client()
	adj.signIn(consent.Adjudicator, consent.Deduplication)
	p := adj.get("/ui/cases/" + cs[0].ID)
	if p.status != 200 {
		t.Fatalf("case page: %d", p.status)
	}
	svgs := regexp.MustCompile(`(?s)<svg[^>]*data-minutiae="(\d+)"[^>]*>(.*?)</svg>`).FindAllStringSubmatch(p.body, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d minutiae drawings, want the pair side by side\n%s", len(svgs), p.body)
	}
	for _, s := range svgs {
		n, _ := strconv.Atoi(s[1])
		if circles := regexp.MustCompile(`<circle `).FindAllString(s[2], -1); n < 8 || len(circles) != n {
			t.Errorf("drawing says %s minutiae and has %d circles", s[1], len(circles))
		}
	}
	for _, s := range svgs {
		if strings.Contains(s[0], "style") {
			t.Errorf("a drawing uses inline style, which the CSP refuses: %.200s", s[0])
		}
	}
	if !p.has(`Right index finger: \d+ minutiae`) {
		t.Errorf("no caption from the catalogue")
	}

	// Someone who declined fingerprint deduplication: no drawing.
	other := e.resolve(reg.register(adultForm("Other", "1972-02-02", "consent.identity.registration", "consent.face.deduplication")).attr("data-person-number"))
	if err := e.db.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.OpenCase(context.Background(), store.Case{ID: "case-declined", Status: store.CaseOpen, PersonA: pids[0], PersonB: other, Score: 9, Modalities: "fingerprint", CreatedAt: e.clock.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if p := adj.get("/ui/cases/case-declined"); p.status != 200 || p.has(`data-minutiae=`) {
		t.Errorf("case with a declined fingerprint: %d, drawing shown: %v", p.status, p.has(`data-minutiae=`))
	}
}
