package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Records is what a shard reads from the system of record: the registry
// (LoadShard for the start, GalleryEntries after a change).
type Records interface {
	LoadShard(ctx context.Context, l registry.GalleryLoader, owns func(personID string) bool, progress func(done int)) (registry.GalleryStats, error)
	GalleryEntries(ctx context.Context, personID string) ([]registry.GalleryEntry, error)
}

// ShardOptions configure a Shard.
type ShardOptions struct {
	Index, Of int // this shard is Index of Of (0 <= Index < Of)
	// Replicas of the stream when the shard creates it (default 1; 3 in a
	// NATS cluster of three).
	StreamReplicas int
	// CatchUpWait bounds how long a search waits for the shard to apply
	// the stream up to its last change before answering "behind"
	// (default 5 s).
	CatchUpWait time.Duration
	Logger      *slog.Logger
	// Ready, if not nil, is called once the shard answers searches.
	Ready func(registry.GalleryStats)
	// Snapshot, if not nil, keeps a gallery snapshot of this shard
	// (internal/dedup) and starts from it when it can.
	Snapshot *SnapshotOptions
}

// SnapshotOptions configure a shard's gallery snapshot: the file
// dedup.SnapshotPath(Dir, Index, Of), its records sealed and opened with
// Keys (the keyring the templates are sealed with).
//
// At start, a replica loads the snapshot instead of the store when the
// file is usable (this code's format and versions, this shard, not
// truncated or altered) and the stream still holds every change after its
// change point; then it applies those changes from the stream, as after a
// store load, before it answers a search. Otherwise it loads from the
// store. It writes a snapshot after a store load, every Every, and when
// it stops gracefully.
type SnapshotOptions struct {
	Dir  string
	Keys dedup.SnapshotKeys
	// Every is the time between two writes (default DefaultSnapshotEvery;
	// at most MaxAge/2, so that the stream still holds the changes after
	// the last snapshot).
	Every time.Duration
}

// DefaultSnapshotEvery is the default time between a shard's snapshots.
const DefaultSnapshotEvery = time.Hour

// StopCatchUp bounds how long a graceful stop waits to apply the changes
// the stream holds before it writes the shard's last snapshot. A change
// not applied by then is in the stream after the snapshot's change
// point, and the next start applies it.
const StopCatchUp = 30 * time.Second

// Shard is one replica of gallery shard Index: it loads its persons'
// templates from the store, follows the stream of changes from the point
// before its load, and answers searches. Replicas are more processes with
// the same Index: each loads and follows on its own (an ordered consumer
// each), and the search queue group sends each search to one of them.
type Shard struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	rec Records
	opt ShardOptions
	log *slog.Logger
	gal *dedup.Local

	// mu: a change is applied (remove then add again) under the write
	// lock, so a search (read lock) never sees a person half applied.
	mu      sync.RWMutex
	applied atomic.Uint64 // stream sequence of the last change applied
	snapMu  sync.Mutex    // one snapshot write at a time
}

