package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Keyboard-only use: the test presses keys through the DevTools input
// domain (the events a physical keyboard makes), never clicks and never
// submits a form or sets a value from script. Scripts only read the page:
// which element has the focus, whether its focus indicator is drawn, what
// a control holds.

// focusState describes the focused element for the keyboard tests:
// "match" when it matches sel, "invisible ..." when it draws no focus
// indicator (no outline and no box shadow), else "at ..." naming it.
const focusStateJS = `(function(sel){
	var e = document.activeElement;
	if (!e || e === document.body) return 'at body';
	var d = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '') + (e.getAttribute('href') ? '[href=' + e.getAttribute('href') + ']' : '');
	var cs = getComputedStyle(e);
	var outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
	if (!outline && cs.boxShadow === 'none') return 'invisible ' + d;
	return e.matches(sel) ? 'match' : 'at ' + d;
})(%q)`

// press sends keys to the focused element.
func (b *browser) press(keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	b.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys, opts...))
}

// tabTo presses Tab (Shift+Tab when back) until the focused element matches
// sel. Every element the focus stops on must show a visible focus
// indicator; a page where sel cannot be reached by Tab fails the test.
func (b *browser) tabTo(sel string, back bool) {
	b.t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	var path []string
	for range 80 {
		b.press(kb.Tab, opts...)
		st := b.eval(fmt.Sprintf(focusStateJS, sel))
		switch {
		case st == "match":
			return
		case strings.HasPrefix(st, "invisible "):
			b.t.Fatalf("focus on %s is not visible (no outline, no box shadow)", strings.TrimPrefix(st, "invisible "))
		}
		path = append(path, strings.TrimPrefix(st, "at "))
	}
	b.t.Fatalf("%s is not reachable with the keyboard; the focus went %s", sel, strings.Join(path, " > "))
}

// typeInto tabs to the input sel and types text into it.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.tabTo(sel, false)
	b.press(text)
	if got := b.eval(`document.activeElement.value`); got != text {
		b.t.Fatalf("typed %q into %s, it holds %q", text, sel, got)
	}
}

// choose tabs to the select sel and presses the down arrow until it holds
// value (a closed select changes its choice with the arrow keys).
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	b.tabTo(sel, false)
	for range 30 {
		if b.eval(`document.activeElement.value`) == value {
			return
		}
		b.press(kb.ArrowDown)
	}
	b.t.Fatalf("%s: the arrow keys never reached %q", sel, value)
}

// pick tabs into the radio group name and checks value: Space on the
// focused radio, or the arrow keys to move through the group.
func (b *browser) pick(name, value string) {
	b.t.Helper()
	b.tabTo(`input[type="radio"][name="`+name+`"]`, false)
	for range 10 {
		if b.eval(`document.activeElement.value`) == value {
			b.press(" ")
			break
		}
		b.press(kb.ArrowDown)
	}
	q := fmt.Sprintf(`(document.querySelector('input[name=%q]:checked') || {}).value || ''`, name)
	if got := b.eval(q); got != value {
		b.t.Fatalf("radio group %s: %q checked with the keyboard, want %q", name, got, value)
	}
}

