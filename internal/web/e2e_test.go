package web

import (
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/chromedp/chromedp"
)

// fill types the person's details and answers every consent question in a
// real browser, the way a registrar does: grants for the pairs in grant,
// declines for the rest.
func (b *browser) fillPerson(given, family, birth, sex, household, rel, guardian string, grant ...string) {
	b.t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(css(`input[name="given_name"]`), given),
		chromedp.SendKeys(css(`input[name="family_name"]`), family),
		chromedp.SetValue(css(`input[name="birth_date"]`), birth),
		chromedp.SetValue(css(`select[name="sex"]`), sex),
		chromedp.SendKeys(css(`input[name="area_code"]`), "A1"),
	}
	if household != "" {
		steps = append(steps, chromedp.SetValue(css(`input[name="household_id"]`), household), chromedp.SetValue(css(`select[name="relationship"]`), rel))
	}
	if guardian != "" {
		steps = append(steps, chromedp.SendKeys(css(`input[name="guardian_id"]`), guardian))
	}
	for _, p := range askedPairs() {
		ans := "declined"
		for _, g := range grant {
			if g == p.Name() {
				ans = "granted"
			}
		}
		steps = append(steps, chromedp.Click(css(`input[name="`+p.Name()+`"][value="`+ans+`"]`)))
	}
	b.do("fill the registration form", steps...)
}

// TestBrowserRegistrationToPortal is the registration desk and the portal
// end to end in chromium, in English and in Arabic: a registrar signs in,
// picks the desk, finds no one by name, creates a household, registers an
// adult with some grants and some declines and a minor with her as
// guardian, reads the receipt and the household's page; declining
// registration itself stores nothing; the adult opens the portal from the
// receipt's QR link, sees every access-log entry verified by the page's own
// check, sees a tampered proof reported as failed, and withdraws a consent
// after a confirmation page. Every page passes axe (no serious or critical
// violation), is in the language's direction (right to left in Arabic) and
// fits a 360 px screen.
func TestBrowserRegistrationToPortal(t *testing.T) {
	for _, lang := range uiLangs {
		t.Run(lang, func(t *testing.T) { registrationToPortal(t, lang) })
	}
}

