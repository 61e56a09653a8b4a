package web

import (
	"bytes"
	"image"
	"image/color/palette"
	"image/png"

	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"golang.org/x/image/draw"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// Browser tests drive Debian's chromium through chromedp. They skip with a
// clear message when chromium is absent, unless CI=true, where they fail.
// Selectors are the contract's (name=, data-*), never CSS classes. A failed
// test saves a screenshot of the page it was on (ASSENT_UI_FAILURES, else
// the system temp directory). With ASSENT_UI_SCREENSHOTS=DIR every page the
// tests name is saved there as PNG (docs/ui/ is made that way).

func chromiumPath() string {
	if p := os.Getenv("ASSENT_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless chromium with a fresh profile.
type browser struct {
	t   *testing.T
	ctx context.Context
	e   *env
	axe string // axe-core source, "" when not installed
	// lang is the interface language the test runs in ("" is English): the
	// screenshots of a language other than English are named NAME-LANG.
	lang string
}

// uiLangs are the languages every page is checked and photographed in:
// English and the right-to-left language.
var uiLangs = []string{"en", "ar"}

// useLang makes lang the browser's interface language (the ?lang= cookie)
// for the rest of the test.
func (b *browser) useLang(lang string) {
	b.t.Helper()
	b.lang = lang
	b.do("language "+lang, chromedp.Navigate(b.url("/portal?lang="+lang)), chromedp.WaitVisible(chromedp.CSS(`input[name="person_number"]`)))
}

func newBrowser(t *testing.T, e *env) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); browser tests must run in CI")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A synthetic camera, allowed without a prompt, for the face capture test.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 8*time.Minute)
	b := &browser{t: t, ctx: ctx, e: e}
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelB()
		cancelA()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.saveFailure()
		}
		cancelC()
		cancelB()
		cancelA()
	})
	axePath := os.Getenv("ASSENT_AXE_JS")
	if axePath == "" {
		axePath = filepath.Join("testdata", "node_modules", "axe-core", "axe.min.js")
	}
	if src, err := os.ReadFile(axePath); err == nil {
		b.axe = string(src)
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("axe-core is not installed (npm ci --prefix internal/web/testdata): %v", err)
	} else {
		t.Logf("axe-core not installed (npm ci --prefix internal/web/testdata): accessibility not checked")
	}
	return b
}

func (b *browser) saveFailure() {
	dir := os.Getenv("ASSENT_UI_FAILURES")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "assent-ui-failures")
	}
	_ = os.MkdirAll(dir, 0o755)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no failure screenshot: %v", err)
		return
	}
	name := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+".png")
	if err := os.WriteFile(name, buf, 0o644); err == nil {
		b.t.Logf("failure screenshot: %s", name)
	}
}

// do runs actions, failing the test with the step that failed.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) url(path string) string { return b.e.srv.URL + path }

// attr reads an attribute of the first element matching the CSS selector.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	r, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("read %s %s: %v", sel, name, err)
	}
	return r.Value
}

