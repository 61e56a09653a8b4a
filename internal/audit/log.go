package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// LeafSource reads the stored leaf hashes of the audit log. The store
// implements it; a Log uses it to catch up with rows committed since.
type LeafSource interface {
	// AuditLeafHashes returns the leaf_hash of the rows with idx >= from, in
	// idx order, at most limit of them. Fewer than limit (possibly none)
	// means there are no more rows for now. The store must never make a row
	// visible before every row with a smaller idx is visible (true when idx is
	// assigned as max+1 inside the writing transaction under one writer or a
	// unique index on idx).
	AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error)
}

// CheckpointStore keeps signed checkpoint notes (audit_checkpoints).
type CheckpointStore interface {
	// SaveCheckpoint stores a signed checkpoint note of the given size.
	SaveCheckpoint(ctx context.Context, size uint64, note []byte) error
	// LatestCheckpoint returns the most recently saved checkpoint, or an
	// error wrapping ErrNoCheckpoint when none was ever saved.
	LatestCheckpoint(ctx context.Context) (size uint64, note []byte, err error)
}

// Lease lets one Log at a time, among several over one store (one per API
// node), cut a checkpoint: the store implements it (a row with a holder and
// an expiry, store.Shared). Without a Lease a Log assumes it is alone.
type Lease interface {
	// Acquire takes the lease for ttl, or renews it, and reports true; it
	// reports false when another holder has it and its time is not out.
	Acquire(ctx context.Context, ttl time.Duration) (bool, error)
	// Release gives the lease up (a lease held by another is kept).
	Release(ctx context.Context) error
}

// ErrLeaseBusy is wrapped by Log.Checkpoint when another Log held the
// checkpoint lease for longer than Config.LeaseWait.
var ErrLeaseBusy = errors.New("another node holds the audit checkpoint lease")

// ErrNoCheckpoint is wrapped by CheckpointStore.LatestCheckpoint and
// Log.Latest when no checkpoint exists yet.
var ErrNoCheckpoint = errors.New("no audit checkpoint yet")

// ErrInconsistent is wrapped by Log.Checkpoint when the stored log no longer
// matches the latest saved checkpoint (rows removed or rewritten, or a
// checkpoint not signed by this log's key). The Log then refuses to sign
// anything until the cause is found, with Verify.
var ErrInconsistent = errors.New("audit log inconsistent with its latest checkpoint")

// SignedCheckpoint is a checkpoint and the signed note that carries it.
type SignedCheckpoint struct {
	Checkpoint
	Note []byte
}

// Config configures a Log. Leaves, Checkpoints and Signer are required.
type Config struct {
	Leaves      LeafSource
	Checkpoints CheckpointStore
	Signer      *Signer
	// BatchSize is how many leaf hashes Sync asks for at a time; 0 means
	// 10000.
	BatchSize int
	// PollInterval is how often Run looks for new entries when it cuts
	// checkpoints by entry count; 0 means one second. Notify wakes it early.
	PollInterval time.Duration
	// Logger receives Run's errors; nil discards them.
	Logger *slog.Logger
	// Lease, when set, is held while a checkpoint is cut, so that Logs of
	// several nodes over one store cut one checkpoint at a time (each size
	// once, sizes in order). LeaseTTL is how long it is taken for (0: 10 s;
	// a node that dies holding it blocks others that long); LeaseWait how
	// long Checkpoint waits for it (0: 15 s), then fails with ErrLeaseBusy.
	Lease     Lease
	LeaseTTL  time.Duration
	LeaseWait time.Duration
}