func registrationToPortal(t *testing.T, lang string) {
	e := newEnv(t)
	b := newBrowser(t, e)
	b.useLang(lang)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	b.page("/ui/login", `input[name="key"]`, "login")
	b.do("sign in", chromedp.SendKeys(css(`input[name="key"]`), e.keys[consent.Registrar]), chromedp.Submit(css(`input[name="key"]`)),
		chromedp.WaitVisible(css(`[data-role="registrar"]`)))
	b.page("/ui/desk", `input[name="purpose"]`, "desk")
	b.do("choose the registration desk", chromedp.Click(css(`input[name="purpose"][value="registration"]`)), chromedp.Submit(css(`input[name="purpose"]`)),
		chromedp.WaitVisible(css(`[data-desk="registration"]`)))
	b.checked("home")

	b.page("/ui/find", `input[name="person_number"]`, "find")
	b.do("find by name", chromedp.SendKeys(css(`input[name="given_name"]`), "Amina"), chromedp.SendKeys(css(`input[name="family_name"]`), "Diallo"),
		chromedp.SetValue(css(`input[name="birth_date"]`), "1988-04-12"), chromedp.Click(css(`button[name="find"][value="name"]`)),
		chromedp.WaitVisible(css(`[data-results="0"]`)))
	b.checked("find-none")

	b.page("/ui/households/new", `input[name="address"]`, "household-new")
	b.do("create a household", chromedp.SendKeys(css(`input[name="address"]`), "12 Acacia Avenue"), chromedp.SendKeys(css(`input[name="area_code"]`), "A1"),
		chromedp.Submit(css(`input[name="address"]`)), chromedp.WaitVisible(css(`[data-household-id]`)))
	hid := b.attr(`[data-household-id]`, "data-household-id")

	b.page("/ui/register", `input[name="given_name"]`, "register")
	grants := []string{"consent.identity.registration", "consent.face.verification", "consent.fingerprint.deduplication", "consent.health.research"}
	b.fillPerson("Amina", "Diallo", "1988-04-12", "female", hid, "head", "", grants...)
	b.do("review", chromedp.Click(css(`button[name="review"]`)), chromedp.WaitVisible(css(`button[name="confirm"]`)))
	b.checked("confirm")
	for _, p := range askedPairs() {
		want := "declined"
		for _, g := range grants {
			if g == p.Name() {
				want = "granted"
			}
		}
		if got := b.attr(`tr[data-pair="`+p.Name()+`"]`, "data-answer"); got != want {
			t.Errorf("confirmation shows %s = %q, answered %q", p.Name(), got, want)
		}
	}
	b.do("confirm", chromedp.Click(css(`button[name="confirm"]`)), chromedp.WaitVisible(css(`[data-person-number]`)))
	b.checked("receipt")
	number := b.attr(`[data-person-number]`, "data-person-number")
	code := b.attr(`[data-portal-code]`, "data-portal-code")
	portalURL := b.attr(`[data-portal-url]`, "data-portal-url")
	if number == "" || code == "" || !strings.HasSuffix(portalURL, "/portal?n="+compactNumber(number)) {
		t.Fatalf("receipt: number %q code %q portal link %q", number, code, portalURL)
	}
	if n := len(b.attrs(`figure svg path`, "d")); n != 1 {
		t.Errorf("receipt has %d QR paths", n)
	}
	// The receipt's print stylesheet is A5.
	if got := b.eval(`Array.from(document.styleSheets).flatMap(s => Array.from(s.cssRules)).filter(r => r instanceof CSSPageRule).map(r => r.style.size.toUpperCase()).join()`); got != "A5" {
		t.Errorf("print page size %q, want A5", got)
	}

	// A minor: refused without a guardian, registered with one.
	b.do("open the form again", chromedp.Navigate(b.url("/ui/register")), chromedp.WaitVisible(css(`input[name="given_name"]`)))
	b.fillPerson("Fatou", "Diallo", "2017-09-01", "female", hid, "child", "", "consent.identity.registration")
	b.do("review minor", chromedp.Click(css(`button[name="review"]`)), chromedp.WaitVisible(css(`button[name="confirm"]`)))
	b.do("confirm minor", chromedp.Click(css(`button[name="confirm"]`)), chromedp.WaitVisible(css(`[data-error-code="err.guardian_required"]`)))
	b.checked("register-guardian-required")
	b.do("add the guardian", chromedp.SendKeys(css(`input[name="guardian_id"]`), number),
		chromedp.Click(css(`button[name="review"]`)), chromedp.WaitVisible(css(`button[name="confirm"]`)),
		chromedp.Click(css(`button[name="confirm"]`)), chromedp.WaitVisible(css(`[data-person-number]`)))

	// The household's page: both members, the head marked, its three forms.
	b.page("/ui/households/"+hid, `[data-head="true"]`, "household")
	if n := len(b.attrs(`[data-member]`, "data-member")); n != 2 {
		t.Errorf("the household lists %d members, want 2", n)
	}
	// The person's page, found by number.
	b.do("find by number", chromedp.Navigate(b.url("/ui/find")), chromedp.WaitVisible(css(`input[name="person_number"]`)),
		chromedp.SendKeys(css(`input[name="person_number"]`), number), chromedp.Click(css(`button[name="find"][value="number"]`)),
		chromedp.WaitVisible(css(`#results [data-person-number]`)))
	b.checked("find")
	b.do("open the person", chromedp.Click(css(`#results [data-person-number] a`)), chromedp.WaitVisible(css(`dd[data-person-number]`)))
	b.checked("person")

	// Declining registration itself stores nothing, and says so.
	b.do("open the form for a refusal", chromedp.Navigate(b.url("/ui/register")), chromedp.WaitVisible(css(`input[name="given_name"]`)))
	b.fillPerson("Moussa", "Keita", "1975", "male", "", "", "")
	b.do("review refusal", chromedp.Click(css(`button[name="review"]`)), chromedp.WaitVisible(css(`button[name="confirm"]`)),
		chromedp.Click(css(`button[name="confirm"]`)), chromedp.WaitVisible(css(`[data-registered="false"]`)))
	b.checked("not-registered")

	// A refused page: the error page with its stable code.
	b.do("a page of another role", chromedp.Navigate(b.url("/ui/audit")), chromedp.WaitVisible(css(`[data-error-code]`)))
	if got := b.attr(`[data-error-code]`, "data-error-code"); got != "role_not_allowed" {
		t.Errorf("registrar on the audit page: %q, want role_not_allowed", got)
	}
	b.checked("error")

	// The registration form at 360 px: nothing wider than the screen.
	b.do("narrow", chromedp.EmulateViewport(360, 740), chromedp.Navigate(b.url("/ui/register")), chromedp.WaitVisible(css(`input[name="given_name"]`)))
	if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "360" {
		t.Errorf("the registration form is %s px wide at 360 px", w)
	}
	b.shot("register-360")
	b.do("wide", chromedp.EmulateViewport(1024, 768))

	// The person, from the QR link: the number is filled in.
	b.do("open the QR link", chromedp.Navigate(portalURL), chromedp.WaitVisible(css(`input[name="code"]`)))
	b.checked("portal-login")
	if got := b.eval(`document.querySelector('input[name="person_number"]').value`); got != compactNumber(number) {
		t.Fatalf("portal number prefilled %q, want %q", got, number)
	}
	b.do("portal sign-in", chromedp.SendKeys(css(`input[name="code"]`), code), chromedp.Submit(css(`input[name="code"]`)),
		chromedp.WaitVisible(css(`#log-summary:not([data-log-status="pending"])`)))
	b.checked("portal")
	if st := b.attr(`#log-summary`, "data-log-status"); st != "verified" {
		t.Fatalf("access log status %q, want verified", st)
	}
	statuses := b.attrs(`[data-proof-status]`, "data-proof-status")
	if len(statuses) < 2 {
		t.Fatalf("only %d access-log entries shown", len(statuses))
	}
	for i, s := range statuses {
		if s != "verified" {
			t.Errorf("entry %d: %s", i, s)
		}
	}
	if got, want := b.attr(`#audit-key`, "data-audit-key"), b.attr(`#audit-key`, "data-audit-key-server"); got != want || got == "" {
		t.Errorf("key fingerprint computed in the browser %q, server says %q", got, want)
	}
	if lang == "ar" {
		// The header's first item (the brand) sits at the right edge.
		if right := b.eval(`String(document.querySelector("header > :first-child").getBoundingClientRect().left > window.innerWidth / 2)`); right != "true" {
			t.Errorf("Arabic header does not start on the right")
		}
	}

	// Tampered in transit: the page says so.
	stop := b.tamperAccessLog()
	b.do("reload tampered", chromedp.Navigate(b.url("/portal/me")), chromedp.WaitVisible(css(`#log-summary:not([data-log-status="pending"])`)))
	if st := b.attr(`#log-summary`, "data-log-status"); st != "failed" {
		t.Errorf("tampered access log reported %q", st)
	}
	failed := 0
	for _, s := range b.attrs(`[data-proof-status]`, "data-proof-status") {
		if s == "failed" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d entries failed with one tampered proof, want 1", failed)
	}
	b.checked("portal-tampered")
	stop()

	// Withdraw face/verification: the confirmation says what is destroyed.
	b.do("portal", chromedp.Navigate(b.url("/portal/me")), chromedp.WaitVisible(css(`button[name="withdraw"][value="consent.face.verification"]`)),
		chromedp.Click(css(`button[name="withdraw"][value="consent.face.verification"]`)), chromedp.WaitVisible(css(`button[name="confirm"]`)))
	b.checked("withdraw-confirm")
	if got := b.attr(`[data-destroys]`, "data-destroys"); got != "face" {
		t.Errorf("withdrawing the last face consent destroys %q, want face", got)
	}
	b.do("withdraw", chromedp.Click(css(`button[name="confirm"]`)), chromedp.WaitVisible(css(`[data-withdrawn="consent.face.verification"]`)))
	b.checked("withdraw-done")
	b.do("portal after", chromedp.Navigate(b.url("/portal/me")), chromedp.WaitVisible(css(`tr[data-pair="consent.face.verification"][data-answer="withdrawn"]`)))
}