// attrs reads an attribute of every element matching the CSS selector.
func (b *browser) attrs(sel, name string) []string {
	b.t.Helper()
	vs, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.getAttribute(%q))`, sel, name)))
	if err != nil {
		b.t.Fatalf("read all %s %s: %v", sel, name, err)
	}
	return vs
}

// eval evaluates a JavaScript expression that yields a string.
func (b *browser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("eval %s: %v", js, err)
	}
	return v
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// check runs axe-core on the page and fails on any serious or critical
// violation. The script is injected through the DevTools protocol for the
// test only; the pages never load it.
func (b *browser) check(page string) {
	b.t.Helper()
	if b.axe == "" {
		return
	}
	for _, v := range b.violations() {
		if v.Impact == "serious" || v.Impact == "critical" {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, fmt.Sprint(n.Target...))
			}
			b.t.Errorf("axe on %s: %s %s (%s) at %s", page, v.Impact, v.ID, v.Help, strings.Join(where, "; "))
		} else {
			b.t.Logf("axe on %s: %s %s (%s)", page, v.Impact, v.ID, v.Help)
		}
	}
}

// violations runs axe-core on the page the browser is on.
func (b *browser) violations() []axeViolation {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](b.axe+";typeof axe !== 'undefined'")); err != nil {
		b.t.Fatalf("load axe: %v", err)
	}
	js := `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))})))`
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]axeViolation](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe: %v", err)
	}
	return out
}

// shot saves the page as DIR/name.png when ASSENT_UI_SCREENSHOTS=DIR.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("ASSENT_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	// A short page right after a tall one can be captured off its origin:
	// capture the viewport when the page fits in it.
	shot := chromedp.FullScreenshot(100)
	if b.eval(`String(document.documentElement.scrollHeight <= window.innerHeight)`) == "true" {
		shot = chromedp.CaptureScreenshot()
	}
	buf, err := chromedp.Run(b.ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if b.lang != "" && b.lang != "en" {
		name += "-" + b.lang
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shrink(buf), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// shrink scales a PNG screenshot to 5/8 and maps it to the Plan 9 palette,
// so the files kept in docs/ui/ stay small.
func shrink(png1 []byte) []byte {
	src, err := png.Decode(bytes.NewReader(png1))
	if err != nil {
		return png1
	}
	r := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx()*5/8, r.Dy()*5/8))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, r, draw.Over, nil)
	pal := image.NewPaletted(dst.Bounds(), palette.Plan9)
	draw.FloydSteinberg.Draw(pal, pal.Bounds(), dst, image.Point{})
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, pal); err != nil {
		return png1
	}
	return out.Bytes()
}

// page visits path, waits for sel, checks accessibility and saves a screenshot.
func (b *browser) page(path, sel, name string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.url(path)), chromedp.WaitVisible(chromedp.CSS(sel)))
	b.checked(name)
}

// checked checks the page the browser is on (axe, its language and
// direction, nothing wider than a 360 px screen) and saves its screenshot.
func (b *browser) checked(name string) {
	b.t.Helper()
	b.check(name)
	b.layout(name)
	b.shot(name)
}

// layout checks that the page is in the test's language and direction
// (right to left for Arabic, by the browser's computed style), and that at
// 360 px wide nothing is wider than the screen.
func (b *browser) layout(name string) {
	b.t.Helper()
	if b.lang != "" {
		want := "ltr"
		if b.lang == "ar" {
			want = "rtl"
		}
		if got := b.eval(`document.documentElement.lang + " " + getComputedStyle(document.querySelector('main')).direction`); got != b.lang+" "+want {
			b.t.Errorf("%s in %s: lang and direction %q, want %q", name, b.lang, got, b.lang+" "+want)
		}
	}
	b.do("narrow "+name, chromedp.EmulateViewport(360, 740))
	over := b.eval(`(function(){var w=document.documentElement.clientWidth; if (document.documentElement.scrollWidth <= w) return "";
		return Array.from(document.querySelectorAll('main *, header *')).filter(e => {var r=e.getBoundingClientRect(); return r.width > 0 && (r.right > w + 1 || r.left < -1)}).slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().width) + 'px').join(', ') || String(document.documentElement.scrollWidth) + 'px'})()`)
	b.do("wide "+name, chromedp.EmulateViewport(1024, 768))
	if over != "" {
		b.t.Errorf("%s (%s) is wider than a 360 px screen: %s", name, b.lang, over)
	}
}

// tamperAccessLog makes the browser receive a changed access log: one
// inclusion proof hash with a bit flipped, as an attacker in transit (or a
// lying server) would send. It returns a func that stops the tampering.
func (b *browser) tamperAccessLog() (stop func()) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	events := chromedp.Events(ctx, fetch.RequestPaused)
	target := chromedp.FromContext(b.ctx).Target
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return
			}
			res, err := cdp.Call(ctx, target, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID})
			if err != nil {
				_, _ = cdp.Call(ctx, target, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			_, _ = cdp.Call(ctx, target, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID,
				ResponseCode: ev.ResponseStatusCode, ResponseHeaders: ev.ResponseHeaders, Body: tamperProof(res.Body)})
		}
	}()
	if _, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/portal/access-log.json*", RequestStage: fetch.RequestStageResponse}}})
	}); err != nil {
		b.t.Fatalf("intercept access log: %v", err)
	}
	return func() {
		_, _ = chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
			return cdp.Call(ctx, t, fetch.Disable, cdp.Empty{})
		})
		cancel()
		<-done
	}
}

// tamperProof flips one bit of the first inclusion proof hash in an access
// log response.
func tamperProof(body []byte) []byte {
	var al map[string]any
	if json.Unmarshal(body, &al) != nil {
		return body
	}
	entries, _ := al["entries"].([]any)
	for _, x := range entries {
		en, _ := x.(map[string]any)
		if pr, ok := en["inclusion_proof"].([]any); ok && len(pr) > 0 {
			h, _ := base64.StdEncoding.DecodeString(pr[0].(string))
			h[0] ^= 1
			pr[0] = base64.StdEncoding.EncodeToString(h)
			break
		}
	}
	out, _ := json.Marshal(al)
	return out
}
