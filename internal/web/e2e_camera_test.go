package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
	"github.com/chromedp/chromedp"
)

// TestBrowserFaceCamera: at the deduplication desk a registrar starts the
// (synthetic) camera on the capture page, takes a still, and the plain form
// post stores it as the person's face photo; in English and in Arabic.
func TestBrowserFaceCamera(t *testing.T) {
	for _, lang := range uiLangs {
		t.Run(lang, func(t *testing.T) { faceCamera(t, lang) })
	}
}

func faceCamera(t *testing.T, lang string) {
	e := newEnv(t)
	b := newBrowser(t, e)
	b.useLang(lang)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	number := reg.register(adultForm("Efua", "1984-04-04", "consent.identity.registration", "consent.face.deduplication")).attr("data-person-number")
	id := e.resolve(number)

	b.signInAs(consent.Registrar, consent.Deduplication)
	b.page("/ui/persons/"+compactNumber(number)+"/capture", `[data-camera-start]`, "capture-camera")
	b.do("start the camera", chromedp.Click(css(`[data-camera-start]`)), chromedp.WaitVisible(css(`[data-camera-take]`)))
	if got := b.attr(`[data-camera]`, "data-camera-state"); got != "live" {
		t.Fatalf("camera state %q after start", got)
	}
	// Wait for the first frame: a still needs the video's size.
	deadline := time.Now().Add(20 * time.Second)
	for b.eval(`String(document.querySelector('[data-camera-video]').videoWidth > 0)`) != "true" {
		if time.Now().After(deadline) {
			t.Fatal("the camera preview shows no frame")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.do("take the photo", chromedp.Click(css(`[data-camera-take]`)), chromedp.WaitVisible(css(`[data-camera-still]`)),
		chromedp.WaitVisible(css(`[data-camera][data-camera-state="taken"]`)))
	if got := b.eval(`(function(){var f=document.getElementById('data').files; return f.length+' '+(f[0]&&f[0].type)+' '+document.getElementById('position').value})()`); got != "1 image/jpeg face" {
		t.Fatalf("after the still, the form holds %q, want one JPEG for the face", got)
	}
	b.checked("capture-camera-taken")
	b.do("store the still", chromedp.Click(css(`button[name="capture"]`)), chromedp.WaitVisible(css(`[data-capture-result]`)))
	if got := b.attr(`[data-capture-result]`, "data-capture-result"); got != "enrolled" {
		t.Fatalf("camera capture: %s", got)
	}

	var refs []store.Biometric
	if err := e.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		refs, err = tx.ListBiometrics(context.Background(), id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Category != "face" || refs[0].Position != "face" || refs[0].Purpose != "deduplication" || len(refs[0].TemplateSealed) == 0 {
		t.Fatalf("stored references after the camera capture: %+v", refs)
	}
}

// TestCapturePageWithoutScript: the capture page works as a plain upload;
// the camera control is hidden until the script finds a camera API, and the
// script is a file from the binary (no inline script under the CSP).
func TestCapturePageWithoutScript(t *testing.T) {
	e := newEnv(t)
	reg := e.client()
	reg.signIn(consent.Registrar, consent.Registration)
	number := reg.register(adultForm("Ama", "1980-01-01", "consent.identity.registration", "consent.face.deduplication")).attr("data-person-number")
	reg.signIn(consent.Registrar, consent.Deduplication)
	p := reg.get("/ui/persons/" + compactNumber(number) + "/capture")
	if p.status != http.StatusOK {
		t.Fatalf("capture page: %d", p.status)
	}
	if !p.has(`<fieldset class="camera" data-camera[^>]* hidden>`) || !p.has(`<script src="/static/camera.js" nonce="[^"]+"></script>`) || !p.has(`<input id="data" name="data" type="file"`) {
		t.Fatalf("capture page lacks the hidden camera control, its script or the file input:\n%s", p.body)
	}
	js := reg.get("/static/camera.js")
	if js.status != http.StatusOK || !strings.Contains(js.body, "getUserMedia") || !strings.Contains(js.body, "DataTransfer") {
		t.Fatalf("/static/camera.js: %d", js.status)
	}
}

// TestAdminNotices: the admin page lists the notice versions and languages
// the registry carries, read-only, in the admin's language.
func TestAdminNotices(t *testing.T) {
	e := newEnv(t)
	admin := e.client()
	admin.signIn(consent.Admin, "")
	p := admin.get("/ui/admin")
	if p.status != http.StatusOK {
		t.Fatalf("admin page: %d", p.status)
	}
	n, err := loadNotices()
	if err != nil {
		t.Fatal(err)
	}
	if !p.has(`<tr data-notice-version="` + n.latest + `" data-notice-current="true">`) {
		t.Errorf("the current notice version %s is not listed as current", n.latest)
	}
	for _, l := range []string{"en", "fr", "ar"} {
		if !p.has(`data-notice-language="` + l + `"`) {
			t.Errorf("notice language %s not listed", l)
		}
	}
	if !p.has(`Shown at registration`) {
		t.Errorf("the current notice is not marked in English")
	}
	if p.has(`action="/ui/admin/notices`) {
		t.Errorf("the notice list must be read-only")
	}
	fr := admin.get("/ui/admin?lang=fr")
	if !fr.has(`Présentée à l’enregistrement`) {
		t.Errorf("the notice list is not translated to French")
	}
}

// TestNoticeVersionsOrder: versions come newest first, languages sorted.
func TestNoticeVersionsOrder(t *testing.T) {
	n := &notices{latest: "v2", texts: map[string]map[string]notice{
		"v1": {"fr": {Paragraphs: []string{"a"}}, "en": {Paragraphs: []string{"a", "b"}}},
		"v2": {"ar": {}, "en": {}},
	}}
	got := n.versions()
	if len(got) != 2 || got[0].Version != "v2" || !got[0].Current || got[1].Version != "v1" || got[1].Current {
		t.Fatalf("versions %+v", got)
	}
	if strings.Join(got[1].Languages, ",") != "en,fr" || got[1].Paragraphs["en"] != 2 {
		t.Fatalf("v1 languages %v paragraphs %v", got[1].Languages, got[1].Paragraphs)
	}
}
