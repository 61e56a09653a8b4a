// Package dedup holds the 1:N galleries the registry searches at enrolment,
// in this process's memory (Local). The registry talks to it through a small
// interface of its own (registry.Galleries: search, add, remove); a
// gallery service spread over machines implements the same interface later.
//
// Templates cross the boundary as their serialised bytes (MarshalBinary of
// the engine's template), so the interface can be carried over a network.
// Local decodes them once, when they are added or searched with.
//
// Local never decides policy: it holds what it is given. Which templates
// belong in a gallery (deduplication templates of active people whose
// deduplication consent counts) is decided by the registry, which feeds
// Load through a Source and calls Add and Remove after every change.
package dedup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/iris"
)

// Modalities with a 1:N gallery.
const (
	Fingerprint = "fingerprint"
	Iris        = "iris"
)

// Modalities lists the modalities a gallery is kept for.
func Modalities() []string { return []string{Fingerprint, Iris} }

// ErrModality is a modality without a 1:N gallery.
var ErrModality = errors.New("dedup: no gallery for this modality")

// floorEvidence is the loosest candidate threshold: a per-comparison
// false-match rate of 1 in 10,000 (the registry's 1:1 threshold).
const floorEvidence = 4.0

// MinEvidence is the 1:N candidate threshold for a gallery of n templates,
// as evidence (-log10 of the per-comparison false-match rate): the rate is
// held at 1/(100 n), so a search of the whole gallery expects at most 0.01
// false candidates; never looser than 1 in 10,000.
func MinEvidence(n int) float64 { return max(floorEvidence, math.Log10(float64(max(n, 1)))+2) }

// owned is who owns a reference, and in which gallery it is.
type owned struct {
	person   ident
	modality uint8 // modFingerprint or modIris
}

const (
	modFingerprint = iota + 1
	modIris
)

// Local is the in-process gallery service: one fingerprint and one iris
// gallery, and which person owns each reference. It always answers (never
// pending). It is safe for concurrent use.
//
// Reference and person ids are held as 16 bytes (see ident), and the
// galleries are keyed by those bytes: at a million people, strings and
// their maps would take about a kilobyte per person. The tables kept per
// reference and per person (idTable, not Go maps: a load fills millions
// of entries at once) hold no pointer (a person's first references
// inline, see refList), so the garbage collector does not visit their
// millions of entries on every cycle.
type Local struct {
	fingers *fingerprint.Gallery
	irises  *iris.Gallery

	mu       sync.RWMutex
	owner    idTable[owned]    // reference -> owner
	refs     idTable[refList]  // person -> references held
	moreRefs map[ident][]ident // person -> references held after the first inlineRefs
	names    names
}

// inlineRefs is the references of a person held in the person's entry
// (the bench's persons have two fingers and two irises); a person with
// more has the rest in Local.moreRefs.
const inlineRefs = 4

// refList is the references a person holds, in the order added: the
// first n here, the rest in Local.moreRefs.
type refList struct {
	n uint8
	r [inlineRefs]ident
}

// refsOf appends the references person p holds to dst, in the order
// added. The caller holds l.mu.
func (l *Local) refsOf(dst []ident, p ident) []ident {
	rl, _ := l.refs.get(p)
	dst = append(dst, rl.r[:rl.n]...)
	return append(dst, l.moreRefs[p]...)
}

// addRef records that person p holds reference r. The caller holds l.mu
// for writing.
func (l *Local) addRef(p, r ident) {
	rl, _ := l.refs.get(p)
	if rl.n < inlineRefs {
		rl.r[rl.n] = r
		rl.n++
		l.refs.put(p, rl)
		return
	}
	if l.moreRefs == nil {
		l.moreRefs = map[ident][]ident{}
	}
	l.moreRefs[p] = append(l.moreRefs[p], r)
}

// addRefs records that person p holds references rs, with one read
// and one write of p's entry (a load adds a record's references at once).
// The caller holds l.mu for writing.
func (l *Local) addRefs(p ident, rs []ident) {
	if len(rs) == 0 {
		return
	}
	rl, _ := l.refs.get(p)
	for _, r := range rs {
		if rl.n < inlineRefs {
			rl.r[rl.n] = r
			rl.n++
			continue
		}
		if l.moreRefs == nil {
			l.moreRefs = map[ident][]ident{}
		}
		l.moreRefs[p] = append(l.moreRefs[p], r)
	}
	l.refs.put(p, rl)
}

