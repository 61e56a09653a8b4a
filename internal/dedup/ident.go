package dedup

import (
	"encoding/binary"
	"strings"

	"github.com/google/uuid"
)

// ident is a person or reference id held in 16 bytes: a UUID in its
// canonical text form (what the registry makes) is its 16 bytes; any other
// string gets a number, and names keeps its text.
type ident struct {
	b     [16]byte
	named bool
}

// key is the gallery key of a reference: its 16 bytes, and a 17th for a
// named one (so the two kinds never share a key).
func (id ident) key() string {
	if id.named {
		return string(append(id.b[:], 1))
	}
	return string(id.b[:])
}

// identFromKey is the ident of a gallery key made by key.
func identFromKey(k string) ident {
	var id ident
	copy(id.b[:], k)
	id.named = len(k) == 17
	return id
}

// names holds the text of the ids that are not canonical UUIDs (tests,
// other callers). Not safe for concurrent use: Local's lock guards it.
type names struct {
	byText map[string]ident
	texts  map[ident]string
	next   uint64
}

// canonical returns the UUID whose canonical text is s (36 characters,
// lower-case hexadecimal: uuid.Parse takes upper case too, and other
// forms of other lengths).
func canonical(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	for i := range len(s) {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return uuid.UUID{}, false
		}
	}
	u, err := uuid.Parse(s)
	return u, err == nil
}

// ident returns the ident of s, numbering it if it is new and not a UUID.
func (n *names) ident(s string) ident {
	if u, ok := canonical(s); ok {
		return ident{b: u}
	}
	if id, ok := n.byText[s]; ok {
		return id
	}
	if n.byText == nil {
		n.byText, n.texts = map[string]ident{}, map[ident]string{}
	}
	n.next++
	id := ident{named: true}
	binary.BigEndian.PutUint64(id.b[8:], n.next)
	s = strings.Clone(s) // (s may be part of a larger string: a snapshot's block of ids)
	n.byText[s], n.texts[id] = id, s
	return id
}

// lookup returns the ident of s if s is a UUID or a name held.
func (n *names) lookup(s string) (ident, bool) {
	if u, ok := canonical(s); ok {
		return ident{b: u}, true
	}
	id, ok := n.byText[s]
	return id, ok
}

// text returns the string id stands for.
func (n *names) text(id ident) string {
	if id.named {
		return n.texts[id]
	}
	return uuid.UUID(id.b).String()
}

// forget drops a named id's text once nothing refers to it.
func (n *names) forget(id ident) {
	if id.named {
		delete(n.byText, n.texts[id])
		delete(n.texts, id)
	}
}
