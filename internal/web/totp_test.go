package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/totp"
)

// TestTOTPSignIn: an operator signed in by password turns TOTP on with the
// secret the page shows; from then on the password alone asks for a code,
// a wrong code is refused and the right one signs in. An API-key session
// cannot turn it on, and API-key sign-in is unchanged. Turning it on is
// audited; the operator turns it off after typing the password and a
// current code again (audited too), or an admin does.
func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	op, key, err := e.reg.CreateOperator(t.Context(), registry.NewOperator{Role: consent.Clinician, Site: "s1", Name: "Dr Otieno"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.SetOperatorPassword(t.Context(), registry.Actor{Role: consent.Admin}, op.ID, "dr.otieno", "a long pass phrase"); err != nil {
		t.Fatal(err)
	}
	pw := url.Values{"user": {"dr.otieno"}, "password": {"a long pass phrase"}}

	// An API-key session is told to sign in with the password.
	k := e.client()
	if p := k.post("/ui/login", url.Values{"key": {key}}); p.status != http.StatusSeeOther {
		t.Fatalf("key sign-in: %d", p.status)
	}
	if p := k.get("/ui/totp"); p.status != http.StatusForbidden || p.has(`data-totp-secret`) {
		t.Fatalf("TOTP page of a key session: %d", p.status)
	}

	c := e.client()
	if p := c.post("/ui/login", pw); p.status != http.StatusSeeOther {
		t.Fatalf("password sign-in: %d", p.status)
	}
	if p := c.get("/ui/"); !p.has(`href="/ui/totp"`) {
		t.Fatal("home page lacks the two-step sign-in link")
	}
	p := c.get("/ui/totp")
	if p.status != http.StatusOK || !p.has(`<svg`) || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("TOTP page: %d %q", p.status, p.header.Get("Cache-Control"))
	}
	b32 := p.attr("data-totp-secret")
	secret, err := totp.DecodeSecret(b32)
	if err != nil {
		t.Fatalf("secret %q: %v", b32, err)
	}
	// A wrong first code leaves TOTP off and shows the same secret again.
	p = c.post("/ui/totp", url.Values{"secret": {b32}, "code": {wrongCode(secret)}})
	if p.status != http.StatusUnprocessableEntity || p.attr("data-totp-secret") != b32 {
		t.Fatalf("wrong first code: %d", p.status)
	}
	before := e.auditSize()
	if p := c.post("/ui/totp", url.Values{"secret": {b32}, "code": {totp.Code(secret, time.Now())}}); p.status != http.StatusOK || !p.has(`data-totp="on"`) {
		t.Fatalf("turn on: %d", p.status)
	}
	if n := e.auditSize() - before; n != 1 {
		t.Errorf("turning TOTP on left %d audit entries, want 1", n)
	}

	// Turning it off oneself asks for the password and a current code again.
	if p := c.get("/ui/totp"); !p.has(`action="/ui/totp/off"`) {
		t.Fatal("the TOTP page of an operator with TOTP on has no form to turn it off")
	}
	before = e.auditSize()
	next := totp.Code(secret, time.Now().Add(totp.Step*time.Second))
	if p := c.post("/ui/totp/off", url.Values{"password": {"not the pass phrase"}, "code": {next}}); p.status != http.StatusUnauthorized || !p.has(`data-error-code="unauthenticated"`) || !p.has(`data-totp="on"`) {
		t.Fatalf("turn off with a wrong password: %d", p.status)
	}
	if n := e.auditSize() - before; n != 0 {
		t.Errorf("a refused re-authentication left %d audit entries", n)
	}
	if p := c.post("/ui/totp/off", url.Values{"password": {"a long pass phrase"}, "code": {next}}); p.status != http.StatusOK || !p.has(`data-totp="off"`) {
		t.Fatalf("turn off: %d", p.status)
	}
	if n := e.auditSize() - before; n != 1 {
		t.Errorf("turning TOTP off left %d audit entries, want 1", n)
	}
	if p := e.client().post("/ui/login", pw); p.status != http.StatusSeeOther {
		t.Fatalf("the password alone after turning TOTP off: %d", p.status)
	}
	if p := c.post("/ui/totp/off", url.Values{"password": {"a long pass phrase"}, "code": {next}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("turning off a TOTP that is off: %d", p.status)
	}
	// On again, with a new secret.
	b32 = c.get("/ui/totp").attr("data-totp-secret")
	if secret, err = totp.DecodeSecret(b32); err != nil {
		t.Fatal(err)
	}
	if p := c.post("/ui/totp", url.Values{"secret": {b32}, "code": {totp.Code(secret, time.Now())}}); p.status != http.StatusOK || !p.has(`data-totp="on"`) {
		t.Fatalf("turn on again: %d", p.status)
	}
	if p := c.post("/ui/logout", nil); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}

	// The password alone now asks for the code, and opens no session.
	p = c.post("/ui/login", pw)
	if p.status != http.StatusUnauthorized || !p.has(`name="code"`) || !p.has(`data-error-code="code_required"`) {
		t.Fatalf("password without code: %d", p.status)
	}
	if p := c.get("/ui/"); p.status == http.StatusOK {
		t.Fatal("a password without its code signed in")
	}
	withCode := func(code string) url.Values {
		v := url.Values{"code": {code}}
		for k, vs := range pw {
			v[k] = vs
		}
		return v
	}
	if p := c.post("/ui/login", withCode(wrongCode(secret))); p.status != http.StatusUnauthorized || !p.has(`data-error-code="unauthenticated"`) {
		t.Fatalf("wrong code: %d", p.status)
	}
	// The next step's code (the confirming step is used already).
	if p := c.post("/ui/login", withCode(totp.Code(secret, time.Now().Add(totp.Step*time.Second)))); p.status != http.StatusSeeOther {
		t.Fatalf("password and code: %d", p.status)
	}
	if p := c.get("/ui/"); p.status != http.StatusOK || !p.has(`data-totp|href="/ui/totp"`) {
		t.Fatalf("home after two-step sign-in: %d", p.status)
	}
	// An admin turns it off (a lost phone): the password alone signs in again.
	admin := e.client()
	admin.signIn(consent.Admin, "")
	if p := admin.post("/ui/admin/keys/totp-reset", url.Values{"id": {op.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("admin TOTP reset: %d", p.status)
	}
	if p := e.client().post("/ui/login", pw); p.status != http.StatusSeeOther {
		t.Fatalf("password after reset: %d", p.status)
	}
	// API-key sign-in is unchanged.
	if p := e.client().post("/ui/login", url.Values{"key": {key}}); p.status != http.StatusSeeOther {
		t.Fatalf("key sign-in after TOTP: %d", p.status)
	}
}

// wrongCode is a 6-digit code that is not secret's around now.
func wrongCode(secret []byte) string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if _, ok := totp.Verify(secret, c, time.Now(), 0); !ok {
			return c
		}
	}
	panic("unreachable")
}
