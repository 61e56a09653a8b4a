package web

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
)

// TestAuditorSeesWithdrawals: people withdraw a consent in the portal and
// the auditor's page counts the withdrawals on the portal's row (once the
// count reaches the smallest published cell; below it the cell says
// "hidden", never a number), beside refusals by reason and site.
func TestAuditorSeesWithdrawals(t *testing.T) {
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	auditor := e.client()
	auditor.signIn(consent.Auditor, "")
	// A withdrawal in the portal is the person's own act, at no site: it
	// is counted on the portal's row (site "").
	cell := `<tr data-site="" data-category="face">`
	withdrawn := func() string {
		t.Helper()
		p := auditor.get("/ui/audit")
		if p.status != http.StatusOK {
			t.Fatalf("audit page: %d", p.status)
		}
		m := regexp.MustCompile(regexp.QuoteMeta(cell) + `(?s:.*?)<td data-count="withdrawn">([^<]*)</td>`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no face row for the portal on the audit page:\n%s", p.body)
		}
		return m[1]
	}
	for i := range consent.DefaultMinCell {
		rc := reg.register(adultForm("Withdrawer"+strconv.Itoa(i), "1980-01-0"+strconv.Itoa(1+i%9), "consent.identity.registration", "consent.face.verification"))
		person := e.client()
		if p := person.post("/portal", url.Values{"person_number": {rc.attr("data-person-number")}, "code": {rc.attr("data-portal-code")}}); p.status != http.StatusSeeOther {
			t.Fatalf("portal sign-in %d: %d", i, p.status)
		}
		if p := person.post("/portal/withdraw/confirm", url.Values{"category": {"face"}, "purpose": {"verification"}}); p.status != http.StatusOK || !p.has(`data-withdrawn="consent.face.verification"`) {
			t.Fatalf("withdrawal %d: %d", i, p.status)
		}
		if i == 0 {
			if got := withdrawn(); got != e.ui.cat.pick("en").T("audit.suppressed") {
				t.Errorf("one withdrawal shows %q, want the hidden mark", got)
			}
		}
	}
	if got := withdrawn(); got != strconv.Itoa(consent.DefaultMinCell) {
		t.Errorf("the auditor sees %q face withdrawals in the portal, want %d", got, consent.DefaultMinCell)
	}
	if p := auditor.get("/ui/audit"); !p.has(regexp.QuoteMeta(cell + `<td>` + template.HTMLEscapeString(e.ui.cat.pick("en").T("audit.site_portal")) + `</td>`)) {
		t.Errorf("the portal's row is not named")
	}
	// A refusal is counted by reason and site.
	if p := reg.get("/ui/audit"); p.status != http.StatusForbidden {
		t.Fatalf("registrar on the audit page: %d", p.status)
	}
	reason := template.HTMLEscapeString(e.ui.cat.pick("en").T("err.role_not_allowed"))
	if p := auditor.get("/ui/audit"); !p.has(regexp.QuoteMeta(`<tr data-denial="role_not_allowed"><td>s1</td><td>` + reason + `</td>`)) {
		t.Errorf("the registrar's refusal is not counted by reason (explained) and site")
	}
}
