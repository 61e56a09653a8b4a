package registry

import (
	"context"
	"errors"
	"time"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/store"
)

// Observer is told what the registry did, for the operational metrics a
// programme watches (internal/opsmetrics). It is optional: Options.Observer
// nil tells nobody. It never receives personal data: no person id, name or
// template, only modalities, outcomes and reason codes. Calls come once per
// request, after its transaction committed or failed for good (never per
// retry), from request goroutines: implementations must be safe for
// concurrent use and must not block.
type Observer interface {
	// Registered: a person was registered (API or import).
	Registered()
	// Captured: a biometric capture for enrolment of modality ended with
	// outcome: OutcomeEnrolled, a failure code (CodeQualityTooLow,
	// CodeInvalidCapture, ...), OutcomeDenied or OutcomeFailed.
	Captured(modality, outcome string)
	// Denied: the policy refused an access, for reason (the reason recorded
	// in the audit log: a consent.Reason or an HTTP-layer refusal).
	Denied(reason string)
}

// Capture outcomes other than an InputError's code.
const (
	OutcomeEnrolled = "enrolled"
	OutcomeDenied   = "denied" // the policy refused the capture
	OutcomeFailed   = "failed" // anything that is not the capture's fault
)

// observe tells the observer how the access a ended: denied (the policy's
// verdict error), failed (the use case's error) or err (the transaction's).
func (r *Registry) observe(a access, denied, failed, err error) {
	if r.obs == nil {
		return
	}
	if denied != nil {
		r.obs.Denied(deniedReason(denied))
	}
	switch {
	case a.creating && len(a.persons) > 0:
		if denied == nil && failed == nil && err == nil {
			r.obs.Registered()
		}
	case a.capture && len(a.categories) == 1:
		r.obs.Captured(string(a.categories[0]), captureOutcome(denied, failed, err))
	}
}

func deniedReason(denied error) string {
	var de *DeniedError
	switch {
	case errors.As(denied, &de):
		return de.Reason
	case errors.Is(denied, ErrNotFound):
		return "not_found"
	case errors.Is(denied, ErrErased):
		return "erased"
	}
	return "other"
}

func captureOutcome(denied, failed, err error) string {
	var ie *InputError
	switch {
	case denied != nil:
		return OutcomeDenied
	case errors.As(failed, &ie):
		return ie.Code
	case failed != nil, err != nil:
		return OutcomeFailed
	}
	return OutcomeEnrolled
}

// OpsStats are the registry's figures for operational metrics, read in one
// transaction. They hold no personal data and need no policy decision (like
// GallerySizes): counts and a time.
type OpsStats struct {
	OpenCases int // possible duplicates waiting for an adjudicator
	// PendingSearches counts deduplication searches a gallery shard left
	// unfinished, waiting for CompletePendingSearches.
	PendingSearches int
	AuditEntries    uint64 // events in the audit log
	Checkpointed    uint64 // events covered by the latest signed checkpoint
	// OldestUncovered is the time of the oldest audit event no signed
	// checkpoint covers yet; zero when every event is covered.
	OldestUncovered time.Time
}

// OpsStats reads the operational figures. It is read-only and returns no
// personal data.
func (r *Registry) OpsStats(ctx context.Context) (OpsStats, error) {
	var st OpsStats
	err := r.store.View(ctx, func(tx store.Tx) error {
		if cc, ok := tx.(store.CaseCounter); ok {
			n, err := cc.CountCases(ctx, store.CaseOpen)
			if err != nil {
				return err
			}
			st.OpenCases = n
		} else {
			open, err := tx.ListCases(ctx, store.CaseOpen, MaxCases)
			if err != nil {
				return err
			}
			st.OpenCases = len(open)
		}
		n, err := tx.CountPendingSearches(ctx)
		if err != nil {
			return err
		}
		st.PendingSearches = n
		size, err := tx.AuditSize(ctx)
		if err != nil {
			return err
		}
		st.AuditEntries = size
		cp, _, err := tx.LatestCheckpoint(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cp = 0
		case err != nil:
			return err
		}
		st.Checkpointed = cp
		if cp >= size {
			return nil
		}
		rows, err := tx.AuditRows(ctx, cp, 1)
		if err != nil || len(rows) == 0 {
			return err
		}
		ev, err := audit.DecodeEvent(rows[0].Data)
		if err != nil {
			return err
		}
		st.OldestUncovered = ev.Time
		return nil
	})
	return st, err
}