// setRefs makes rs the references person p holds (none: p is
// forgotten). The caller holds l.mu for writing.
func (l *Local) setRefs(p ident, rs []ident) {
	delete(l.moreRefs, p)
	if len(rs) == 0 {
		l.refs.del(p)
		return
	}
	var rl refList
	rl.n = uint8(copy(rl.r[:], rs))
	l.refs.put(p, rl)
	if len(rs) > inlineRefs {
		if l.moreRefs == nil {
			l.moreRefs = map[ident][]ident{}
		}
		l.moreRefs[p] = slices.Clone(rs[inlineRefs:])
	}
}

// NewLocal returns empty galleries.
func NewLocal() *Local {
	return &Local{
		fingers: fingerprint.NewGallery(),
		irises:  iris.NewGallery(iris.GalleryOptions{}),
	}
}

// Search scans the gallery of modality for probe (serialised template) and
// returns the persons, other than exclude, owning a template that reaches
// MinEvidence of the gallery's size, in the order of their best evidence.
// complete is always true: every template is in this process.
func (l *Local) Search(ctx context.Context, modality string, probe []byte, exclude string) (candidates []string, complete bool, err error) {
	t, err := decode(modality, probe)
	if err != nil {
		return nil, false, err
	}
	return l.SearchDecoded(ctx, modality, t, exclude)
}

// SearchDecoded is Search with the probe as the engine made it
// (*fingerprint.Template or *iris.Template): in one process, the registry
// spares a decode (rebuilding a fingerprint's cylinders takes about a
// millisecond).
func (l *Local) SearchDecoded(ctx context.Context, modality string, probe any, exclude string) (candidates []string, complete bool, err error) {
	return l.SearchSized(ctx, modality, probe, exclude, 0)
}

