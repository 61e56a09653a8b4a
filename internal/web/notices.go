package web

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Notices are the texts read to (or by) the person before they answer, one
// plain-text file per version and language: notices/VERSION/LANG.txt, kept
// as files the programme edits. Paragraphs are separated by blank lines.
// The newest version (by name) is the one shown at registration; its name is
// recorded with every answer (notice_version).
//
//go:embed notices
var noticeFS embed.FS

type notice struct {
	Version    string
	Language   string
	Paragraphs []string
}

type notices struct {
	latest string
	texts  map[string]map[string]notice // version -> language -> text
}

func loadNotices() (*notices, error) {
	n := &notices{texts: map[string]map[string]notice{}}
	files, err := fs.Glob(noticeFS, "notices/*/*.txt")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		version := path.Base(path.Dir(f))
		lang := strings.TrimSuffix(path.Base(f), ".txt")
		b, err := noticeFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var ps []string
		for _, p := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
			if p = strings.TrimSpace(p); p != "" {
				ps = append(ps, p)
			}
		}
		if n.texts[version] == nil {
			n.texts[version] = map[string]notice{}
		}
		n.texts[version][lang] = notice{Version: version, Language: lang, Paragraphs: ps}
		if version > n.latest {
			n.latest = version
		}
	}
	if n.latest == "" {
		return nil, fmt.Errorf("web: no notice texts")
	}
	return n, nil
}

// current returns the latest notice in lang, falling back to the default
// language; ok is false when the notice exists in neither.
func (n *notices) current(lang string) (notice, bool) {
	v := n.texts[n.latest]
	if t, ok := v[lang]; ok {
		return t, true
	}
	t, ok := v[defaultLanguage]
	return t, ok
}

// languages lists the languages the latest notice is written in.
func (n *notices) languages() []string {
	var out []string
	for l := range n.texts[n.latest] {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}
