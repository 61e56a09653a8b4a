package web

import (
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/totp"
	"github.com/chromedp/chromedp"
)

// TestBrowserTOTP: the two-step sign-in pages in chromium, in English and
// in Arabic: an operator signs in with a password, turns TOTP on with the
// secret the page shows, turns it off again after typing the password and
// a code, turns it on once more, and the next password sign-in asks for
// the code. Every page passes axe, is in the language's direction and
// fits 360 px.
func TestBrowserTOTP(t *testing.T) {
	for _, lang := range uiLangs {
		t.Run(lang, func(t *testing.T) { browserTOTP(t, lang) })
	}
}

func browserTOTP(t *testing.T, lang string) {
	e := newEnv(t)
	b := newBrowser(t, e)
	b.useLang(lang)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	op, _, err := e.reg.CreateOperator(t.Context(), registry.NewOperator{Role: consent.Clinician, Site: "s1", Name: "Dr Otieno"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.SetOperatorPassword(t.Context(), registry.Actor{Role: consent.Admin}, op.ID, "dr.otieno", "a long pass phrase"); err != nil {
		t.Fatal(err)
	}
	signIn := func() {
		b.do("password sign-in", chromedp.Navigate(b.url("/ui/login")), chromedp.WaitVisible(css(`input[name="user"]`)),
			chromedp.SendKeys(css(`input[name="user"]`), "dr.otieno"), chromedp.SendKeys(css(`input[name="password"]`), "a long pass phrase"),
			chromedp.Submit(css(`input[name="password"]`)))
	}
	turnOn := func() []byte {
		b.do("open the TOTP page", chromedp.Navigate(b.url("/ui/totp")), chromedp.WaitVisible(css(`[data-totp-secret]`)))
		secret, err := totp.DecodeSecret(b.attr(`[data-totp-secret]`, "data-totp-secret"))
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}

	signIn()
	b.do("home", chromedp.WaitVisible(css(`[data-role="clinician"]`)), chromedp.WaitVisible(css(`main a[href="/ui/totp"]`)))
	secret := turnOn()
	b.checked("totp")
	b.do("a wrong first code", chromedp.SendKeys(css(`#code`), wrongCode(secret)), chromedp.Submit(css(`#code`)),
		chromedp.WaitVisible(css(`[data-error-code="invalid_value"]`)))
	b.checked("totp-wrong-code")
	b.do("the right first code", chromedp.SendKeys(css(`#code`), totp.Code(secret, time.Now())), chromedp.Submit(css(`#code`)),
		chromedp.WaitVisible(css(`[data-totp="on"]`)))
	b.checked("totp-on")

	// On: the page offers to replace the app or to turn it off.
	b.do("the TOTP page again", chromedp.Navigate(b.url("/ui/totp")), chromedp.WaitVisible(css(`form[action="/ui/totp/off"]`)))
	b.checked("totp-manage")
	b.do("turn off", chromedp.SendKeys(css(`#off-password`), "a long pass phrase"),
		chromedp.SendKeys(css(`#off-code`), totp.Code(secret, time.Now().Add(totp.Step*time.Second))), chromedp.Submit(css(`#off-code`)),
		chromedp.WaitVisible(css(`[data-totp="off"]`)))
	b.checked("totp-off")

	// On again; the next password sign-in asks for the code.
	secret = turnOn()
	b.do("turn on again", chromedp.SendKeys(css(`#code`), totp.Code(secret, time.Now())), chromedp.Submit(css(`#code`)),
		chromedp.WaitVisible(css(`[data-totp="on"]`)))
	b.do("sign out", chromedp.Navigate(b.url("/ui/")), chromedp.WaitVisible(css(`button[name="logout"]`)), chromedp.Click(css(`button[name="logout"]`)),
		chromedp.WaitVisible(css(`input[name="user"]`)))
	signIn()
	b.do("asked for the code", chromedp.WaitVisible(css(`[data-error-code="code_required"]`)), chromedp.WaitVisible(css(`input[name="code"]`)))
	b.checked("login-code")
	b.do("password and code", chromedp.SendKeys(css(`input[name="password"]`), "a long pass phrase"),
		chromedp.SendKeys(css(`input[name="code"]`), totp.Code(secret, time.Now().Add(totp.Step*time.Second))), chromedp.Submit(css(`input[name="code"]`)),
		chromedp.WaitVisible(css(`[data-role="clinician"]`)))
}
