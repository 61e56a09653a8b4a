package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/store"
)

// Deduplication without a deployment-wide turn around the 1:N search
// (docs/scale.md, "Two API nodes enrolling one finger at once"):
//
//  1. searchPoint reads P, the last committed number of the modality's
//     sequence of gallery additions (store.DedupSequence), and the 1:N
//     search runs without any turn, as many at once as there are desks.
//  2. dedupTurn is taken (this process's mutex of the modality, then, over
//     a shared store, its advisory lock) and, in the transaction that
//     stores the new template, the template takes the next number and is
//     compared 1:1 (lateCandidates) with the deduplication templates of
//     the modality numbered after P; matches open cases like search hits.
//     The transaction commits, the gallery gets the template, the turn is
//     released.
//
// Why no pair is missed. Every addition to a gallery — a deduplication
// template stored (enrolTx, by EnrolBiometric, EnrolTemplate and
// ImportOne), or a person's templates counting again after a consent
// change (RecordConsent, renumberDedup) — takes its number, commits and
// reaches the in-process gallery while holding the modality's turn. So
// additions are made one at a time, and number order is commit order:
// when an adder takes number n under the turn, every addition numbered
// below n has committed (its holder released the turn only after its
// commit), and none numbered above n exists yet. (The counter is a row
// updated in the adding transaction, not a PostgreSQL SEQUENCE, whose
// numbers are handed out before their transactions commit and in no commit
// order; over PostgreSQL the row lock alone would also order the adders.)
// Now take two deduplicating captures X and Y of one finger, X numbered
// before Y. If X's number is at most P(Y), X committed before Y read P(Y)
// and so was in what Y's search saw (below); otherwise X is numbered in
// (P(Y), n(Y)), committed before Y's transaction began (Y took the turn
// after X released it), and Y compares X 1:1 in that transaction. Either
// way Y finds X, whenever X's consent counts (the same rule as the
// gallery's).
//
// What the search saw. In one process (dedup.Local) an addition's gallery
// Add is made under the turn before it is released; searchPoint reads P
// holding this process's mutex, so no addition of this process is between
// its commit and its Add then, and everything numbered up to P is in the
// gallery when the search starts. (A gallery in this process fed by
// another process's additions is not a deployment: with several nodes the
// galleries are shards fed through the outbox.) With gallery shards
// (internal/cluster) the addition's outbox row commits with it; the search
// first relays every committed outbox row (or is incomplete: pending), and
// each shard catches up with the stream before it answers, so everything
// committed before P was read is searched.
//
// A search that ends incomplete, or whose window holds more than
// maxLateWindow additions, is recorded pending and completed later by a
// full search, never answered "no duplicates" (pending.go).

// dedupLocker is a store shared by several processes that can make their
// deduplicating commits of one modality take turns
// (postgres.DB.LockDedup: a session advisory lock). A store that one
// process owns (SQLite) has no need of it.
type dedupLocker interface {
	LockDedup(ctx context.Context, modality string) (unlock func(), err error)
}

// dedupTurn waits for this change's turn to add templates to the gallery
// of modality cat and returns the function that ends it. The caller holds
// it from before its transaction (which takes the next number of the
// sequence of additions) to after its commit and its gallery Add (or
// in-process refresh), and does no 1:N search while holding it: within
// this process (searchMu), and across every node over the store when the
// store is shared (dedupLocker). Turns of several modalities are taken in
// a fixed order (fingerprint, then iris).
func (r *Registry) dedupTurn(ctx context.Context, cat consent.Category) (release func(), err error) {
	start := time.Now()
	mu := r.searchMu[cat]
	mu.Lock()
	unlock := func() {}
	if l, ok := r.store.(dedupLocker); ok {
		if unlock, err = l.LockDedup(ctx, string(cat)); err != nil {
			mu.Unlock()
			return nil, fmt.Errorf("registry: deduplication turn: %w", err)
		}
	}
	got := time.Now()
	return func() {
		unlock()
		mu.Unlock()
		if o, ok := r.obs.(TurnObserver); ok {
			o.DedupTurn(string(cat), got.Sub(start), time.Since(got))
		}
	}, nil
}

// TurnObserver is an optional ability of an Observer: told, for every
// deduplication turn, how long it was waited for and held (the commit step
// of a capture, an import line or a consent grant). A modality and two
// durations: no personal data. It must not block.
type TurnObserver interface {
	DedupTurn(modality string, waited, held time.Duration)
}

