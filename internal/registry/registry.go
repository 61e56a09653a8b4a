// Package registry holds the use cases of Assent: sites, operators,
// households, persons, consents and exams. Every use case that touches
// personal data goes through one gate (guard) that asks the consent policy
// and appends an audit event in the same transaction as the access.
//
// The registry owns the interfaces it needs (Keyring); the store contract
// comes from internal/store. A Registry is safe for concurrent use.
package registry

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/store"
	"github.com/google/uuid"
)

// Keyring seals personal data under per-(person, category) keys and makes
// keyed digests. internal/envelope implements it.
type Keyring interface {
	Seal(ctx context.Context, personID, category, kind string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, personID, category, kind string, sealed []byte) ([]byte, error)
	Shred(ctx context.Context, personID, category string) error
	ShredPerson(ctx context.Context, personID string) (int, error)
	BlindIndex(label, value string) []byte
	MAC(label string, data []byte) []byte
	SigningKey(ctx context.Context, name string) (ed25519.PrivateKey, error)
}

// Options configure a Registry. Zero values mean the documented defaults.
type Options struct {
	Consent consent.Config   // age of majority (18), grace period (180 days)
	Clock   func() time.Time // time.Now
	Logger  *slog.Logger     // slog.Default(); never given names or templates
	// The controller named on consent receipts.
	Controller   consent.Controller
	Jurisdiction string // ISO 3166 code on receipts
	PolicyURL    string // privacy notice on receipts
	// Audit is the audit log's tree and checkpoints (NewAuditLog). It is
	// told after every commit that entries were appended.
	Audit *audit.Log
	// Observer, when not nil, is told what happened, for operational
	// metrics (observer.go). It receives no personal data.
	Observer Observer
	// CareRetention is how long the care data (exams, blood type, specimen
	// custody) of a person who withdrew their registration is kept,
	// readable only for care, before `assent maintain` erases it. 0 (the
	// default): erased with the person.
	CareRetention time.Duration
	// Galleries is the 1:N gallery service; nil means an in-process one
	// (dedup.Local), filled by LoadGalleries.
	Galleries Galleries
	// ExtractionSlots bounds concurrent template extractions (default: the
	// number of cores); a request waits at most ExtractionWait (default 2 s)
	// for a slot, then gets ErrBusy.
	ExtractionSlots int
	ExtractionWait  time.Duration
}

// Registry runs the use cases.
type Registry struct {
	store store.Store
	keys  Keyring
	cfg   consent.Config
	now   func() time.Time
	log   *slog.Logger

	controller   consent.Controller
	jurisdiction string
	policyURL    string
	audit        *audit.Log
	prune        pruner // when this node last pruned dead sessions and counters (limits.go)
	gal          Galleries
	galLoaded    atomic.Bool // LoadGalleries filled an in-process gallery service
	galleryPage  int         // biometrics read per page when an in-process gallery loads
	engines      map[consent.Category]engine
	// searchMu serialises this process's additions to the gallery of a
	// modality, from the transaction that numbers them to their gallery Add
	// (dedupTurn; turns.go), and is held while a search point is read.
	searchMu   map[consent.Category]*sync.Mutex
	extraction extractor
	obs        Observer
	// careRetention: Options.CareRetention.
	careRetention time.Duration
}