// NewShard builds a shard replica; Run starts it.
func NewShard(nc *nats.Conn, rec Records, opt ShardOptions) (*Shard, error) {
	if opt.Of < 1 || opt.Index < 0 || opt.Index >= opt.Of {
		return nil, fmt.Errorf("%w: shard %d of %d", ErrConfig, opt.Index, opt.Of)
	}
	if opt.CatchUpWait <= 0 {
		opt.CatchUpWait = 5 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if so := opt.Snapshot; so != nil {
		if so.Dir == "" || so.Keys == nil {
			return nil, fmt.Errorf("%w: a snapshot needs a directory and keys", ErrConfig)
		}
		if so.Every <= 0 {
			so.Every = DefaultSnapshotEvery
		}
		so.Every = min(so.Every, MaxAge/2)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &Shard{nc: nc, js: js, rec: rec, opt: opt, log: opt.Logger.With("shard", opt.Index, "of", opt.Of), gal: dedup.NewLocal()}, nil
}

func (s *Shard) owns(personID string) bool { return ShardOf(personID, s.opt.Of) == s.opt.Index }

// Run loads the shard, follows the stream and answers searches until ctx
// ends (nil) or the shard cannot go on (an error: restart it; it loads
// again from the store).
func (s *Shard) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stream, err := EnsureStream(ctx, s.js, s.opt.StreamReplicas)
	if err != nil {
		return err
	}
	// The point before the load: every change committed before it is in
	// the load, every change relayed after it is in the stream after it.
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("cluster: stream info: %w", err)
	}
	start := info.State.LastSeq
	st, fromSnapshot := s.loadSnapshot(ctx, info.State)
	if fromSnapshot {
		start = st.seq
	} else {
		s.log.Info("gallery shard loading", "stream_seq", start)
		s.gal = dedup.NewLocal()
		st.GalleryStats, err = s.rec.LoadShard(ctx, s.gal, s.owns, nil)
		if err != nil {
			return fmt.Errorf("cluster: load: %w", err)
		}
	}
	failpoint.Hit(failpoint.ShardLoaded)
	s.applied.Store(start)
	cons, err := s.js.OrderedConsumer(ctx, StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{shardFilter(s.opt.Index)},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start + 1,
	})
	if err != nil {
		return fmt.Errorf("cluster: consumer: %w", err)
	}
	// The changes are applied under a context of their own, which outlives
	// a graceful stop by the catch-up before the last snapshot (below).
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if err := s.apply(work, m); err != nil && work.Err() == nil {
			cancel(err)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: consume: %w", err)
	}
	defer cc.Stop()
	if err := s.catchUp(ctx, 10*time.Minute); err != nil {
		return fmt.Errorf("cluster: catching up after the load: %w", err)
	}
	if fromSnapshot {
		// Every change after the snapshot's point must have been in the
		// stream while the consumer read it: if the oldest ones expired
		// during the load, some may never have been applied.
		if now, err := stream.Info(ctx); err != nil {
			return fmt.Errorf("cluster: stream info: %w", err)
		} else if now.State.FirstSeq > start+1 {
			return fmt.Errorf("cluster: the changes after the snapshot (stream sequence %d) left the stream during the load; restart to load from the store", start)
		}
	}
	// Searches only once loaded and caught up: until then the other
	// replicas (or nobody: "pending") answer.
	sub, err := s.nc.QueueSubscribe(searchSubject(s.opt.Index), queueGroup(s.opt.Index), func(m *nats.Msg) { go s.search(ctx, m) })
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	sizes, err := s.nc.QueueSubscribe(sizesSubject(s.opt.Index), queueGroup(s.opt.Index), func(m *nats.Msg) {
		b, _ := json.Marshal(sizesReply{Sizes: s.gal.Sizes()})
		_ = m.Respond(b)
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer sizes.Unsubscribe()
	if err := s.nc.FlushTimeout(10 * time.Second); err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	s.log.Info("gallery shard ready", "persons", st.Persons, "templates", st.Templates, "ms", st.Duration.Milliseconds(), "applied", s.applied.Load(), "from_snapshot", fromSnapshot)
	if s.opt.Ready != nil {
		s.opt.Ready(st.GalleryStats)
	}
	go s.watchGap(ctx, stream, cancel)
	if s.opt.Snapshot != nil {
		go s.snapshots(ctx, !fromSnapshot)
	}
	<-ctx.Done()
	if s.opt.Snapshot != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		// A graceful stop: first apply what the stream holds now (up to
		// StopCatchUp), then a snapshot of it, so the next start replays
		// little.
		wctx, wcancel := context.WithTimeout(work, 10*time.Minute)
		if err := s.catchUp(wctx, StopCatchUp); err != nil {
			s.log.Warn("gallery shard stopping: not caught up with the stream; the snapshot holds what was applied", "err", err)
		}
		s.writeSnapshot(wctx)
		wcancel()
	}
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// shardLoad is what a start loaded: the stats, and for a snapshot the
// change point it holds.
type shardLoad struct {
	registry.GalleryStats
	seq uint64
}

// loadSnapshot loads the shard's snapshot into s.gal when there is a
// usable one whose changes since are all still in the stream (state);
// false (logged) when the shard must load from the store instead.
func (s *Shard) loadSnapshot(ctx context.Context, state jetstream.StreamState) (shardLoad, bool) {
	so := s.opt.Snapshot
	if so == nil {
		return shardLoad{}, false
	}
	path := dedup.SnapshotPath(so.Dir, s.opt.Index, s.opt.Of)
	h, err := dedup.ReadSnapshotHeader(path)
	if err == nil {
		err = dedup.CheckSnapshot(h, s.opt.Index, s.opt.Of)
	}
	if err == nil {
		switch {
		case h.Seq > state.LastSeq:
			err = fmt.Errorf("its change point %d is after the stream's last change %d (a new stream?)", h.Seq, state.LastSeq)
		case h.Seq < state.LastSeq && state.FirstSeq > h.Seq+1:
			err = fmt.Errorf("the stream no longer holds the changes after its change point %d (oldest held: %d)", h.Seq, state.FirstSeq)
		}
	}
	if err != nil {
		s.log.Info("gallery snapshot not used; loading from the store", "reason", err.Error())
		return shardLoad{}, false
	}
	s.log.Info("gallery shard loading from its snapshot", "stream_seq", h.Seq, "written", h.Written)
	l, h, st, err := dedup.LoadSnapshot(ctx, path, so.Keys, s.opt.Index, s.opt.Of)
	if err != nil {
		s.log.Warn("gallery snapshot unusable; loading from the store", "err", err)
		return shardLoad{}, false
	}
	s.gal = l
	out := shardLoad{seq: h.Seq, GalleryStats: registry.GalleryStats{Persons: st.Persons, Skipped: st.Skipped, Duration: st.Duration, Templates: map[consent.Category]int{}}}
	for m, n := range st.Templates {
		out.Templates[consent.Category(m)] = n
	}
	return out, true
}

// snapshots writes the shard's snapshot now (when now is set) and every
// Every until ctx ends.
func (s *Shard) snapshots(ctx context.Context, now bool) {
	t := time.NewTicker(s.opt.Snapshot.Every)
	defer t.Stop()
	for {
		if now {
			s.writeSnapshot(ctx)
		}
		now = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writeSnapshot writes the shard's snapshot at the change point applied
// now; a failure is logged (the former snapshot stays).
func (s *Shard) writeSnapshot(ctx context.Context) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	so := s.opt.Snapshot
	seq := s.applied.Load()
	st, err := s.gal.WriteSnapshot(ctx, dedup.SnapshotPath(so.Dir, s.opt.Index, s.opt.Of), so.Keys, dedup.NewSnapshotHeader(s.opt.Index, s.opt.Of, seq))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("gallery snapshot not written", "err", err)
		}
		return
	}
	s.log.Info("gallery snapshot written", "stream_seq", seq, "persons", st.Persons, "bytes", st.Bytes, "skipped", st.Skipped, "ms", st.Duration.Milliseconds())
}