// enterAndWait presses Enter on the focused control and waits for sel.
func (b *browser) enterAndWait(sel string) {
	b.t.Helper()
	b.do("Enter, then "+sel, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// TestBrowserKeyboardOnly: a registrar completes the whole registration
// flow with the keyboard alone (Tab, Shift+Tab, Space, Enter, arrow keys
// and typed text): sign in with the key, choose the registration desk,
// search for the person by name and birth date (no one yet), go home,
// create a household, open its "register a member" link, fill the form and
// answer every consent question (some granted, some declined), review,
// store, and reach the receipt with its print button. Every focus stop
// shows a visible focus indicator.
func TestBrowserKeyboardOnly(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Sign in: the key input, typed, Enter submits.
	b.do("open the sign-in page", chromedp.Navigate(b.url("/ui/login?lang=en")), chromedp.WaitVisible(css(`input[name="key"]`)))
	b.typeInto(`input[name="key"]`, e.keys[consent.Registrar])
	b.enterAndWait(`[data-role="registrar"]`)

	// The desk: from the home page's link, a radio group, the submit button.
	b.tabTo(`main a[href="/ui/desk"]`, false)
	b.enterAndWait(`input[name="purpose"]`)
	b.pick("purpose", string(consent.Registration))
	b.tabTo(`main button[type="submit"]`, false)
	b.enterAndWait(`[data-desk="registration"]`)

	// Find by name and birth date (a date input typed digit by digit): no one.
	b.tabTo(`main a[href="/ui/find"]`, false)
	b.enterAndWait(`input[name="given_name"]`)
	b.typeInto(`#given_name`, "Amina")
	b.typeInto(`#family_name`, "Diallo")
	b.tabTo(`#birth_date`, false)
	b.press("04121988") // month, day, year: the date input's order in English
	if got := b.eval(`document.activeElement.value`); got != "1988-04-12" {
		t.Fatalf("the birth date typed with the keyboard reads %q, want 1988-04-12", got)
	}
	b.enterAndWait(`[data-results="0"]`)

	// Back to the header's home link with Shift+Tab.
	b.tabTo(`header a[href="/ui/"]`, true)
	b.enterAndWait(`main a[href="/ui/households/new"]`)

	// A household.
	b.tabTo(`main a[href="/ui/households/new"]`, false)
	b.enterAndWait(`input[name="address"]`)
	b.typeInto(`#address`, "12 Acacia Avenue")
	b.typeInto(`#area_code`, "A1")
	b.enterAndWait(`[data-household-id]`)
	hid := b.attr(`[data-household-id]`, "data-household-id")

	// Register a member of it: the form, every question answered.
	b.tabTo(`main a[href^="/ui/register?household_id="]`, false)
	b.enterAndWait(`input[name="given_name"]`)
	if got := b.eval(`document.querySelector('input[name="household_id"]').value`); got != hid {
		t.Fatalf("the register link did not carry the household: %q", got)
	}
	b.typeInto(`#given_name`, "Amina")
	b.typeInto(`#family_name`, "Diallo")
	b.typeInto(`#birth_date`, "1988-04")
	b.tabTo(`#birth_date_estimated`, false)
	b.press(" ")
	b.choose(`#sex`, "female")
	b.typeInto(`#area_code`, "A1")
	b.choose(`#relationship`, "head")
	grants := map[string]bool{"consent.identity.registration": true, "consent.face.verification": true, "consent.health.research": true}
	for _, p := range askedPairs() {
		ans := "declined"
		if grants[p.Name()] {
			ans = "granted"
		}
		b.pick(p.Name(), ans)
	}
	b.tabTo(`button[name="review"]`, false)
	b.enterAndWait(`button[name="confirm"]`)

	// The confirmation reads every answer back; Space on "Save" stores.
	for _, p := range askedPairs() {
		want := "declined"
		if grants[p.Name()] {
			want = "granted"
		}
		if got := b.attr(`tr[data-pair="`+p.Name()+`"]`, "data-answer"); got != want {
			t.Errorf("confirmation shows %s = %q, answered %q", p.Name(), got, want)
		}
	}
	b.tabTo(`button[name="confirm"]`, false)
	b.do("Space on save", chromedp.KeyEvent(" "), chromedp.WaitVisible(css(`[data-person-number]`)))

	// The receipt, and its print button within reach.
	number := b.attr(`[data-person-number]`, "data-person-number")
	if number == "" || b.attr(`[data-portal-code]`, "data-portal-code") == "" {
		t.Fatal("the receipt lacks the person number or the portal code")
	}
	b.tabTo(`button[data-print]`, false)
	b.check("receipt (keyboard)")

	id := e.resolve(number)
	actor, err := e.reg.Authenticate(t.Context(), e.keys[consent.Registrar])
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.reg.GetPerson(t.Context(), actor, consent.Registration, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.BirthDate != "1988-04" || !p.BirthDateEstimated || p.HouseholdID != hid || p.Sex != "female" {
		t.Errorf("stored person %+v: the keyboard's answers were not all kept", p)
	}
}