// Log keeps an in-memory Tree in step with the stored audit rows and cuts
// signed checkpoints. Entries are appended by the store, not by the Log; the
// Log only reads them. Its memory is the Tree's, about 64 bytes per entry.
//
// A Log is safe for concurrent use. Sync and Checkpoint serialise among
// themselves; proofs read the tree concurrently. Several Logs over one
// database (one per API node, each with its Run) follow the same table:
// each syncs before it cuts a checkpoint or proves an entry beyond what it
// holds, and with a Config.Lease only one of them cuts at a time, so every
// size is signed once and checkpoints are saved in size order.
type Log struct {
	cfg    Config
	tree   Tree
	mu     sync.Mutex // serialises Sync and Checkpoint
	last   uint64     // size of the latest checkpoint seen (guarded by mu)
	notify chan struct{}
}

// NewLog returns a Log over the given store. It reads nothing until Sync.
func NewLog(cfg Config) (*Log, error) {
	const op = "audit.NewLog"
	if cfg.Leaves == nil || cfg.Checkpoints == nil || cfg.Signer == nil {
		return nil, fmt.Errorf("%s: Leaves, Checkpoints and Signer are required", op)
	}
	if cfg.BatchSize < 0 || cfg.PollInterval < 0 {
		return nil, fmt.Errorf("%s: negative BatchSize or PollInterval", op)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 10000
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeaseTTL < 0 || cfg.LeaseWait < 0 {
		return nil, fmt.Errorf("%s: negative LeaseTTL or LeaseWait", op)
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.LeaseWait == 0 {
		cfg.LeaseWait = 15 * time.Second
	}
	return &Log{cfg: cfg, notify: make(chan struct{}, 1)}, nil
}

// VerifierKey returns the verifier key to publish for this log's checkpoints.
func (l *Log) VerifierKey() string { return l.cfg.Signer.VerifierKey() }

// Size returns the number of entries synced into memory so far.
func (l *Log) Size() uint64 { return l.tree.Size() }

// Sync appends every stored leaf hash not yet in the tree and returns the
// new size.
func (l *Log) Sync(ctx context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sync(ctx)
}

func (l *Log) sync(ctx context.Context) (uint64, error) {
	const op = "audit.Log.Sync"
	for {
		from := l.tree.Size()
		hashes, err := l.cfg.Leaves.AuditLeafHashes(ctx, from, l.cfg.BatchSize)
		if err != nil {
			return from, fmt.Errorf("%s: from %d: %w", op, from, err)
		}
		if len(hashes) > l.cfg.BatchSize {
			return from, fmt.Errorf("%s: store returned %d hashes, limit %d", op, len(hashes), l.cfg.BatchSize)
		}
		for i, h := range hashes {
			if err := l.tree.Append(h); err != nil {
				return from + uint64(i), fmt.Errorf("%s: entry %d: %w", op, from+uint64(i), err)
			}
		}
		if len(hashes) < l.cfg.BatchSize {
			return l.tree.Size(), nil
		}
	}
}

// Checkpoint syncs, then signs and saves a checkpoint of the current size if
// the log grew since the latest saved checkpoint (or none exists, even for
// an empty log), and returns the latest checkpoint, new or not. Before
// signing it checks that the latest saved checkpoint is signed by this log's
// key and that its root is the tree's root at its size; otherwise it signs
// nothing and returns an error wrapping ErrInconsistent.
//
// On shutdown, call Checkpoint once more with a live context after Run has
// returned, so the last checkpoint covers every entry.
func (l *Log) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	const op = "audit.Log.Checkpoint"
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.sync(ctx) // the bulk of a catch-up, before taking the lease
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	held := func() error { return nil }
	if l.cfg.Lease != nil {
		release, stillHeld, err := l.acquire(ctx)
		if err != nil {
			return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
		}
		defer release()
		held = stillHeld
		if size, err = l.sync(ctx); err != nil {
			return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	latest, err := l.latest(ctx)
	if err == nil && latest.Size > size {
		// Another node appended and cut since our sync; the rows its
		// checkpoint covers were committed before it was saved.
		if size, err = l.sync(ctx); err != nil {
			return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	switch {
	case errors.Is(err, ErrNoCheckpoint):
	case err != nil:
		return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
	default:
		if latest.Size > size {
			return SignedCheckpoint{}, fmt.Errorf("%s: latest checkpoint covers %d entries, the store has %d: %w", op, latest.Size, size, ErrInconsistent)
		}
		root, err := l.tree.RootAt(latest.Size)
		if err != nil {
			return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
		}
		if !bytes.Equal(root, latest.Root) {
			return SignedCheckpoint{}, fmt.Errorf("%s: stored entries below %d do not hash to the latest checkpoint's root: %w", op, latest.Size, ErrInconsistent)
		}
		l.last = latest.Size
		if latest.Size == size {
			return latest, nil
		}
	}
	root, err := l.tree.RootAt(size)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	signed, err := l.cfg.Signer.SignCheckpoint(size, root)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := held(); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: size %d not saved: %w", op, size, err)
	}
	if err := l.cfg.Checkpoints.SaveCheckpoint(ctx, size, signed); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: save size %d: %w", op, size, err)
	}
	l.last = size
	return SignedCheckpoint{
		Checkpoint: Checkpoint{Origin: l.cfg.Signer.Origin(), Size: size, Root: root},
		Note:       signed,
	}, nil
}

// acquire waits for the checkpoint lease, at most LeaseWait. It returns
// the function that releases it and one that reports whether it is still
// held: while held, the lease is renewed every third of LeaseTTL, so a cut
// that takes longer than the TTL (a long catch-up, a slow store) keeps it;
// a renewal that fails or finds another holder marks it lost, and the cut
// then saves nothing.
func (l *Log) acquire(ctx context.Context) (release func(), held func() error, err error) {
	deadline := time.Now().Add(l.cfg.LeaseWait)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		ok, err := l.cfg.Lease.Acquire(ctx, l.cfg.LeaseTTL)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint lease: %w", err)
		}
		if ok {
			release, held := l.renew(ctx)
			return release, held, nil
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, nil, fmt.Errorf("checkpoint lease: waited %v: %w", l.cfg.LeaseWait, ErrLeaseBusy)
		}
		t := time.NewTimer(wait + time.Duration(rand.Int64N(int64(wait))))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// renew keeps a freshly acquired lease until release is called.
func (l *Log) renew(ctx context.Context) (release func(), held func() error) {
	var (
		mu   sync.Mutex
		lost error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(l.cfg.LeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ok, err := l.cfg.Lease.Acquire(ctx, l.cfg.LeaseTTL)
			if err == nil && !ok {
				err = fmt.Errorf("checkpoint lease lost to another node: %w", ErrLeaseBusy)
			}
			if err != nil {
				mu.Lock()
				lost = fmt.Errorf("checkpoint lease not renewed: %w", err)
				mu.Unlock()
				return
			}
		}
	}()
	held = func() error {
		mu.Lock()
		defer mu.Unlock()
		return lost
	}
	release = func() {
		close(stop)
		<-done
		if held() != nil {
			return // another node holds it now: not ours to release
		}
		// Released even when ctx ended: else others wait out the TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.cfg.Lease.Release(rctx); err != nil {
			l.cfg.Logger.Warn("audit checkpoint lease not released; it lapses at its expiry", "err", err)
		}
	}
	return release, held
}

// Latest returns the latest saved checkpoint, verified against this log's
// key, or an error wrapping ErrNoCheckpoint. It does not sync or sign.
func (l *Log) Latest(ctx context.Context) (SignedCheckpoint, error) {
	return l.latest(ctx)
}

func (l *Log) latest(ctx context.Context) (SignedCheckpoint, error) {
	const op = "audit.Log.Latest"
	size, note, err := l.cfg.Checkpoints.LatestCheckpoint(ctx)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: %w", op, err)
	}
	cp, err := OpenCheckpoint(note, l.VerifierKey())
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%s: %w: %w", op, ErrInconsistent, err)
	}
	if cp.Size != size {
		return SignedCheckpoint{}, fmt.Errorf("%s: stored size %d, note says %d: %w", op, size, cp.Size, ErrInconsistent)
	}
	return SignedCheckpoint{Checkpoint: cp, Note: note}, nil
}

