package web

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/assent-registry/assent/internal/consent"
)

// TestBrowserReports: the programme manager signs in and lands on the
// reports; every report, in English and in Arabic (right to left, charts
// left to right), passes axe in chromium and fits 360 px.
func TestBrowserReports(t *testing.T) {
	for _, lang := range uiLangs {
		t.Run(lang, func(t *testing.T) { browserReports(t, lang) })
	}
}

func browserReports(t *testing.T, lang string) {
	e := reportsEnv(t)
	b := newBrowser(t, e)
	b.useLang(lang)
	b.signInAs(consent.Manager, "")
	if got := b.attr(`section[data-report]`, "data-report"); got != "coverage" {
		t.Errorf("the manager landed on %q, want the coverage report", got)
	}
	b.checked("reports-coverage")
	for _, kind := range []string{"consent", "exclusion", "register"} {
		b.page("/ui/reports?kind="+kind+"&area=REG", `section[data-report="`+kind+`"]`, "reports-"+kind)
	}
	b.do("consent report, every area", chromedp.Navigate(b.url("/ui/reports?kind=consent")), chromedp.WaitVisible(chromedp.CSS(`section[data-report="consent"]`)))
	if got := b.attr(`tr[data-site="s1"][data-pair="fingerprint/verification"] strong[data-flagged]`, "data-flagged"); got != "no_declines" {
		t.Errorf("consent report in %s: s1 flag %q, want no_declines", lang, got)
	}
}