// New builds a Registry over s and k.
func New(s store.Store, k Keyring, opt Options) *Registry {
	r := &Registry{store: s, keys: k, cfg: opt.Consent.WithDefaults(), now: opt.Clock, log: opt.Logger,
		controller: opt.Controller, jurisdiction: opt.Jurisdiction, policyURL: opt.PolicyURL, audit: opt.Audit,
		gal: opt.Galleries, galleryPage: 2000, engines: newEngines(), obs: opt.Observer, careRetention: max(opt.CareRetention, 0),
		searchMu:   map[consent.Category]*sync.Mutex{consent.Fingerprint: {}, consent.Iris: {}},
		extraction: newExtractor(cmp.Or(opt.ExtractionSlots, runtime.GOMAXPROCS(0)), cmp.Or(opt.ExtractionWait, 2*time.Second))}
	if r.gal == nil {
		r.gal = dedup.NewLocal()
	}
	if r.controller.Name == "" {
		r.controller = consent.Controller{Name: "Assent registry operator", Contact: "the registry office", Address: "see the notice", Email: "privacy@example.org"}
	}
	if r.jurisdiction == "" {
		r.jurisdiction = "ZZ"
	}
	if r.policyURL == "" {
		r.policyURL = "https://example.org/assent/notice"
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r
}

// Actor is who is asking: an operator (from an API key) or the subject
// (from a portal session). RequestID and Route are recorded in the audit log.
type Actor struct {
	OperatorID string
	Role       consent.Role
	Site       string
	PersonID   string // for role subject: the person logged in
	RequestID  string
	Route      string
}

// access describes one intended access, for the gate.
type access struct {
	actor   Actor
	purpose consent.Purpose
	// persons whose data is touched; empty for a household-level access
	// (decided on role and purpose alone, recorded with no person id).
	persons    []string
	categories []consent.Category
	action     consent.Action
	// creating: persons[0] does not exist yet; pending holds the consents
	// that come with the registration and birth its birth date.
	creating bool
	pending  []consent.Record
	birth    time.Time
	// only, when set, lists the purposes this use case serves; any other
	// declared purpose is refused (purpose_not_allowed) whatever the table.
	only []consent.Purpose
	// capture: a biometric capture for enrolment (counted by the Observer).
	capture bool
	// optional categories are read only when the policy allows them for
	// every person touched (the face photo of a case): the gate decides
	// them like the others, records them in each person's event when they
	// are allowed and a denied event of their own for each person whose
	// verdict refuses them; a refusal does not refuse the request. fn finds
	// the outcome in facts.optional.
	optional []consent.Category
	// operation, for an access to no person's data (audit metadata,
	// statistics, sites), is decided by consent.DecideOperation on the role
	// alone and recorded like any other decision.
	operation consent.Operation
}

// facts is what the gate loaded about one person; handlers reuse it.
type facts struct {
	person   store.Person
	identity Identity
	records  []consent.Record
	birth    time.Time
	// optional holds the access's optional categories the gate allowed
	// (for every person touched, or for none).
	optional map[consent.Category]bool
}

func (r *Registry) clock() time.Time { return r.now().UTC().Truncate(time.Millisecond) }

func newID() string { return uuid.NewString() }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("registry: crypto/rand failed: " + err.Error())
	}
	return b
}

// guard is the single gate of every personal-data access. In one write
// transaction it loads the facts of each person touched, asks consent.Decide
// for every (person, category), appends one audit event per person with the
// outcome, and when all are allowed runs fn with the facts by person id. A
// denial commits only its audit events and returns *DeniedError (or
// ErrNotFound / ErrErased). If fn fails, everything fn wrote is rolled back
// and the request is recorded as denied with the failure's code, so every
// request leaves its events whatever happens.
func (r *Registry) guard(ctx context.Context, a access, fn func(tx store.Tx, f map[string]*facts) error) error {
	var denied, fnErr error
	err := r.store.Update(ctx, func(tx store.Tx) error {
		// A backend may run this more than once (retry after a
		// serialization failure): only the last attempt counts.
		denied, fnErr = nil, nil
		var err error
		denied, err = r.guardTx(ctx, tx, a, fn)
		if err != nil && denied == nil {
			fnErr = err
		}
		return err
	})
	if r.audit != nil && err == nil || fnErr != nil {
		defer r.notifyAudit()
	}
	r.observe(a, denied, fnErr, err)
	if denied != nil {
		return denied
	}
	if fnErr != nil {
		code := failureCode(fnErr)
		if aerr := r.store.Update(ctx, func(tx store.Tx) error {
			pids := a.persons
			if len(pids) == 0 {
				pids = []string{""}
			}
			for _, pid := range pids {
				if err := r.appendAudit(ctx, tx, a, pid, false, code); err != nil {
					return err
				}
			}
			return nil
		}); aerr != nil {
			r.log.ErrorContext(ctx, "audit of a failed request", "err", aerr, "request_id", a.actor.RequestID)
		}
		return r.shreddedError(storeError(fnErr))
	}
	return err
}

// shreddedError gives a keyring's "data key shredded" its registry meaning,
// ErrErased, when the keyring can tell (envelope's IsShredded).
func (r *Registry) shreddedError(err error) error {
	if s, ok := r.keys.(interface{ IsShredded(error) bool }); ok && s.IsShredded(err) && !errors.Is(err, ErrErased) {
		return fmt.Errorf("%w: %w", ErrErased, err)
	}
	return err
}

