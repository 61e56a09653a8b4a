package web

import (
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// TestBrowserReports: the programme manager signs in and lands on the
// reports; every report, and the coverage report in Arabic (right to
// left, charts left to right), passes axe in chromium.
func TestBrowserReports(t *testing.T) {
	e := reportsEnv(t)
	b := newBrowser(t, e)
	b.signInAs(consent.Manager, "")
	if got := b.attr(`section[data-report]`, "data-report"); got != "coverage" {
		t.Errorf("the manager landed on %q, want the coverage report", got)
	}
	b.checked("reports-coverage")
	for _, kind := range []string{"consent", "exclusion", "register"} {
		b.page("/ui/reports?kind="+kind+"&area=REG", `section[data-report="`+kind+`"]`, "reports-"+kind)
	}
	b.page("/ui/reports?kind=consent&lang=ar", `section[data-report="consent"]`, "reports-consent-ar")
	if got := b.attr(`tr[data-site="s1"][data-pair="fingerprint/verification"] strong[data-flagged]`, "data-flagged"); got != "no_declines" {
		t.Errorf("Arabic consent report: s1 flag %q, want no_declines", got)
	}
}
