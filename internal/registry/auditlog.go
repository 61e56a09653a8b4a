package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// AuditKeyName names the audit checkpoint signing key in the keyring.
const AuditKeyName = "audit-checkpoints"

// AuditStore adapts a store.Store to the audit package's LeafSource,
// CheckpointStore and Lease (every backend's audit tables and leases,
// through store.Tx).
type AuditStore struct {
	s      store.Store
	now    func() time.Time
	holder string // this node's name in the checkpoint lease
}

// auditLease names the lease held while a checkpoint is cut.
const auditLease = "audit-checkpoint"

// NewAuditStore adapts s; now stamps saved checkpoints and times the
// checkpoint lease (nil: time.Now; nodes sharing a database need clocks
// in step to well within the lease's TTL, as NTP keeps them). Each
// AuditStore is a holder of its own in the lease.
func NewAuditStore(s store.Store, now func() time.Time) AuditStore {
	if now == nil {
		now = time.Now
	}
	return AuditStore{s: s, now: now, holder: hex.EncodeToString(randomBytes(12))}
}

// Acquire takes the checkpoint lease for ttl (audit.Lease).
func (a AuditStore) Acquire(ctx context.Context, ttl time.Duration) (bool, error) {
	var ok bool
	err := a.s.Update(ctx, func(tx store.Tx) error {
		now := a.now()
		var err error
		ok, err = tx.AcquireLease(ctx, auditLease, a.holder, now, now.Add(ttl))
		return err
	})
	return ok, err
}

// Release gives the checkpoint lease up (audit.Lease).
func (a AuditStore) Release(ctx context.Context) error {
	return a.s.Update(ctx, func(tx store.Tx) error { return tx.ReleaseLease(ctx, auditLease, a.holder) })
}

func (a AuditStore) AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error) {
	var out [][]byte
	err := a.s.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.AuditLeafHashes(ctx, from, limit)
		return err
	})
	return out, err
}

func (a AuditStore) SaveCheckpoint(ctx context.Context, size uint64, note []byte) error {
	return a.s.Update(ctx, func(tx store.Tx) error { return tx.SaveCheckpoint(ctx, size, note, a.now().UTC()) })
}

func (a AuditStore) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	var size uint64
	var note []byte
	err := a.s.View(ctx, func(tx store.Tx) error {
		var err error
		size, note, err = tx.LatestCheckpoint(ctx)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, fmt.Errorf("registry: %w", audit.ErrNoCheckpoint)
	}
	return size, note, err
}

// AuditSigner returns the signer of this registry's audit checkpoints. The
// log's origin is derived from its public key, so it names this registry.
func AuditSigner(ctx context.Context, k Keyring) (*audit.Signer, error) {
	priv, err := k.SigningKey(ctx, AuditKeyName)
	if err != nil {
		return nil, fmt.Errorf("registry: audit key: %w", err)
	}
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return audit.NewSigner("assent.audit/"+hex.EncodeToString(sum[:6]), priv)
}

// NewAuditLog builds the audit Log (tree, checkpoints, proofs) over s.
func NewAuditLog(ctx context.Context, s store.Store, k Keyring, clock func() time.Time, log *slog.Logger) (*audit.Log, error) {
	signer, err := AuditSigner(ctx, k)
	if err != nil {
		return nil, err
	}
	as := NewAuditStore(s, clock)
	al, err := audit.NewLog(audit.Config{Leaves: as, Checkpoints: as, Signer: signer, Logger: log, Lease: as})
	if err != nil {
		return nil, err
	}
	if _, err := al.Sync(ctx); err != nil {
		return nil, err
	}
	return al, nil
}

// AuditRows yields every stored audit row in index order, for Verify.
func AuditRows(ctx context.Context, s store.Store) iter.Seq2[audit.Row, error] {
	return func(yield func(audit.Row, error) bool) {
		const batch = 5000
		var from uint64
		for {
			var rows []store.AuditRow
			err := s.View(ctx, func(tx store.Tx) error {
				var err error
				rows, err = tx.AuditRows(ctx, from, batch)
				return err
			})
			if err != nil {
				yield(audit.Row{}, err)
				return
			}
			for _, r := range rows {
				pid := r.PersonID
				if !yield(audit.Row{Index: r.Index, Data: r.Data, LeafHash: r.LeafHash, PersonID: &pid}, nil) {
					return
				}
				from = r.Index + 1
			}
			if len(rows) < batch {
				return
			}
		}
	}
}

// AuditCheckpointNotes returns every stored checkpoint note.
func AuditCheckpointNotes(ctx context.Context, s store.Store) ([][]byte, error) {
	var out [][]byte
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Checkpoints(ctx)
		return err
	})
	return out, err
}

// Checkpoint returns the latest signed checkpoint, cutting one when none
// exists yet or when entries were appended since (so it covers every entry
// committed before the call).
func (r *Registry) Checkpoint(ctx context.Context) (audit.SignedCheckpoint, error) {
	if r.audit == nil {
		return audit.SignedCheckpoint{}, errors.New("registry: no audit log configured")
	}
	return r.audit.Checkpoint(ctx)
}

// AuditVerifierKey is the public key (note verifier format) of checkpoints.
func (r *Registry) AuditVerifierKey() string {
	if r.audit == nil {
		return ""
	}
	return r.audit.VerifierKey()
}