// guardTx is the gate inside a transaction the caller owns: decide, append
// the audit events, run fn when allowed. A denial returns (denied, nil) with
// its events appended; the caller commits to keep them.
func (r *Registry) guardTx(ctx context.Context, tx store.Tx, a access, fn func(tx store.Tx, f map[string]*facts) error) (denied, err error) {
	all := make(map[string]*facts, len(a.persons))
	verdicts := make([]consent.Verdict, 0, max(1, len(a.persons)))
	if len(a.persons) == 0 {
		verdicts = append(verdicts, r.decideRole(a))
	}
	for _, id := range a.persons {
		f, err := r.loadFacts(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		all[id] = f
		verdicts = append(verdicts, r.decide(a, id, f))
	}
	first := -1
	for i, v := range verdicts {
		if !v.Allow && first < 0 {
			first = i
		}
	}
	optional, optDenied := r.decideOptional(a, all, first < 0)
	for i, v := range verdicts {
		pid := ""
		if len(a.persons) > 0 {
			pid = a.persons[i]
		}
		allow, reason := v.Allow && first < 0, string(v.Reason)
		if allow {
			reason = ""
		} else if v.Allow {
			reason = string(verdicts[first].Reason) // refused because another person's access was
		}
		ev := a
		if allow {
			for _, c := range a.optional {
				if optional[c] {
					ev.categories = append(slices.Clone(ev.categories), c)
				}
			}
		}
		if err := r.appendAudit(ctx, tx, ev, pid, allow, reason); err != nil {
			return nil, err
		}
		if allow {
			for _, d := range optDenied[pid] {
				od := a
				od.categories = []consent.Category{d.category}
				if err := r.appendAudit(ctx, tx, od, pid, false, string(d.verdict.Reason)); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, f := range all {
		f.optional = optional
	}
	if first >= 0 {
		return verdictError(verdicts[first]), nil
	}
	return nil, fn(tx, all)
}

type optionalDenial struct {
	category consent.Category
	verdict  consent.Verdict
}

// decideOptional decides the optional categories of a (for persons whose
// facts are in all): a category is allowed only when every person's
// verdict allows it. It returns the allowed set and, by person, the
// refusals to record.
func (r *Registry) decideOptional(a access, all map[string]*facts, ok bool) (map[consent.Category]bool, map[string][]optionalDenial) {
	allowed := map[consent.Category]bool{}
	if !ok || len(a.optional) == 0 || len(a.persons) == 0 {
		return allowed, nil
	}
	denied := map[string][]optionalDenial{}
	for _, c := range a.optional {
		every := true
		for _, pid := range a.persons {
			b := a
			b.categories = []consent.Category{c}
			if v := r.decide(b, pid, all[pid]); !v.Allow {
				every = false
				denied[pid] = append(denied[pid], optionalDenial{category: c, verdict: v})
			}
		}
		allowed[c] = every
	}
	return allowed, denied
}

// decideRole decides an access that touches no single person's record (a
// household as a whole): the role must be allowed the action on identity for
// the purpose.
// RecordRefusal appends the audit event of a request the HTTP layer refused
// before it reached a use case (no or unknown purpose, a portal token on an
// operator route), so every authenticated attempt on personal data is in the
// log. purpose is recorded only when it is a known purpose.
func (r *Registry) RecordRefusal(ctx context.Context, actor Actor, purpose, personID, reason string) error {
	p := consent.Purpose(purpose)
	if !p.Valid() {
		p = ""
	}
	a := access{actor: actor, purpose: p, action: "request"}
	err := r.store.Update(ctx, func(tx store.Tx) error {
		return r.appendAudit(ctx, tx, a, personID, false, reason)
	})
	if r.obs != nil && err == nil {
		r.obs.Denied(reason)
	}
	r.notifyAudit()
	return err
}

func (r *Registry) notifyAudit() {
	if r.audit != nil {
		r.audit.Notify()
	}
}

func (r *Registry) decideRole(a access) consent.Verdict {
	if a.operation != "" {
		return consent.DecideOperation(a.actor.Role, a.operation)
	}
	if len(a.only) > 0 && !slices.Contains(a.only, a.purpose) {
		return consent.Verdict{Reason: consent.ReasonPurposeNotAllowed}
	}
	if len(consent.RolePurposes(a.actor.Role)) == 0 || !slices.Contains(consent.RolePurposes(a.actor.Role), a.purpose) {
		return consent.Verdict{Reason: consent.ReasonRoleNotAllowed}
	}
	for _, c := range a.categories {
		if !slices.Contains(consent.ActionsFor(a.actor.Role, a.purpose, c), a.action) {
			return consent.Verdict{Reason: consent.ReasonPurposeNotAllowed}
		}
	}
	return consent.Verdict{Allow: true}
}

func (r *Registry) decide(a access, personID string, f *facts) consent.Verdict {
	if len(a.only) > 0 && !slices.Contains(a.only, a.purpose) && a.actor.Role != consent.Subject {
		return consent.Verdict{Reason: consent.ReasonPurposeNotAllowed}
	}
	cp := consent.Person{
		Exists:    f.person.ID != "" && f.person.Status == store.StatusActive,
		Erased:    f.person.Status == store.StatusErased,
		BirthDate: f.birth,
	}
	if cp.Erased {
		cp.CareRetainedUntil = r.careRetainedUntil(f.person)
	}
	records := f.records
	if a.creating {
		cp = consent.Person{BirthDate: a.birth}
		records = a.pending
	}
	facts := consent.Facts{Person: cp, Records: records, Now: r.clock(), Config: r.cfg}
	v := consent.Verdict{Allow: true}
	for _, c := range a.categories {
		v = consent.Decide(consent.Request{
			Role: a.actor.Role, OperatorSite: a.actor.Site, Purpose: a.purpose, PersonID: personID,
			Category: c, Action: a.action, SubjectPersonID: a.actor.PersonID,
		}, facts)
		if !v.Allow {
			return v
		}
	}
	return v
}

func verdictError(v consent.Verdict) error {
	switch v.Reason {
	case consent.ReasonNotFound:
		return fmt.Errorf("registry: %w", ErrNotFound)
	case consent.ReasonErased:
		return fmt.Errorf("registry: %w", ErrErased)
	}
	return &DeniedError{Reason: string(v.Reason), Detail: v.Detail}
}

// storeError gives store sentinels their registry meaning.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict) && !errors.Is(err, ErrConflict):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, store.ErrNotFound) && !errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

func failureCode(err error) string {
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return ie.Code
	case errors.Is(err, ErrConflict), errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrBusy):
		return "busy"
	}
	return "internal_error"
}

func (r *Registry) loadFacts(ctx context.Context, tx store.Tx, a access, personID string) (*facts, error) {
	f := &facts{}
	if a.creating {
		return f, nil
	}
	p, err := tx.GetPerson(ctx, personID)
	if errors.Is(err, store.ErrNotFound) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	f.person = p
	if p.Status != store.StatusActive {
		return f, nil
	}
	id, err := r.openIdentity(ctx, p)
	if err != nil {
		return nil, err
	}
	f.identity = id
	f.birth = birthTime(id.BirthDate)
	hist, err := tx.ConsentHistory(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	f.records = toConsentRecords(hist)
	return f, nil
}

func toConsentRecords(hist []store.ConsentRecord) []consent.Record {
	out := make([]consent.Record, len(hist))
	for i, h := range hist {
		out[i] = consent.Record{
			PersonID: h.PersonID, Category: consent.Category(h.Category), Purpose: consent.Purpose(h.Purpose),
			Decision: consent.Decision(h.Decision), Method: h.Method, NoticeVersion: h.NoticeVersion,
			Language: h.Language, OperatorID: h.OperatorID, Site: h.Site, GuardianID: h.GuardianID, At: h.At,
		}
	}
	return out
}

func (r *Registry) appendAudit(ctx context.Context, tx store.Tx, a access, personID string, allow bool, reason string) error {
	cats := make([]string, len(a.categories))
	for i, c := range a.categories {
		cats[i] = string(c)
	}
	size, err := tx.AuditSize(ctx)
	if err != nil {
		return err
	}
	ev := audit.Event{
		Index: size, Time: r.clock(), RequestID: a.actor.RequestID, OperatorID: a.actor.OperatorID,
		Role: string(a.actor.Role), Site: a.actor.Site, Purpose: string(a.purpose), PersonID: personID,
		Categories: cats, Action: string(a.action), Route: a.actor.Route, Outcome: audit.Allow,
	}
	if !allow {
		ev.Outcome, ev.Reason = audit.Deny, reason
	}
	data, err := ev.Encode()
	if err != nil {
		return fmt.Errorf("registry: audit: %w", err)
	}
	idx, err := tx.AppendAudit(ctx, personID, data, audit.LeafHash(data))
	if err != nil {
		return fmt.Errorf("registry: audit: %w", err)
	}
	if idx != size {
		return fmt.Errorf("registry: audit: appended at %d, expected %d: %w", idx, size, ErrConflict)
	}
	return nil
}
