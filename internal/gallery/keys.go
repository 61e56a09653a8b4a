package gallery

import "encoding/binary"

// Key is a gallery key held without a pointer: a key of at most 23 bytes
// (a reference's 16 or 17 bytes) is held inline, its length in the last
// byte; a longer one is numbered by the gallery's Names and its number held.
//
// A gallery of a million people holds several million keys. As strings (in
// a []string and a map[string]int) each is an object the garbage collector
// visits on every cycle, and the maps' slots hold pointers it scans: a
// cycle's work grows with the persons held, and near a memory limit cycles
// run often. Arrays and maps of Keys hold no pointers, so the collector
// skips them whole.
type Key [24]byte

// maxInline is the longest key held inline; a longer key is numbered.
const maxInline = len(Key{}) - 1

const longKey = 0xff // the last byte of a numbered key

// Names numbers the keys longer than maxInline bytes (tests and tools use
// such keys; a registry's references never are). A number is never
// reused: the text of a long key removed from a gallery stays held. The
// zero value is ready to use; not safe for concurrent use (the gallery's
// lock guards it).
type Names struct {
	texts []string
	byKey map[string]uint64
}

// Key returns the Key of s, numbering s if it is long and new.
func (n *Names) Key(s string) Key {
	if k, ok := inline(s); ok {
		return k
	}
	if i, ok := n.byKey[s]; ok {
		return numbered(i)
	}
	if n.byKey == nil {
		n.byKey = map[string]uint64{}
	}
	i := uint64(len(n.texts))
	n.texts = append(n.texts, s)
	n.byKey[s] = i
	return numbered(i)
}

// Lookup returns the Key of s without numbering it: false for a long key
// never numbered (no entry can be held under it).
func (n *Names) Lookup(s string) (Key, bool) {
	if k, ok := inline(s); ok {
		return k, true
	}
	i, ok := n.byKey[s]
	return numbered(i), ok
}

// Text returns the key k stands for.
func (n *Names) Text(k Key) string {
	if k[maxInline] == longKey {
		return n.texts[binary.LittleEndian.Uint64(k[:8])]
	}
	return string(k[:k[maxInline]])
}

func inline(s string) (Key, bool) {
	var k Key
	if len(s) > maxInline {
		return k, false
	}
	copy(k[:], s)
	k[maxInline] = byte(len(s))
	return k, true
}

func numbered(i uint64) Key {
	var k Key
	binary.LittleEndian.PutUint64(k[:8], i)
	k[maxInline] = longKey
	return k
}