// InclusionProof proves that entry index is in the tree of size.
func (r *Registry) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	p, err := r.audit.InclusionProof(ctx, index, size)
	if errors.Is(err, audit.ErrOutOfRange) {
		return nil, invalid("index", "must be below size, and size at most the log's size")
	}
	return p, err
}

// ConsistencyProof proves that the tree of size from is a prefix of to.
func (r *Registry) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	p, err := r.audit.ConsistencyProof(ctx, from, to)
	if errors.Is(err, audit.ErrOutOfRange) {
		return nil, invalid("from", "must be at most to, and to at most the log's size")
	}
	return p, err
}

// AuditEntry is one audit event as auditors and persons see it.
type AuditEntry struct {
	Index      uint64    `json:"index"`
	Time       time.Time `json:"time"`
	OperatorID string    `json:"operator_id,omitempty"`
	Role       string    `json:"role"`
	Site       string    `json:"site,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	PersonID   string    `json:"person_id,omitempty"`
	Categories []string  `json:"categories"`
	Action     string    `json:"action"`
	Route      string    `json:"route,omitempty"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	LeafHash   []byte    `json:"leaf_hash"`
	// Proof is the inclusion proof against Checkpoint (access log only).
	Proof [][]byte `json:"inclusion_proof,omitempty"`
}

func entryFrom(row store.AuditRow) (AuditEntry, error) {
	ev, err := audit.DecodeEvent(row.Data)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("registry: audit row %d: %w", row.Index, err)
	}
	cats := ev.Categories
	if cats == nil {
		cats = []string{}
	}
	return AuditEntry{Index: row.Index, Time: ev.Time, OperatorID: ev.OperatorID, Role: ev.Role, Site: ev.Site, Purpose: ev.Purpose,
		PersonID: ev.PersonID, Categories: cats, Action: ev.Action, Route: ev.Route, Outcome: ev.Outcome, Reason: ev.Reason,
		RequestID: ev.RequestID, LeafHash: row.LeafHash}, nil
}

// MaxAuditPage bounds one page of audit events.
const MaxAuditPage = 1000

// AuditEvents lists audit metadata [from, to) for auditors (at most
// MaxAuditPage). Audit metadata holds ids, never names or biometric data.
func (r *Registry) AuditEvents(ctx context.Context, actor Actor, from, to uint64) ([]AuditEntry, error) {
	out := []AuditEntry{}
	err := r.guard(ctx, operationAccess(actor, consent.ReadAuditLog), func(tx store.Tx, _ map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		if to <= from {
			return nil
		}
		limit := min(int(to-from), MaxAuditPage)
		rows, err := tx.AuditRows(ctx, from, limit)
		for _, row := range rows {
			e, err := entryFrom(row)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// DenyCount is how often access was denied for one reason at one site.
type DenyCount struct {
	Site   string `json:"site"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// AuditStats counts denials by reason and site (auditors). It reads the
// whole log; fine for the sizes an auditor asks about, noted in docs/audit.md.
func (r *Registry) AuditStats(ctx context.Context, actor Actor) ([]DenyCount, uint64, error) {
	if err := r.guard(ctx, operationAccess(actor, consent.ReadAuditLog), func(store.Tx, map[string]*facts) error { return nil }); err != nil {
		return nil, 0, err
	}
	counts := map[[2]string]int{}
	var total uint64
	for row, err := range AuditRows(ctx, r.store) {
		if err != nil {
			return nil, 0, err
		}
		total++
		ev, err := audit.DecodeEvent(row.Data)
		if err != nil {
			return nil, 0, err
		}
		if ev.Outcome == audit.Deny {
			counts[[2]string{ev.Site, ev.Reason}]++
		}
	}
	out := []DenyCount{}
	for k, n := range counts {
		out = append(out, DenyCount{Site: k[0], Reason: k[1], Count: n})
	}
	sortDenyCounts(out)
	return out, total, nil
}

// AccessLog is a person's own view of who accessed their data.
type AccessLog struct {
	PersonID    string       `json:"person_id"`
	Checkpoint  string       `json:"checkpoint"` // the signed note the proofs refer to
	VerifierKey string       `json:"verifier_key"`
	Entries     []AuditEntry `json:"entries"`
}

// AccessLog lists every audit event about a person (allowed and denied),
// each with an inclusion proof against a checkpoint cut after the read, so
// the person can check nothing was hidden from the signed log.
func (r *Registry) AccessLog(ctx context.Context, actor Actor, purpose consent.Purpose, id string) (AccessLog, error) {
	out := AccessLog{PersonID: id, Entries: []AuditEntry{}}
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Export}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		out.Entries = out.Entries[:0] // a backend may retry this function
		rows, err := tx.AuditRowsForPerson(ctx, id, 100000)
		if err != nil {
			return err
		}
		for _, row := range rows {
			e, err := entryFrom(row)
			if err != nil {
				return err
			}
			if e.PersonID != id { // the index column was edited; the event is the truth
				continue
			}
			out.Entries = append(out.Entries, e)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return out, err
	}
	out.Checkpoint, out.VerifierKey = string(cp.Note), r.AuditVerifierKey()
	for i := range out.Entries {
		if out.Entries[i].Index >= cp.Size {
			continue
		}
		out.Entries[i].Proof, err = r.audit.InclusionProof(ctx, out.Entries[i].Index, cp.Size)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
