package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/httpapi"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
)

// env is the web UI and the API over a fresh SQLite store, served by
// httptest, with one key per operator role (all at site "s1" but admin and
// auditor).
type env struct {
	t     testing.TB
	reg   *registry.Registry
	db    store.Store
	ui    *Server
	srv   *httptest.Server
	keys  map[consent.Role]string
	clock *clock
}

// clock is the tests' settable clock.
type clock = registrytest.Clock

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, registrytest.Options{})
}

// newEnvWith is newEnv with registry options (the clock is always time.Now).
func newEnvWith(t testing.TB, opt registrytest.Options) *env {
	t.Helper()
	opt.Clock = time.Now
	r := registrytest.New(t, opt)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := registrytest.NewClock(time.Now())
	ui, err := New(r.Reg, Options{Logger: log, API: httpapi.New(r.Reg, httpapi.Options{Logger: log}), Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, reg: r.Reg, db: r.DB, ui: ui, keys: r.Keys, clock: c}
	e.srv = httptest.NewServer(ui)
	t.Cleanup(e.srv.Close)
	return e
}

// client is one browser-like HTTP client with its own cookies, not
// following redirects (tests look at them).
type client struct {
	e  *env
	hc *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

// has reports whether the page matches the regular expression re.
func (p page) has(re string) bool { return regexp.MustCompile(re).MatchString(p.body) }

// attr returns the value of the first attribute name="..." on the page.
func (p page) attr(name string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (c *client) get(path string, hdr ...string) page {
	c.e.t.Helper()
	rq, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		rq.Header.Set(hdr[i], hdr[i+1])
	}
	return c.send(rq)
}

func (c *client) post(path string, form url.Values) page {
	c.e.t.Helper()
	rq, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(form.Encode()))
	rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rq.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.send(rq)
}

// upload posts a multipart form with one file in the field "data".
func (c *client) upload(path string, fields url.Values, file []byte) page {
	c.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("data", "capture.png")
	_, _ = fw.Write(file)
	_ = mw.Close()
	rq, _ := http.NewRequest("POST", c.e.srv.URL+path, &buf)
	rq.Header.Set("Content-Type", mw.FormDataContentType())
	rq.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.send(rq)
}

func (c *client) send(rq *http.Request) page {
	c.e.t.Helper()
	res, err := c.hc.Do(rq)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

// signIn signs c in as role and, when purpose is given, picks that desk.
func (c *client) signIn(role consent.Role, purpose consent.Purpose) {
	c.e.t.Helper()
	if p := c.post("/ui/login", url.Values{"key": {c.e.keys[role]}}); p.status != http.StatusSeeOther {
		c.e.t.Fatalf("sign-in as %s: status %d", role, p.status)
	}
	if purpose != "" {
		if p := c.post("/ui/desk", url.Values{"purpose": {string(purpose)}}); p.status != http.StatusSeeOther {
			c.e.t.Fatalf("desk %s for %s: status %d", purpose, role, p.status)
		}
	}
}

// resolve returns the record id of a person number.
func (e *env) resolve(number string) string {
	e.t.Helper()
	id, err := e.reg.ResolvePerson(context.Background(), number)
	if err != nil {
		e.t.Fatalf("resolve %q: %v", number, err)
	}
	return id
}

// auditSize is the number of audit entries so far.
func (e *env) auditSize() uint64 {
	e.t.Helper()
	var n uint64
	err := e.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.AuditSize(context.Background())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// adultForm is a complete registration form: an adult, every choice
// answered (granted for the pairs in grant, declined for the rest).
func adultForm(given, birth string, grant ...string) url.Values {
	v := url.Values{"given_name": {given}, "family_name": {"Okafor"}, "birth_date": {birth}, "sex": {"female"}, "area_code": {"A1"}, "language": {"en"}}
	for _, p := range askedPairs() {
		ans := "declined"
		for _, g := range grant {
			if g == p.Name() {
				ans = "granted"
			}
		}
		v.Set(p.Name(), ans)
	}
	return v
}

// register runs the whole registration (review, then confirm) and returns
// the receipt page.
func (c *client) register(form url.Values) page {
	c.e.t.Helper()
	if p := c.post("/ui/register", form); p.status != http.StatusOK || !p.has(`action="/ui/register/confirm"`) {
		c.e.t.Fatalf("review: status %d\n%s", p.status, p.body)
	}
	p := c.post("/ui/register/confirm", form)
	if p.status != http.StatusCreated {
		c.e.t.Fatalf("confirm: status %d\n%s", p.status, p.body)
	}
	return p
}