// SearchSized is SearchDecoded with the candidate threshold of a gallery
// of total templates (MinEvidence(total)) instead of this one's size: a
// gallery shard holds part of a larger gallery, and the false-candidate
// rate is the whole gallery's. total <= 0 means this gallery's size.
func (l *Local) SearchSized(ctx context.Context, modality string, probe any, exclude string, total int) (candidates []string, complete bool, err error) {
	size := func(own int) int {
		if total > 0 {
			return total
		}
		return own
	}
	var keys []string
	switch modality {
	case Fingerprint:
		t, ok := probe.(*fingerprint.Template)
		if !ok {
			return nil, false, fmt.Errorf("dedup: search: %T is not a fingerprint template", probe)
		}
		fmr := math.Pow(10, -MinEvidence(size(l.fingers.Len())))
		cs, err := l.fingers.Search(ctx, t, fingerprint.Threshold(fmr), fingerprint.SearchOptions{Indexed: true})
		if err != nil {
			return nil, false, err
		}
		for _, c := range cs {
			keys = append(keys, c.Key)
		}
	case Iris:
		t, ok := probe.(*iris.Template)
		if !ok {
			return nil, false, fmt.Errorf("dedup: search: %T is not an iris template", probe)
		}
		fmr := math.Pow(10, -MinEvidence(size(l.irises.Len())))
		cs, err := l.irises.Search(ctx, t, iris.ThresholdForFMR(fmr), iris.SearchOptions{Coarse: true})
		if err != nil {
			return nil, false, err
		}
		for _, c := range cs {
			keys = append(keys, c.Key)
		}
	default:
		return nil, false, ErrModality
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, k := range keys {
		o, ok := l.owner.get(identFromKey(k))
		if !ok {
			continue
		}
		if p := l.names.text(o.person); p != exclude && !slices.Contains(candidates, p) {
			candidates = append(candidates, p)
		}
	}
	return candidates, true, nil
}

// Add puts one template (serialised) of person under reference ref in the
// gallery of modality. Adding a reference again replaces it.
func (l *Local) Add(_ context.Context, modality, person, ref string, template []byte) error {
	d, err := decode(modality, template)
	if err != nil {
		return err
	}
	return l.addAll(modality, []string{person}, []string{ref}, []any{d})
}

// AddDecoded is Add with the template as the engine made it (see
// SearchDecoded).
func (l *Local) AddDecoded(_ context.Context, modality, person, ref string, t any) error {
	switch t.(type) {
	case *fingerprint.Template:
		if modality != Fingerprint {
			return ErrModality
		}
	case *iris.Template:
		if modality != Iris {
			return ErrModality
		}
	default:
		return fmt.Errorf("dedup: add: %T is not a template", t)
	}
	return l.addAll(modality, []string{person}, []string{ref}, []any{t})
}

// addAll adds decoded templates ts[i] of persons[i] under refs[i].
func (l *Local) addAll(modality string, persons, refs []string, ts []any) error {
	var mod uint8
	switch modality {
	case Fingerprint:
		mod = modFingerprint
	case Iris:
		mod = modIris
	default:
		return ErrModality
	}
	// Ids first, so that the galleries' keys are the references' bytes.
	l.mu.Lock()
	pids, rids := make([]ident, len(persons)), make([]ident, len(refs))
	keys := make([]string, len(refs))
	for i := range refs {
		pids[i], rids[i] = l.names.ident(persons[i]), l.names.ident(refs[i])
		keys[i] = rids[i].key()
	}
	l.mu.Unlock()
	switch mod {
	case modFingerprint:
		fts := make([]*fingerprint.Template, len(ts))
		for i, t := range ts {
			fts[i] = t.(*fingerprint.Template)
		}
		if len(fts) == 1 {
			l.fingers.Add(keys[0], fts[0])
		} else {
			// AddAll prepares the templates for the index on every core.
			l.fingers.AddAll(keys, fts)
		}
	case modIris:
		for i, t := range ts {
			if err := l.irises.Add(keys[i], t.(*iris.Template)); err != nil {
				return fmt.Errorf("dedup: add: %w", err)
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range rids {
		if !l.owner.has(r) {
			l.addRef(pids[i], r)
		}
		l.owner.put(r, owned{person: pids[i], modality: mod})
	}
	return nil
}

// Remove takes reference ref of person out of its gallery, or every
// reference of person when ref is empty. Removing what is not there is not
// an error.
func (l *Local) Remove(_ context.Context, person, ref string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	pid, ok := l.names.lookup(person)
	if !ok {
		return nil
	}
	var keep []ident
	for _, r := range l.refsOf(nil, pid) {
		if ref != "" && l.names.text(r) != ref {
			keep = append(keep, r)
			continue
		}
		o, _ := l.owner.get(r)
		switch o.modality {
		case modFingerprint:
			l.fingers.Remove(r.key())
		case modIris:
			l.irises.Remove(r.key())
		}
		l.owner.del(r)
		l.names.forget(r)
	}
	l.setRefs(pid, keep)
	if len(keep) == 0 {
		l.names.forget(pid)
	}
	return nil
}

// Memory is what the galleries' templates take, in bytes (capacity
// included): the fingerprint cylinders, the fingerprint index, the iris
// codes and masks. Keys and bookkeeping are not counted.
type Memory struct {
	FingerprintCylinders int `json:"fingerprint_cylinders"`
	FingerprintIndex     int `json:"fingerprint_index"`
	Iris                 int `json:"iris"`
}

// Memory reports the memory the galleries' templates take.
func (l *Local) Memory() Memory {
	idx := l.fingers.IndexBytes()
	return Memory{FingerprintCylinders: l.fingers.Bytes() - idx, FingerprintIndex: idx, Iris: l.irises.Bytes()}
}

// Sizes reports how many templates each gallery holds.
func (l *Local) Sizes() map[string]int {
	return map[string]int{Fingerprint: l.fingers.Len(), Iris: l.irises.Len()}
}

// decode opens a serialised template of modality.
func decode(modality string, b []byte) (any, error) {
	switch modality {
	case Fingerprint:
		t := new(fingerprint.Template)
		if err := t.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("dedup: fingerprint template: %w", err)
		}
		return t, nil
	case Iris:
		t := new(iris.Template)
		if err := t.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("dedup: iris template: %w", err)
		}
		return t, nil
	}
	return nil, ErrModality
}
