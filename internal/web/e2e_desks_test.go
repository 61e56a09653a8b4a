package web

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/datasets"
	"github.com/chromedp/chromedp"
)

// signInAs signs the browser in with role's key and picks the desk.
func (b *browser) signInAs(role consent.Role, desk consent.Purpose) {
	b.t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	b.do("sign in as "+string(role), chromedp.Navigate(b.url("/ui/login")), chromedp.WaitVisible(css(`input[name="key"]`)),
		chromedp.SendKeys(css(`input[name="key"]`), b.e.keys[role]), chromedp.Submit(css(`input[name="key"]`)),
		chromedp.WaitVisible(css(`[data-role="`+string(role)+`"]`)))
	if desk != "" {
		b.do("desk "+string(desk), chromedp.Navigate(b.url("/ui/desk")), chromedp.WaitVisible(css(`input[name="purpose"]`)),
			chromedp.Click(css(`input[name="purpose"][value="`+string(desk)+`"]`)), chromedp.Submit(css(`input[name="purpose"]`)),
			chromedp.WaitVisible(css(`[data-desk="`+string(desk)+`"]`)))
	}
}

// TestBrowserDesks: a clinician records an exam for a person who declined
// everything; a registrar captures one finger for two people and a case
// appears (no other person's data shown); the adjudicator decides it; a
// verifier gets match, no match and not enrolled; the auditor verifies the
// checkpoint in the browser; the admin creates a key (shown once) and
// revokes it. In English and in Arabic, every page passes axe, is in the
// language's direction and fits a 360 px screen.
func TestBrowserDesks(t *testing.T) {
	dir := datasets.FingerprintSet(t, "fvc2002/db1_b")
	for _, lang := range uiLangs {
		t.Run(lang, func(t *testing.T) { desks(t, dir, lang) })
	}
}