// searchPoint returns P for a 1:N search of modality cat about to start:
// the last committed number of the modality's additions. With an
// in-process gallery it is read holding this process's mutex of the
// modality (not the shared lock), so that no addition of this process is
// committed but not yet in that gallery; galleries fed through the outbox
// need no mutex (the search relays every committed row first).
func (r *Registry) searchPoint(ctx context.Context, cat consent.Category) (int64, error) {
	if _, relayed := r.gal.(outboxGalleries); !relayed {
		mu := r.searchMu[cat]
		mu.Lock()
		defer mu.Unlock()
	}
	var p int64
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = tx.DedupPoint(ctx, string(cat))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("registry: deduplication search point: %w", err)
	}
	return p, nil
}

// dedupSearch is what a 1:N search before the commit found.
type dedupSearch struct {
	point      int64    // P: the additions numbered up to it were searched
	candidates []string // persons the search proposed
	partial    bool     // part of the gallery did not answer
}

// search runs the 1:N search of template t of person id without any turn,
// after reading its point.
func (r *Registry) search(ctx context.Context, cat consent.Category, t template, id string) (dedupSearch, error) {
	p, err := r.searchPoint(ctx, cat)
	if err != nil {
		return dedupSearch{}, err
	}
	cands, complete, err := r.gallerySearch(ctx, cat, t, id)
	if err != nil {
		return dedupSearch{}, fmt.Errorf("registry: 1:N search: %w", err)
	}
	return dedupSearch{point: p, candidates: cands, partial: !complete}, nil
}

// maxLateWindow bounds the additions compared 1:1 in a commit: a search
// that outlived more (a gallery stalled for minutes) is recorded pending
// instead, so that a turn is never held for long.
const maxLateWindow = 1000

// lateCandidates compares template t of person id (being stored in tx,
// numbered n, under the turn of cat) 1:1 with the deduplication templates
// of cat numbered after point and before n: the additions its 1:N search
// may not have seen (persons already found, in found, are skipped). It
// returns the persons whose template is a candidate
// at the 1:N search's threshold (the gallery's size, as the search scores)
// and whose deduplication consent for cat counts (the gallery's rule: an
// active person, not an alias, consent counting); complete is false when
// the window held more than maxLateWindow additions (nothing compared).
// The templates are read and opened inside the enrolment's gated,
// audited transaction: part of the deduplication use case, like the
// search they complete; nothing of them leaves but the person ids.
func (r *Registry) lateCandidates(ctx context.Context, tx store.Tx, cat consent.Category, t template, id string, point, n int64, found []string) (cands []string, complete bool, err error) {
	e := r.engines[cat]
	bs, err := tx.DedupAddedAfter(ctx, string(cat), point, maxLateWindow+1)
	if err != nil {
		return nil, false, err
	}
	if len(bs) > maxLateWindow {
		return nil, false, nil
	}
	bs = slices.DeleteFunc(bs, func(b store.Biometric) bool {
		return b.PersonID == id || b.DedupSeq >= n || slices.Contains(found, b.PersonID)
	})
	if len(bs) == 0 {
		return nil, true, nil
	}
	// Whose consent counts: the window's persons and histories in two
	// queries, their birth dates opened in one batch when the keyring can.
	var ids []string
	for _, b := range bs {
		if !slices.Contains(ids, b.PersonID) {
			ids = append(ids, b.PersonID)
		}
	}
	counts, err := r.dedupCountsTx(ctx, tx, ids, cat)
	if err != nil {
		return nil, false, err
	}
	bs = slices.DeleteFunc(bs, func(b store.Biometric) bool { return !counts[b.PersonID] })
	// Their templates, opened in one batch when the keyring can.
	raws := make([][]byte, len(bs))
	if bo, ok := r.keys.(batchOpener); ok && len(bs) > 0 {
		persons, sealed := make([]string, len(bs)), make([][]byte, len(bs))
		for i, b := range bs {
			persons[i], sealed[i] = b.PersonID, b.TemplateSealed
		}
		if raws, err = bo.OpenAll(ctx, string(cat), kindTemplate, persons, sealed); err != nil {
			return nil, false, fmt.Errorf("registry: open template: %w", err)
		}
	} else {
		for i, b := range bs {
			if raws[i], err = r.keys.Open(ctx, b.PersonID, b.Category, kindTemplate, b.TemplateSealed); err != nil {
				return nil, false, fmt.Errorf("registry: open template: %w", err)
			}
		}
	}
	fmr := math.Pow(10, -dedup.MinEvidence(r.galleryTotal(cat)))
	for i, b := range bs {
		if slices.Contains(cands, b.PersonID) || raws[i] == nil {
			continue
		}
		other, err := e.decode(raws[i])
		if err != nil {
			return nil, false, err
		}
		if e.candidate(t, other, fmr) {
			cands = append(cands, b.PersonID)
		}
	}
	return cands, true, nil
}

