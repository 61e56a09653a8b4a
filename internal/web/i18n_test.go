package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"regexp"
	"testing"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// TestCataloguesComplete: every language has every key of the default
// catalogue and no other, and every key the pages use exists, including
// the families built from the vocabularies (roles, purposes, categories,
// the question for each pair, answers, sexes, relationships, error codes).
func TestCataloguesComplete(t *testing.T) {
	c, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.order) < 3 {
		t.Fatalf("want at least 3 languages, have %v", c.order)
	}
	def := c.locales[defaultLanguage].keys
	for _, code := range c.order {
		l := c.locales[code]
		for k := range def {
			if !l.keys[k] {
				t.Errorf("%s lacks %s", code, k)
			}
		}
		for k := range l.keys {
			if !def[k] {
				t.Errorf("%s has %s, unknown to %s", code, k, defaultLanguage)
			}
		}
	}
	if c.locales["ar"].Dir != "rtl" {
		t.Errorf("ar is not right-to-left")
	}
	need := map[string]bool{}
	files, _ := fs.Glob(templateFS, "templates/*.html")
	lit := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	for _, f := range files {
		b, _ := templateFS.ReadFile(f)
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			need[m[1]] = true
		}
	}
	for _, r := range append(consent.OperatorRoles, consent.Subject) {
		need["role."+string(r)] = true
	}
	for _, p := range consent.Purposes {
		need["purpose."+string(p)] = true
	}
	for _, cat := range consent.Categories {
		need["cat."+string(cat)] = true
	}
	for _, p := range askedPairs() {
		need["ask."+p.Category+"."+p.Purpose] = true
	}
	for _, d := range []consent.Decision{consent.Granted, consent.Declined, consent.Withdrawn} {
		need["answer."+string(d)] = true
	}
	for _, a := range append(consent.Actions, "login") {
		need["action."+string(a)] = true
	}
	for _, o := range []string{"allow", "deny"} {
		need["outcome."+o] = true
	}
	for _, p := range positions() {
		need["pos."+p] = true
	}
	for _, s := range registry.Sexes {
		need["sex."+s] = true
	}
	for _, r := range registry.Relationships {
		need["rel."+r] = true
	}
	for _, code := range []string{registry.CodeMissingField, registry.CodeInvalidValue, registry.CodeInvalidDate, registry.CodeConsentRequired,
		registry.CodeGuardianRequired, registry.CodeUnknownHousehold, registry.CodeUnknownSite, registry.CodeUnknownPerson, registry.CodeInvalidHousehold,
		registry.CodeQualityTooLow, registry.CodeInvalidCapture, registry.CodeMinorCannotBeHead, registry.CodeHeadMustStay, registry.CodeInvalidAreaCode, string(consent.ReasonRoleNotAllowed), string(consent.ReasonConsentMissing),
		"purpose_not_allowed", "not_found", "locked", "unauthenticated", "internal_error"} {
		need["err."+code] = true
	}
	for _, k := range []string{"register.unanswered", "portal.failed", "portal.locked", "nav.register", "nav.household", "nav.find", "nav.desk"} {
		need[k] = true
	}
	for k := range need {
		if !def[k] {
			t.Errorf("key %s is used but not in the %s catalogue", k, defaultLanguage)
		}
	}
}

func TestNoticesInEveryLanguage(t *testing.T) {
	n, err := loadNotices()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := loadCatalogue()
	for _, code := range c.order {
		nt, ok := n.texts[n.latest][code]
		if !ok || len(nt.Paragraphs) < 5 {
			t.Errorf("notice %s has no full %s text", n.latest, code)
		}
	}
}

// TestCataloguesHaveNoDuplicateKeys: a key written twice in a catalogue is
// a translation silently thrown away (JSON keeps the last one).
func TestCataloguesHaveNoDuplicateKeys(t *testing.T) {
	files, err := catalogFS.ReadDir("catalog")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := catalogFS.ReadFile("catalog/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil { // {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if key := k.(string); seen[key] {
				t.Errorf("%s: key %q twice", f.Name(), key)
			} else {
				seen[key] = true
			}
		}
	}
}

// TestDatesAndNumbersPerLanguage: dates follow each catalogue's layout and
// numbers each language's digits and decimal mark (golang.org/x/text).
func TestDatesAndNumbersPerLanguage(t *testing.T) {
	c, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, date, num, big string }{
		{"en", "12 Apr 1988", "163.5", "12,345"},
		{"fr", "12/04/1988", "163,5", "12\u00a0345"},
		{"ar", "١٩٨٨/٠٤/١٢", "١٦٣٫٥", "١٢٬٣٤٥"},
	} {
		l := c.pick(tc.lang)
		if got := l.Date("1988-04-12"); got != tc.date {
			t.Errorf("%s date %q, want %q", tc.lang, got, tc.date)
		}
		if got := l.T("num.one", 163.5); got != tc.num {
			t.Errorf("%s number %q, want %q", tc.lang, got, tc.num)
		}
		if got := l.T("num.int", 12345); got != tc.big {
			t.Errorf("%s integer %q, want %q", tc.lang, got, tc.big)
		}
	}
}
