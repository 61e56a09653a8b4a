package web

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAxeFindsAMissingLabel: the accessibility check can fail (an input
// without a label is a critical violation), so a green run means something.
func TestAxeFindsAMissingLabel(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e)
	if b.axe == "" {
		t.Skip("axe-core not installed")
	}
	b.do("open", chromedp.Navigate(b.url("/ui/login")), chromedp.WaitVisible(chromedp.CSS(`input[name="key"]`)))
	b.eval(`document.querySelector('main').insertAdjacentHTML('beforeend', '<input type="text" name="unlabelled">'); 'ok'`)
	vs := b.violations()
	found := false
	for _, v := range vs {
		if v.ID == "label" && (v.Impact == "critical" || v.Impact == "serious") {
			found = true
		}
	}
	if !found {
		t.Fatalf("axe did not report the unlabelled input: %+v", vs)
	}
}
