package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
)

// view is what every page template gets. Templates only display: every
// decision (what to show, which links a role gets) is made in Go first.
type view struct {
	L      *locale
	Nonce  string
	Langs  []*locale
	Path   string // the current path, for the language links
	Signed bool   // an operator is signed in
	Role   string
	Desk   string // the purpose of the operator's desk
	Portal bool   // the person is signed in to the portal
	Data   any
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"join": strings.Join,
	// posKey is the catalogue key of an enrolled "category/position".
	"posKey": func(s string) string { _, pos, _ := strings.Cut(s, "/"); return "pos." + pos },
	"pair":   func(c, p any) string { return "consent." + toString(c) + "." + toString(p) },
	// args, num, add, half and sub serve the reports page's charts.
	"args": func(a ...any) []any { return a },
	"num":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"add":  func(a, b float64) float64 { return a + b },
	"sub":  func(a, b float64) float64 { return a - b },
	"half": func(a float64) float64 { return a / 2 },
	// percent turns a published ratio into percent (nil stays nil).
	"percent": func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		v := *p * 100
		return &v
	},
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case consent.Category:
		return string(x)
	case consent.Purpose:
		return string(x)
	}
	return ""
}

// render executes page into a buffer first, so a failing template never
// sends half a page. An htmx request gets the page's "partial" template
// when it has one.
func (s *Server) render(q *req, status int, page string, data any) {
	t := s.pages[page]
	if t == nil {
		http.Error(q.w, "no such page", http.StatusInternalServerError)
		return
	}
	v := view{L: q.loc, Nonce: q.nonce, Path: q.URL.Path, Data: data}
	for _, c := range s.cat.order {
		v.Langs = append(v.Langs, s.cat.locales[c])
	}
	if q.sess != nil {
		switch q.sess.kind {
		case kindOperator:
			v.Signed, v.Role, v.Desk = true, string(q.sess.role), string(q.sess.purpose)
		case kindSubject:
			v.Portal = true
		}
	}
	name := "layout"
	if q.Header.Get("HX-Request") == "true" && t.Lookup("partial") != nil {
		name = "partial"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		s.log.ErrorContext(q.Context(), "template failed", "page", page, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.WriteHeader(status)
	_, _ = q.w.Write(buf.Bytes())
}