// dedupCountsTx tells, in tx, for which of the persons ids the
// deduplication consent for cat counts (dedupConsents' rule for each):
// persons and consent histories in one query each, the identities (for
// the birth date) opened in one batch when the keyring can.
func (r *Registry) dedupCountsTx(ctx context.Context, tx store.Tx, ids []string, cat consent.Category) (map[string]bool, error) {
	ps, err := tx.GetPersons(ctx, ids)
	if err != nil {
		return nil, err
	}
	hists, err := tx.ConsentHistories(ctx, ids)
	if err != nil {
		return nil, err
	}
	var live []store.Person // the others count for nothing
	for _, p := range ps {
		if p.Status == store.StatusActive && p.AliasOf == "" {
			live = append(live, p)
		}
	}
	out := map[string]bool{}
	if bo, ok := r.keys.(batchOpener); ok && len(live) > 0 {
		pids, sealed := make([]string, len(live)), make([][]byte, len(live))
		for i, p := range live {
			pids[i], sealed[i] = p.ID, p.IdentitySealed
		}
		raws, err := bo.OpenAll(ctx, string(consent.Identity), kindPerson, pids, sealed)
		if err != nil {
			return nil, fmt.Errorf("registry: open %s: %w", kindPerson, err)
		}
		for i, p := range live {
			if raws[i] == nil {
				continue
			}
			var ident Identity
			if err := json.Unmarshal(raws[i], &ident); err != nil {
				return nil, fmt.Errorf("registry: open %s: %w", kindPerson, err)
			}
			out[p.ID] = r.decideDedupBorn(p, hists[p.ID], birthTime(ident.BirthDate))[cat]
		}
		return out, nil
	}
	for _, p := range live {
		c, err := r.decideDedup(ctx, p, hists[p.ID])
		if err != nil {
			return nil, err
		}
		out[p.ID] = c[cat]
	}
	return out, nil
}

// galleryTotaller is a gallery service that knows its total size without
// asking (cluster.Client: as its shards last answered, a moment ago in
// the search).
type galleryTotaller interface {
	Total(modality string) int
}

// galleryTotal is the gallery size the search's candidate threshold was
// set for.
func (r *Registry) galleryTotal(cat consent.Category) int {
	if g, ok := r.gal.(galleryTotaller); ok {
		return g.Total(string(cat))
	}
	return r.gal.Sizes()[string(cat)]
}

// renumberDedup gives person id's deduplication templates of each
// searchable modality in turns the next number of that modality, when
// the person's deduplication consent for it counts now (in tx, after a
// consent change): templates that count anew are then compared by every
// enrolment whose search may have missed them. The caller holds the turns
// of turns. A template that counted already is renumbered too (harmless:
// compared once more).
func (r *Registry) renumberDedup(ctx context.Context, tx store.Tx, id string, turns []consent.Category) error {
	if len(turns) == 0 {
		return nil
	}
	counts, err := r.dedupConsents(ctx, tx, id)
	if err != nil {
		return err
	}
	for _, cat := range turns {
		if !counts[cat] {
			continue
		}
		bs, err := tx.ListBiometrics(ctx, id)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(bs, func(b store.Biometric) bool {
			return b.Category == string(cat) && b.Purpose == string(consent.Deduplication)
		}) {
			continue
		}
		n, err := tx.NextDedupPoint(ctx, string(cat))
		if err != nil {
			return err
		}
		if _, err := tx.RenumberDedup(ctx, id, string(cat), n); err != nil {
			return err
		}
	}
	return nil
}

// consentTurns are the modalities whose turns a consent change takes: a
// change that may make a person's deduplication templates count again (a
// grant of identity or of a searchable modality), in the fixed order.
func (r *Registry) consentTurns(c consent.Category, d consent.Decision) []consent.Category {
	if d != consent.Granted {
		return nil
	}
	var out []consent.Category
	for _, m := range []consent.Category{consent.Fingerprint, consent.Iris} {
		if c == consent.Identity || c == m {
			out = append(out, m)
		}
	}
	return out
}