// apply brings the gallery in line with one change. A remove takes the
// person (or one reference) out at once; an add or a sync reads what
// belongs now from the store, so changes applied twice or late converge
// on the store's state. A store read that fails is retried (the consumer
// waits: searches meanwhile answer "behind"); only ctx ends it.
func (s *Shard) apply(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("cluster: message metadata: %w", err)
	}
	var ch change
	if err := json.Unmarshal(m.Data(), &ch); err != nil {
		s.log.Error("gallery: a change that does not decode was skipped", "stream_seq", md.Sequence.Stream, "err", err)
		s.applied.Store(md.Sequence.Stream)
		return nil
	}
	failpoint.Hit(failpoint.ShardReceived)
	if ch.Op == store.GalleryRemove {
		s.mu.Lock()
		_ = s.gal.Remove(ctx, ch.Person, ch.Ref)
		s.mu.Unlock()
		s.applied.Store(md.Sequence.Stream)
		return nil
	}
	var es []registry.GalleryEntry
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		es, err = s.rec.GalleryEntries(ctx, ch.Person)
		if err == nil {
			break
		}
		s.log.Warn("gallery: cannot read a changed person from the store; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.gal.Remove(ctx, ch.Person, "")
	for _, e := range es {
		if err := s.gal.Add(ctx, e.Modality, ch.Person, e.Ref, e.Template); err != nil {
			s.log.Error("gallery: a stored template does not decode; left out", "reference_id", e.Ref, "err", err)
		}
	}
	s.applied.Store(md.Sequence.Stream)
	return nil
}

// lastChange is the stream sequence of the last change for this shard (0
// when there is none).
func (s *Shard) lastChange(ctx context.Context) (uint64, error) {
	stream, err := s.js.Stream(ctx, StreamName)
	if err != nil {
		return 0, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, shardFilter(s.opt.Index))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// catchUp waits until every change for this shard in the stream now is
// applied.
func (s *Shard) catchUp(ctx context.Context, limit time.Duration) error {
	last, err := s.lastChange(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for s.applied.Load() < last {
		if time.Now().After(deadline) {
			return fmt.Errorf("applied %d of %d after %s", s.applied.Load(), last, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// search answers one search request: after catching up with the stream
// (so every change relayed before the search is in), it scans its part
// of the gallery at the threshold of the whole gallery.
func (s *Shard) search(ctx context.Context, m *nats.Msg) {
	reply := func(r searchReply) {
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	var req searchRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		reply(searchReply{Error: "invalid_probe"})
		return
	}
	probe, err := decode(req.Modality, req.Probe)
	if err != nil {
		reply(searchReply{Error: "invalid_probe"})
		return
	}
	if err := s.catchUp(ctx, s.opt.CatchUpWait); err != nil {
		s.log.Warn("gallery: behind the stream; answering without a search", "err", err)
		reply(searchReply{Error: "behind"})
		return
	}
	s.mu.RLock()
	size := s.gal.Sizes()[req.Modality]
	cands, _, err := s.gal.SearchSized(ctx, req.Modality, probe, req.Exclude, max(req.Total, size))
	s.mu.RUnlock()
	if err != nil {
		s.log.Error("gallery: search failed", "err", err)
		reply(searchReply{Error: "failed"})
		return
	}
	reply(searchReply{Candidates: cands, Size: size})
}

// watchGap ends the shard (for a reload) when it was cut off from NATS for
// so long that changes may have left the stream before it read them.
func (s *Shard) watchGap(ctx context.Context, stream jetstream.Stream, cancel context.CancelCauseFunc) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var downSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.nc.IsConnected() {
			downSince = time.Time{}
			continue
		}
		if downSince.IsZero() {
			downSince = time.Now()
		} else if time.Since(downSince) > MaxAge/2 {
			cancel(errors.New("cluster: cut off from NATS for too long; restart to reload from the store"))
			return
		}
	}
}

// decode opens a serialised probe of modality.
func decode(modality string, b []byte) (any, error) {
	switch modality {
	case dedup.Fingerprint:
		t := new(fingerprint.Template)
		return t, t.UnmarshalBinary(b)
	case dedup.Iris:
		t := new(iris.Template)
		return t, t.UnmarshalBinary(b)
	}
	return nil, dedup.ErrModality
}