func desks(t *testing.T, dir, lang string) {
	e := newEnv(t)
	b := newBrowser(t, e)
	b.useLang(lang)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	finger := func(f, i int) string { return filepath.Join(dir, fmt.Sprintf("%d_%d.tif", f, i)) }

	// Setup through the registration desk over HTTP (tested elsewhere).
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	bio := []string{"consent.identity.registration", "consent.fingerprint.verification", "consent.fingerprint.deduplication"}
	first := reg.register(adultForm("Kwame", "1966-06-06", bio...)).attr("data-person-number")
	second := reg.register(adultForm("Kojo", "1990-09-09", bio...)).attr("data-person-number")
	refuser := reg.register(adultForm("Abena", "1992-02-02", "consent.identity.registration")).attr("data-person-number")

	// Clinician: care for someone who declined every data use but registration.
	b.signInAs(consent.Clinician, "")
	b.page("/ui/persons/"+url.PathEscape(compactNumber(refuser))+"/exams", `select[name="blood_type"]`, "exams")
	b.do("record an exam", chromedp.SetValue(css(`select[name="blood_type"]`), "B+"), chromedp.SendKeys(css(`input[name="height_cm"]`), "163.5"),
		chromedp.SendKeys(css(`input[name="systolic"]`), "118"), chromedp.SendKeys(css(`input[name="diastolic"]`), "76"),
		chromedp.Click(css(`button[name="record"]`)), chromedp.WaitVisible(css(`[data-exam-saved="true"]`)), chromedp.WaitVisible(css(`tr[data-exam]`)))
	b.checked("exams-recorded")
	if got := b.eval(`document.querySelector('tr[data-exam]').textContent`); lang == "en" && !containsAll(got, "B+", "163.5", "118/76") {
		t.Errorf("exam history row %q", got)
	}

	// Registrar at the deduplication desk: the same finger for two people.
	b.signInAs(consent.Registrar, consent.Deduplication)
	b.page("/ui/persons/"+compactNumber(first)+"/capture", `input[name="data"]`, "capture")
	b.do("capture first", chromedp.SetValue(css(`select[name="position"]`), "right_index"), chromedp.SetUploadFiles(css(`input[name="data"]`), []string{finger(101, 1)}),
		chromedp.Click(css(`button[name="capture"]`)), chromedp.WaitVisible(css(`[data-capture-result]`)))
	if got := b.attr(`[data-capture-result]`, "data-capture-result"); got != "enrolled" {
		t.Fatalf("first capture: %s", got)
	}
	b.do("capture second", chromedp.Navigate(b.url("/ui/persons/"+compactNumber(second)+"/capture")), chromedp.WaitVisible(css(`input[name="data"]`)),
		chromedp.SetValue(css(`select[name="position"]`), "right_index"), chromedp.SetUploadFiles(css(`input[name="data"]`), []string{finger(101, 2)}),
		chromedp.Click(css(`button[name="capture"]`)), chromedp.WaitVisible(css(`[data-capture-result]`)))
	if got := b.attr(`[data-capture-result]`, "data-capture-result"); got != "duplicate" {
		t.Fatalf("second capture of the same finger: %s", got)
	}
	b.checked("capture-duplicate")
	if b.eval(`String(document.body.textContent.includes('Kwame'))`) != "false" {
		t.Errorf("the registrar sees the other person's name")
	}
	// A capture the quality check refuses: the page says so and invites a retry.
	tiny, err := filepath.Abs("../biometric/fingerprint/testdata/tiny.png")
	if err != nil {
		t.Fatal(err)
	}
	b.do("capture a poor image", chromedp.Navigate(b.url("/ui/persons/"+compactNumber(first)+"/capture")), chromedp.WaitVisible(css(`input[name="data"]`)),
		chromedp.SetValue(css(`select[name="position"]`), "left_index"), chromedp.SetUploadFiles(css(`input[name="data"]`), []string{tiny}),
		chromedp.Click(css(`button[name="capture"]`)), chromedp.WaitVisible(css(`p[data-error-code]`)))
	b.checked("capture-retry")
	if got := b.attr(`[data-person-number]`, "data-person-number"); got != first {
		t.Errorf("the retry page is for person %q, want %q", got, first)
	}

	// Adjudicator: the case, side by side, decided.
	b.signInAs(consent.Adjudicator, "")
	b.page("/ui/cases", `tr[data-case]`, "cases")
	caseID := b.attr(`tr[data-case]`, "data-case")
	b.page("/ui/cases/"+caseID, `input[name="decision"]`, "case")
	if n := len(b.attrs(`[data-case-side]`, "data-case-side")); n != 2 {
		t.Fatalf("case shows %d sides", n)
	}
	b.do("decide", chromedp.Click(css(`input[name="decision"][value="different"]`)), chromedp.SendKeys(css(`textarea[name="note"]`), "different ages"),
		chromedp.Click(css(`button[name="decide"]`)), chromedp.WaitVisible(css(`[data-cases="0"]`)))
	b.checked("cases-empty")

	// Verifier: match, no match, not enrolled.
	b.signInAs(consent.Verifier, "")
	b.page("/ui/verify", `input[name="person_number"]`, "verify")
	for _, c := range []struct{ number, position, file, want string }{
		{first, "right_index", finger(101, 3), "match"},
		{first, "right_index", finger(102, 1), "no_match"},
		{first, "left_thumb", finger(101, 3), "not_enrolled"},
	} {
		b.do("verify", chromedp.Navigate(b.url("/ui/verify")), chromedp.WaitVisible(css(`input[name="person_number"]`)),
			chromedp.SendKeys(css(`input[name="person_number"]`), c.number), chromedp.SetValue(css(`select[name="position"]`), c.position),
			chromedp.SetUploadFiles(css(`input[name="data"]`), []string{c.file}), chromedp.Click(css(`button[name="verify"]`)),
			chromedp.WaitVisible(css(`[data-verify-result]`)))
		if got := b.attr(`[data-verify-result]`, "data-verify-result"); got != c.want {
			t.Errorf("verify %s with %s: %s, want %s", c.position, filepath.Base(c.file), got, c.want)
		}
		b.checked("verify-" + c.want)
	}

	// Auditor: the checkpoint verified in the browser.
	b.signInAs(consent.Auditor, "")
	b.page("/ui/audit", `[data-verify-checkpoint]`, "audit")
	b.do("verify checkpoint", chromedp.Click(css(`[data-verify-checkpoint]`)), chromedp.WaitVisible(css(`[data-checkpoint-status="verified"],[data-checkpoint-status="failed"]`)))
	if got := b.attr(`#checkpoint-status`, "data-checkpoint-status"); got != "verified" {
		t.Errorf("auditor's checkpoint check: %s", got)
	}
	b.checked("audit-verified")

	// Admin: a key shown once, then revoked.
	b.signInAs(consent.Admin, "")
	b.page("/ui/admin", `select[name="role"]`, "admin")
	b.do("create key", chromedp.SetValue(css(`select[name="role"]`), "verifier"), chromedp.SendKeys(css(`input[name="site"]`), "s1"),
		chromedp.SendKeys(css(`input[name="name"]`), "desk 4"), chromedp.Click(css(`button[name="create_key"]`)), chromedp.WaitVisible(css(`[data-new-key]`)))
	b.checked("admin-created")
	key, keyID := b.attr(`[data-new-key]`, "data-new-key"), b.attr(`[data-new-key]`, "data-new-key-for")
	if _, err := e.reg.Authenticate(t.Context(), key); err != nil {
		t.Fatalf("the new key does not sign in: %v", err)
	}
	b.do("list again", chromedp.Navigate(b.url("/ui/admin")), chromedp.WaitVisible(css(`select[name="role"]`)))
	if n := len(b.attrs(`[data-new-key]`, "data-new-key")); n != 0 {
		t.Errorf("the key is shown again")
	}
	b.do("revoke", chromedp.Click(css(`button[name="revoke"][value="`+keyID+`"]`)), chromedp.WaitVisible(css(`tr[data-operator="`+keyID+`"][data-revoked="true"]`)))
	if _, err := e.reg.Authenticate(t.Context(), key); err == nil {
		t.Errorf("a revoked key still signs in")
	}
	b.checked("admin-revoked")
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !contains(s, x) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
