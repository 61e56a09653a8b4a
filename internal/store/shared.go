package store

import (
	"context"
	"time"
)

// Shared is what several API nodes over one database must agree on, kept in
// the database instead of one process's memory: sign-in sessions, login
// counters (rate limits and lockouts) and leases. Rows hold no personal data
// in the clear: session ids and counter keys are keyed MACs made by the
// caller (the token or the person id and client address never reach the
// table), and every row carries the time after which it is dead and may be
// pruned.
type Shared interface {
	// PutSession stores s, replacing a session with the same ID.
	PutSession(ctx context.Context, s Session) error
	// GetSession returns the session id that is live at now (ExpiresAt after
	// now), or ErrNotFound.
	GetSession(ctx context.Context, id []byte, now time.Time) (Session, error)
	// DeleteSession removes session id and every session whose Parent is id.
	// Deleting an absent session is not an error.
	DeleteSession(ctx context.Context, id []byte) error
	// GetCounter returns the counter at key, or ErrNotFound.
	GetCounter(ctx context.Context, key []byte) (Counter, error)
	// PutCounter stores c at key, replacing what was there.
	PutCounter(ctx context.Context, key []byte, c Counter) error
	// DeleteCounter removes the counter at key; an absent one is not an error.
	DeleteCounter(ctx context.Context, key []byte) error
	// AcquireLease gives the lease name to holder until until, and reports
	// true, when nobody holds it, holder already does, or the holder's time
	// ran out at now; otherwise it changes nothing and reports false.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease ends holder's lease name; one held by another is kept.
	ReleaseLease(ctx context.Context, name, holder string) error
	// PruneShared deletes at most limit sessions and at most limit counters
	// that were dead at now, and reports how many rows went.
	PruneShared(ctx context.Context, now time.Time, limit int) (int, error)
}

// Session is one sign-in: a portal session (Kind "portal", PersonID) or a
// web interface session (Kind "ui", OperatorID, or PersonID and Parent, the
// id of the portal session it rides on). ID is a keyed MAC of the bearer
// token; the token itself is never stored.
type Session struct {
	ID         []byte
	Kind       string
	OperatorID string
	PersonID   string
	Parent     []byte
	Role       string
	Purpose    string
	// Method is how the session was opened: "key", "password" or "code"
	// (the portal code); the web interface offers TOTP to password
	// sessions only.
	Method    string
	ExpiresAt time.Time
}

// Counter is a count of events in a window that started at Start, and a
// lock that holds until LockedUntil; the row is dead after ExpiresAt.
type Counter struct {
	N           int
	Start       time.Time
	LockedUntil time.Time
	ExpiresAt   time.Time
}
