package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Catalogues: one JSON file per language in catalog/, a flat object from
// message key to text, that a translator edits without touching code.
// Texts use fmt verbs (%s, %d) for arguments; numbers are formatted for the
// language by golang.org/x/text/message. Keys starting with "_" describe
// the language itself: _name (its own name), _dir (ltr or rtl) and _date (a
// Go time layout for dates).
//
//go:embed catalog/*.json
var catalogFS embed.FS

// defaultLanguage is used when nothing else matches; it must be complete.
const defaultLanguage = "en"

type locale struct {
	Code string // BCP 47, as in catalog file names
	Name string
	Dir  string
	date string
	p    *message.Printer
	keys map[string]bool
	// digits rewrites ASCII digits in the language's own (nil: ASCII).
	digits *strings.Replacer
}

type catalogue struct {
	locales map[string]*locale
	order   []string // codes, default first
	matcher language.Matcher
}

func loadCatalogue() (*catalogue, error) {
	files, err := catalogFS.ReadDir("catalog")
	if err != nil {
		return nil, err
	}
	b := catalog.NewBuilder(catalog.Fallback(language.MustParse(defaultLanguage)))
	c := &catalogue{locales: map[string]*locale{}}
	var tags []language.Tag
	var def map[string]string
	msgs := map[string]map[string]string{}
	for _, f := range files {
		code := strings.TrimSuffix(f.Name(), ".json")
		raw, err := catalogFS.ReadFile(path.Join("catalog", f.Name()))
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", f.Name(), err)
		}
		msgs[code] = m
		if code == defaultLanguage {
			def = m
		}
	}
	if def == nil {
		return nil, fmt.Errorf("web: no %s catalogue", defaultLanguage)
	}
	codes := make([]string, 0, len(msgs))
	for code := range msgs {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	slices.SortStableFunc(codes, func(a, b string) int {
		if a == defaultLanguage {
			return -1
		}
		if b == defaultLanguage {
			return 1
		}
		return 0
	})
	for _, code := range codes {
		m := msgs[code]
		tag, err := language.Parse(code)
		if err != nil {
			return nil, fmt.Errorf("web: catalogue %s: %w", code, err)
		}
		keys := map[string]bool{}
		for k, v := range m {
			if err := b.SetString(tag, k, v); err != nil {
				return nil, fmt.Errorf("web: catalogue %s key %s: %w", code, k, err)
			}
			keys[k] = true
		}
		dir := m["_dir"]
		if dir != "rtl" {
			dir = "ltr"
		}
		date := m["_date"]
		if date == "" {
			date = time.DateOnly
		}
		tags = append(tags, tag)
		c.order = append(c.order, code)
		c.locales[code] = &locale{Code: code, Name: m["_name"], Dir: dir, date: date, keys: keys}
	}
	for _, code := range c.order {
		l := c.locales[code]
		l.p = message.NewPrinter(language.MustParse(code), message.Catalog(b))
		// Dates are written with the digits the language's numbers use
		// (Arabic-Indic in Arabic), so a page does not mix two styles.
		var from []string
		for d := range 10 {
			if s := l.p.Sprintf("%d", d); s != strconv.Itoa(d) {
				from = append(from, strconv.Itoa(d), s)
			}
		}
		if len(from) > 0 {
			l.digits = strings.NewReplacer(from...)
		}
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// T translates key with args; a key missing from every catalogue shows
// itself, so a gap is visible (and caught by the completeness test).
func (l *locale) T(key string, args ...any) string {
	for i, a := range args { // optional numbers come as pointers
		switch v := a.(type) {
		case *float64:
			if v != nil {
				args[i] = *v
			}
		case *int:
			if v != nil {
				args[i] = *v
			}
		}
	}
	return l.p.Sprintf(key, args...)
}

// Reason explains a stable error or refusal code in the language ("err."
// + code in the catalogue), or shows the code itself when the catalogue
// has no text for it.
func (l *locale) Reason(code string) string {
	if l.keys["err."+code] {
		return l.T("err." + code)
	}
	return code
}

// Date formats t (or a YYYY-MM-DD string) the language's way.
func (l *locale) Date(v any) string {
	switch t := v.(type) {
	case time.Time:
		return l.localDigits(t.Format(l.date))
	case string:
		d, err := time.Parse(time.DateOnly, t)
		if err != nil {
			return t
		}
		return l.localDigits(d.Format(l.date))
	}
	return fmt.Sprint(v)
}

// localDigits writes the ASCII digits of s in the language's digits.
func (l *locale) localDigits(s string) string {
	if l.digits == nil {
		return s
	}
	return l.digits.Replace(s)
}

// pick returns the locale for code (default when unknown).
func (c *catalogue) pick(code string) *locale {
	if l := c.locales[code]; l != nil {
		return l
	}
	return c.locales[defaultLanguage]
}

// match finds the best catalogue for a language list (Accept-Language, or
// a code typed by hand).
func (c *catalogue) match(accept string) string {
	tags, _, _ := language.ParseAcceptLanguage(accept)
	if len(tags) == 0 {
		return defaultLanguage
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return defaultLanguage
	}
	return c.order[i]
}

const langCookie = "assent_lang"

// languageOf chooses the page language: ?lang=xx (which also sets a
// cookie), else the cookie, else Accept-Language.
func (s *Server) languageOf(w http.ResponseWriter, r *http.Request) string {
	if q := r.URL.Query().Get("lang"); q != "" {
		code := s.cat.match(q)
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: code, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
		return code
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := s.cat.locales[c.Value]; ok {
			return c.Value
		}
	}
	return s.cat.match(r.Header.Get("Accept-Language"))
}

// Languages lists the codes of the shipped catalogues, default first.
func (s *Server) Languages() []string { return slices.Clone(s.cat.order) }
