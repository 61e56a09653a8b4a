package consent

import (
	"strings"
	"testing"
)

func TestRenderText(t *testing.T) {
	_, priv := testKey(1)
	s, err := SignReceipt(testReceipt(t), priv)
	mustNoErr(t, err)
	text := RenderText(s.Receipt)
	for _, want := range []string{
		"CONSENT RECEIPT",
		"5f1c7a52-3f0e-4a8e-bb53-0d6c9a1e2f47",
		pid,
		"2026-03-01 09:00 UTC",
		"site-a",
		"your fingerprints, for checking it is you at a later visit (answer yes or no only) (fingerprint/verification)",
		"a photo of your face, for making sure nobody is registered twice, when you enrol (face/deduplication)",
		careNote,
		"K7QX-2M9D-PW4R",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text receipt lacks %q:\n%s", want, text)
		}
	}
	granted, declined, _ := strings.Cut(text, "You declined:")
	if !strings.Contains(granted, "fingerprint/verification") || strings.Contains(granted, "face/verification") {
		t.Errorf("granted section wrong:\n%s", granted)
	}
	if !strings.Contains(declined, "face/verification") {
		t.Errorf("declined section wrong:\n%s", declined)
	}
	noCode := s.Receipt
	noCode.Code = ""
	if strings.Contains(RenderText(noCode), "PORTAL CODE") {
		t.Error("a receipt without a code shows a code section")
	}
}

func TestRenderHTML(t *testing.T) {
	r := testReceipt(t)
	r.Site = `<script>alert(1)</script>`
	page, err := RenderHTML(r)
	mustNoErr(t, err)
	html := string(page)
	for _, want := range []string{"<!DOCTYPE html>", "Consent receipt", pid, "K7QX-2M9D-PW4R", "@media print", "&lt;script&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML receipt lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "<link", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML receipt contains %q: it must be self-contained and escaped", bad)
		}
	}
}