// InclusionProof returns the inclusion proof of entry index in the tree of
// the given size (usually a checkpoint's size), syncing first if size is
// beyond what is in memory. Errors wrap ErrOutOfRange unless index < size
// and size is at most the stored log's size.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if err := l.syncTo(ctx, size); err != nil {
		return nil, err
	}
	return l.tree.InclusionProof(index, size)
}

// ConsistencyProof returns the consistency proof between the trees of sizes
// from and to, syncing first if needed. Errors wrap ErrOutOfRange unless
// from <= to and to is at most the stored log's size.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if err := l.syncTo(ctx, to); err != nil {
		return nil, err
	}
	return l.tree.ConsistencyProof(from, to)
}

// ProveAgainstLatest returns the latest saved checkpoint and, for each of
// indexes, the inclusion proof of that entry against it, for a person's
// access log. An entry newer than the checkpoint gets a nil proof: it will
// be provable once the next checkpoint is cut. Errors wrap ErrNoCheckpoint
// when there is no checkpoint yet.
func (l *Log) ProveAgainstLatest(ctx context.Context, indexes []uint64) (SignedCheckpoint, [][][]byte, error) {
	const op = "audit.Log.ProveAgainstLatest"
	cp, err := l.Latest(ctx)
	if err != nil {
		return SignedCheckpoint{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := l.syncTo(ctx, cp.Size); err != nil {
		return SignedCheckpoint{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	proofs := make([][][]byte, len(indexes))
	for i, idx := range indexes {
		if idx >= cp.Size {
			continue
		}
		p, err := l.tree.InclusionProof(idx, cp.Size)
		if err != nil {
			return SignedCheckpoint{}, nil, fmt.Errorf("%s: %w", op, err)
		}
		if p == nil {
			p = [][]byte{}
		}
		proofs[i] = p
	}
	return cp, proofs, nil
}

func (l *Log) syncTo(ctx context.Context, size uint64) error {
	if size <= l.tree.Size() {
		return nil
	}
	_, err := l.Sync(ctx)
	return err
}

// Notify tells Run that entries were appended, so a count-based checkpoint
// is considered without waiting for the next poll. It never blocks; the
// store or the request path may call it after each committed audit write.
func (l *Log) Notify() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// Run cuts checkpoints until ctx is done: one at start if the log grew
// since the last checkpoint, then every `every` (when the log grew; 0
// disables the timer) and as soon as `entries` new entries exist since the
// latest checkpoint (0 disables the count). Errors are logged and retried at
// the next tick. Run returns nil when ctx is done; the caller then calls
// Checkpoint with a fresh context for the final checkpoint.
func (l *Log) Run(ctx context.Context, every time.Duration, entries uint64) error {
	const op = "audit.Log.Run"
	if every < 0 || (every == 0 && entries == 0) {
		return fmt.Errorf("%s: need a positive interval or entry count", op)
	}
	cut := func() {
		if _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			l.cfg.Logger.Error("audit checkpoint failed", "err", err)
		}
	}
	cut()
	var everyC, pollC <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		everyC = t.C
	}
	var wake <-chan struct{}
	if entries > 0 {
		t := time.NewTicker(l.cfg.PollInterval)
		defer t.Stop()
		pollC = t.C
		wake = l.notify
	}
	count := func() {
		size, err := l.Sync(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.cfg.Logger.Error("audit sync failed", "err", err)
			}
			return
		}
		l.mu.Lock()
		last := l.last
		l.mu.Unlock()
		if size >= last+entries {
			cut()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-everyC:
			cut()
		case <-pollC:
			count()
		case <-wake:
			count()
		}
	}
}
