package web

import "slices"

// noticeVersion is one notice version as the admin page lists it (read-only):
// the languages it is written in and whether it is the one shown at
// registration. The texts themselves are files the programme edits
// (notices/VERSION/LANG.txt); the page only reports what the binary carries.
type noticeVersion struct {
	Version    string
	Languages  []string
	Paragraphs map[string]int // language -> number of paragraphs
	Current    bool
}

// versions lists every notice version, newest first.
func (n *notices) versions() []noticeVersion {
	var out []noticeVersion
	for v, texts := range n.texts {
		nv := noticeVersion{Version: v, Current: v == n.latest, Paragraphs: map[string]int{}}
		for l, t := range texts {
			nv.Languages = append(nv.Languages, l)
			nv.Paragraphs[l] = len(t.Paragraphs)
		}
		slices.Sort(nv.Languages)
		out = append(out, nv)
	}
	slices.SortFunc(out, func(a, b noticeVersion) int {
		switch {
		case a.Version > b.Version:
			return -1
		case a.Version < b.Version:
			return 1
		}
		return 0
	})
	return out
}
