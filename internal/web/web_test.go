package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

func TestRootRedirectsToUI(t *testing.T) {
	e := newEnv(t)
	p := e.client().get("/")
	if p.status != http.StatusFound || p.header.Get("Location") != "/ui/" {
		t.Fatalf("GET / = %d %q, want 302 to /ui/", p.status, p.header.Get("Location"))
	}
	if p := e.client().get("/ui/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
		t.Fatalf("GET /ui/ signed out = %d %q, want 303 to /ui/login", p.status, p.header.Get("Location"))
	}
	// The API is still there, behind the same handler.
	if p := e.client().get("/healthz"); p.status != http.StatusOK {
		t.Fatalf("GET /healthz = %d", p.status)
	}
}

func TestSecurityHeadersAndNonce(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	a, b := c.get("/ui/login"), c.get("/ui/login")
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	nonce := a.attr("nonce")
	if nonce == "" || !strings.Contains(csp, "'nonce-"+nonce+"'") {
		t.Fatalf("script nonce %q not in CSP %q", nonce, csp)
	}
	if nonce == b.attr("nonce") {
		t.Errorf("two requests got the same nonce %q", nonce)
	}
	if a.has(`<script>`) || a.has(`style="`) || a.has(` on[a-z]+="`) {
		t.Errorf("login page has inline script, style or handler")
	}
	if !a.has(`<input id="key" name="key"`) {
		t.Errorf("login page has no input named key")
	}
	// A cross-site form post is refused before any handler runs.
	rq, _ := http.NewRequest("POST", e.srv.URL+"/ui/login", strings.NewReader("key=x"))
	rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rq.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := c.send(rq); p.status != http.StatusForbidden {
		t.Errorf("cross-site post = %d, want 403", p.status)
	}
}

func TestLanguageChoice(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path, accept, wantLang, wantDir, wantText string
	}{
		{"default", "/ui/login", "", "en", "ltr", "Operator sign-in"},
		{"accept-language", "/ui/login", "fr-CA,fr;q=0.9,en;q=0.5", "fr", "ltr", "Connexion des agents"},
		{"query", "/ui/login?lang=ar", "fr", "ar", "rtl", "دخول الموظفين"},
		{"portal in arabic", "/portal?lang=ar", "", "ar", "rtl", "بوابتك"},
		{"unknown falls back", "/ui/login?lang=xx", "", "en", "ltr", "Operator sign-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.client().get(tt.path, "Accept-Language", tt.accept)
			if !p.has(`<html lang="` + tt.wantLang + `" dir="` + tt.wantDir + `">`) {
				t.Errorf("want lang %s dir %s; page starts %.200s", tt.wantLang, tt.wantDir, p.body)
			}
			if !strings.Contains(p.body, tt.wantText) {
				t.Errorf("page lacks %q", tt.wantText)
			}
		})
	}
	// ?lang= sets a cookie that later pages follow, over Accept-Language.
	c := e.client()
	c.get("/ui/login?lang=fr")
	if p := c.get("/portal", "Accept-Language", "ar"); !p.has(`lang="fr"`) {
		t.Errorf("the language cookie was not followed")
	}
}

func TestSignInSessionAndDesk(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	if p := c.post("/ui/login", url.Values{"key": {"assent_wrong"}}); p.status != http.StatusUnauthorized || !p.has(`data-error-code="unauthenticated"`) {
		t.Fatalf("bad key: %d", p.status)
	}
	p := c.post("/ui/login", url.Values{"key": {e.keys[consent.Registrar]}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", p.status)
	}
	ck := p.header.Get("Set-Cookie")
	for _, want := range []string{"assent_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(ck, want) {
			t.Errorf("session cookie %q lacks %s", ck, want)
		}
	}
	if strings.Contains(ck, e.keys[consent.Registrar]) {
		t.Fatalf("the cookie carries the API key")
	}
	// A registrar has several desks: personal pages wait for the choice.
	if p := c.get("/ui/register"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/desk" {
		t.Fatalf("register before a desk: %d %s", p.status, p.header.Get("Location"))
	}
	// A desk the role may not declare is not taken.
	c.post("/ui/desk", url.Values{"purpose": {"care"}})
	if p := c.get("/ui/"); !p.has(`data-desk=""`) {
		t.Fatalf("care desk taken by a registrar")
	}
	c.post("/ui/desk", url.Values{"purpose": {"registration"}})
	for _, path := range []string{"/ui/", "/ui/register", "/ui/find", "/ui/households/new"} {
		if p := c.get(path); p.status != http.StatusOK || !p.has(`data-desk="registration"`) {
			t.Errorf("%s: status %d, desk not shown", path, p.status)
		}
	}
	// Idle for more than 30 minutes: signed out.
	e.clock.Advance(IdleTimeout + time.Second)
	if p := c.get("/ui/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
		t.Fatalf("after idle timeout: %d %s", p.status, p.header.Get("Location"))
	}
	// Sign-out ends the session on the server.
	c.signIn(consent.Clinician, "")
	if p := c.get("/ui/"); !p.has(`data-desk="care"`) {
		t.Fatalf("clinician's only desk is not care")
	}
	c.post("/ui/logout", nil)
	if p := c.get("/ui/"); p.status != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", p.status)
	}
}

func TestPasswordSignIn(t *testing.T) {
	e := newEnv(t)
	admin := e.client()
	admin.signIn(consent.Admin, "")
	ops, err := e.reg.ListOperators(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var clin string
	for _, o := range ops {
		if o.Role == string(consent.Clinician) {
			clin = o.ID
		}
	}
	if p := admin.post("/ui/admin/keys/password", url.Values{"id": {clin}, "user": {"dr.mensah"}, "password": {"short"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", p.status)
	}
	if p := admin.post("/ui/admin/keys/password", url.Values{"id": {clin}, "user": {"dr.mensah"}, "password": {"a long pass phrase"}}); p.status != http.StatusSeeOther {
		t.Fatalf("set password: %d", p.status)
	}
	// Only an admin sets passwords.
	other := e.client()
	other.signIn(consent.Registrar, consent.Registration)
	if p := other.post("/ui/admin/keys/password", url.Values{"id": {clin}, "user": {"x.y"}, "password": {"another long one"}}); p.status != http.StatusForbidden {
		t.Fatalf("a registrar set a password: %d", p.status)
	}
	c := e.client()
	if p := c.post("/ui/login", url.Values{"user": {"dr.mensah"}, "password": {"a long pass phrase!"}}); p.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", p.status)
	}
	if p := c.post("/ui/login", url.Values{"user": {"DR.MENSAH"}, "password": {"a long pass phrase"}}); p.status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", p.status)
	}
	if p := c.get("/ui/"); !p.has(`data-role="clinician"`) || !p.has(`data-desk="care"`) {
		t.Fatalf("signed in by password, the home page lacks the role or desk")
	}
	// Revoking the operator ends the password session at the next request.
	if p := admin.post("/ui/admin/keys/revoke", url.Values{"id": {clin}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := c.get("/ui/"); p.status != http.StatusSeeOther {
		t.Fatalf("a revoked operator's session lives on: %d", p.status)
	}
	// Repeated failures lock the name.
	var last page
	for i := 0; i < 6; i++ {
		last = c.post("/ui/login", url.Values{"user": {"someone"}, "password": {"not the password"}})
	}
	if last.status != http.StatusTooManyRequests || !last.has(`data-error-code="locked"`) {
		t.Fatalf("after 6 failures: %d", last.status)
	}
}
