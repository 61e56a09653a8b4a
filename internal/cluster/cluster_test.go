package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/fingerprint"
	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
	"github.com/assent-registry/assent/internal/cluster"
	"github.com/assent-registry/assent/internal/cluster/clustertest"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
	"github.com/nats-io/nats.go/jetstream"
)

var registrar = registry.Actor{OperatorID: "op-test", Role: consent.Registrar, Site: "s1", Route: "cluster test"}

// world is a registry over one store with its galleries on NATS shards.
type world struct {
	t      *testing.T
	url    string
	env    *registrytest.Env
	shards int
	stops  map[int]func()
	clock  func() time.Time
	// snapshot, when set, is the shards' snapshot directory; storeLoad
	// false makes a shard's load from the store fail (to prove a start
	// used the snapshot).
	snapshot string
	noStore  bool
	// applyDelay (nanoseconds), when set, makes every shard wait that
	// long before it reads a change's templates from the store.
	applyDelay atomic.Int64
}

func newWorld(t *testing.T, shards int) *world {
	t.Helper()
	url, _ := clustertest.NATS(t, 3)
	fixed := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return fixed }
	env := registrytest.New(t, registrytest.Options{Clock: clock})
	w := &world{t: t, url: url, env: env, shards: shards, stops: map[int]func(){}, clock: clock}
	for i := range shards {
		w.startShard(i)
	}
	return w
}

// apiNode is a registry over the world's store whose galleries are the
// shards (a Client); flush false makes a node that dies after every
// commit, before its relay runs (its outbox rows wait for another node).
func (w *world) apiNode(flush bool) *registry.Registry {
	w.t.Helper()
	c, err := cluster.NewClient(clustertest.Connect(w.t, w.url), cluster.ClientOptions{Shards: w.shards, SearchTimeout: 3 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	var g registry.Galleries = c
	if !flush {
		g = noFlush{c}
	}
	r := registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit, Galleries: g})
	c.UseOutbox(r)
	return r
}

// countingGalleries counts the searches a registry asks.
type countingGalleries struct {
	*cluster.Client
	searches atomic.Int32
}

func (c *countingGalleries) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	c.searches.Add(1)
	return c.Client.Search(ctx, modality, probe, exclude)
}

// noFlush is a Client on a node that never relays after its commits.
type noFlush struct{ *cluster.Client }

func (noFlush) Flush(context.Context) error                                 { return nil }
func (noFlush) Remove(context.Context, string, string) error                { return nil }
func (n noFlush) Add(context.Context, string, string, string, []byte) error { return nil }

// startShard runs replica of shard i (until stopShard or the test's end)
// and waits until it answers.
func (w *world) startShard(i int) {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	// The shard reads the store through a registry of its own (no gallery).
	var rec cluster.Records = registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit})
	if w.noStore {
		rec = noStoreLoad{rec}
	}
	rec = delayedEntries{rec, &w.applyDelay}
	opt := cluster.ShardOptions{Index: i, Of: w.shards, StreamReplicas: 3, Ready: func(registry.GalleryStats) { close(ready) }}
	if w.snapshot != "" {
		opt.Snapshot = &cluster.SnapshotOptions{Dir: w.snapshot, Keys: w.env.Keyring}
	}
	s, err := cluster.NewShard(clustertest.Connect(w.t, w.url), rec, opt)
	if err != nil {
		w.t.Fatal(err)
	}
	go func() { done <- s.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		w.t.Fatalf("shard %d: %v", i, err)
	case <-time.After(30 * time.Second):
		w.t.Fatalf("shard %d not ready", i)
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("shard %d stopped: %v", i, err)
		}
	}
	w.stops[i] = stop
	w.t.Cleanup(func() {
		if w.stops[i] != nil {
			w.stopShard(i)
		}
	})
	for j := range w.shards {
		if w.stops[j] == nil {
			return // a shard is down: searches are meant to be incomplete
		}
	}
	w.reachable()
}

// noChanges is an outbox with nothing to relay.
type noChanges struct{}

func (noChanges) RelayGalleryChanges(context.Context, int, func(context.Context, []store.GalleryChange) error) (int, error) {
	return 0, nil
}

// reachable waits until a search through each server of the NATS cluster
// reaches every shard. A shard is ready once its own server holds its
// subscription; the other servers learn of it a moment later, and an API
// node connected to one of them meanwhile finds no responder and (rightly)
// leaves its enrolment pending. Tests that expect a finished search right
// after a restart wait here first. The searches relay nothing.
func (w *world) reachable() {
	w.t.Helper()
	raw, err := synth.NewFinger(rand.New(rand.NewPCG(1, 2))).Template().MarshalBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, u := range strings.Split(w.url, ",") {
		c, err := cluster.NewClient(clustertest.Connect(w.t, u), cluster.ClientOptions{Shards: w.shards, SearchTimeout: 2 * time.Second})
		if err != nil {
			w.t.Fatal(err)
		}
		c.UseOutbox(noChanges{})
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, complete, err := c.Search(context.Background(), "fingerprint", raw, "")
			if err == nil && complete {
				break
			}
			if time.Now().After(deadline) {
				w.t.Fatalf("shards not reachable through %s: complete %v, %v", u, complete, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// noStoreLoad is a shard's records whose store load fails.
type noStoreLoad struct{ cluster.Records }

func (noStoreLoad) LoadShard(context.Context, registry.GalleryLoader, func(string) bool, func(int)) (registry.GalleryStats, error) {
	return registry.GalleryStats{}, errors.New("the test forbids a load from the store")
}

// delayedEntries is a shard's records that wait *delay before reading
// a change's templates (a slow store).
type delayedEntries struct {
	cluster.Records
	delay *atomic.Int64
}

func (d delayedEntries) GalleryEntries(ctx context.Context, personID string) ([]registry.GalleryEntry, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Duration(d.delay.Load())):
	}
	return d.Records.GalleryEntries(ctx, personID)
}

// settle returns once every shard has applied every change relayed so
// far: a search makes each shard catch up with the stream before it
// answers. (An enrolment's own change is applied asynchronously after
// its acknowledgement, so a shard stopped right after it may not hold it
// yet; a test that needs it held settles first.)
func (w *world) settle(rng *rand.Rand) {
	w.t.Helper()
	c, err := cluster.NewClient(clustertest.Connect(w.t, w.url), cluster.ClientOptions{Shards: w.shards, SearchTimeout: 10 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	c.UseOutbox(registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit}))
	raw, err := synth.NewFinger(rng).Template().MarshalBinary()
	if err != nil {
		w.t.Fatal(err)
	}
	if _, complete, err := c.Search(context.Background(), "fingerprint", raw, ""); err != nil || !complete {
		w.t.Fatalf("settling the shards: complete %v, %v", complete, err)
	}
}

func (w *world) stopShard(i int) {
	w.stops[i]()
	w.stops[i] = nil
}

// enrol registers a person with deduplication consent and captures one
// fingerprint template.
func enrol(t *testing.T, r *registry.Registry, name string, tmpl *fingerprint.Template) (string, registry.Enrolled) {
	t.Helper()
	ctx := context.Background()
	p, err := r.CreatePerson(ctx, registrar, consent.Registration, registry.NewPerson{GivenName: name, FamilyName: "Test", BirthDate: "1990-01-01",
		Sex: "unknown", AreaCode: "A1", Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
			Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tmpl.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.EnrolTemplate(ctx, registrar, consent.Deduplication, p.ID, consent.Fingerprint, "right_index", raw)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID, e
}

func dupIDs(e registry.Enrolled) []string {
	var ids []string
	for _, d := range e.Duplicates {
		ids = append(ids, d.PersonID)
	}
	return ids
}

func erase(t *testing.T, r *registry.Registry, id string) {
	t.Helper()
	if _, err := r.RecordConsent(context.Background(), registrar, consent.Registration, id, registry.NewConsent{Category: "identity", Purpose: "registration",
		Decision: "withdrawn", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
}

// TestShardedDeduplication walks the promises of issue 15 on an embedded
// 3-node JetStream cluster with three shards: a mate enrolled through any
// node is found on whichever shard holds the first; a change committed by
// a node that dies before relaying reaches the shards through another
// node; with a shard stopped the answer is "pending", never "no
// duplicates"; an erased person is never a candidate again, also after
// every shard restarts (loading from the store).
func TestShardedDeduplication(t *testing.T) {
	const shards = 3
	w := newWorld(t, shards)
	a, b := w.apiNode(true), w.apiNode(true)
	rng := rand.New(rand.NewPCG(1, 2))

	// People on every shard, enrolled through node a.
	fingers := map[string]synth.Finger{}
	var ids []string
	for k := range 9 {
		f := synth.NewFinger(rng)
		id, e := enrol(t, a, fmt.Sprintf("P%d", k), f.Template())
		if e.Deduplication != registry.DedupDone || len(e.Duplicates) != 0 {
			t.Fatalf("person %d: %+v, want done with no duplicates", k, e)
		}
		fingers[id] = f
		ids = append(ids, id)
	}
	held := map[int]bool{}
	for _, id := range ids {
		held[cluster.ShardOf(id, shards)] = true
	}
	if len(held) != shards {
		t.Logf("the 9 people fall on %d of %d shards", len(held), shards)
	}

	t.Run("mate found through the other node", func(t *testing.T) {
		for _, id := range ids[:3] {
			_, e := enrol(t, b, "Mate", fingers[id].Mate(rng))
			if e.Deduplication != registry.DedupDone || !slices.Contains(dupIDs(e), id) {
				t.Errorf("mate of %s (shard %d): %+v", id, cluster.ShardOf(id, shards), e)
			}
		}
	})

	t.Run("committed by a node that died before its relay", func(t *testing.T) {
		dead := w.apiNode(false)
		f := synth.NewFinger(rng)
		id, e := enrol(t, dead, "Orphan", f.Template())
		if e.Deduplication != registry.DedupDone {
			t.Fatalf("enrolment: %+v", e)
		}
		_, e = enrol(t, b, "OrphanMate", f.Mate(rng))
		if !slices.Contains(dupIDs(e), id) {
			t.Errorf("the change of a node that died before relaying was lost: %+v", e)
		}
	})

	t.Run("a shard stopped gives pending, and the shard catches up", func(t *testing.T) {
		victim := cluster.ShardOf(ids[0], shards)
		w.stopShard(victim)
		f := synth.NewFinger(rng)
		_, e := enrol(t, a, "WhileDown", f.Template())
		if e.Deduplication != registry.DedupPending {
			t.Errorf("with shard %d stopped: deduplication %q, want pending", victim, e.Deduplication)
		}
		// A change for the stopped shard while it is down.
		var onVictim string
		var g synth.Finger
		for range 50 {
			g = synth.NewFinger(rng)
			id, _ := enrol(t, a, "DownShard", g.Template())
			if cluster.ShardOf(id, shards) == victim {
				onVictim = id
				break
			}
		}
		w.startShard(victim)
		_, e = enrol(t, b, "Mate0", fingers[ids[0]].Mate(rng))
		if e.Deduplication != registry.DedupDone || !slices.Contains(dupIDs(e), ids[0]) {
			t.Errorf("after the restart: %+v", e)
		}
		if onVictim != "" {
			_, e = enrol(t, b, "MateDown", g.Mate(rng))
			if !slices.Contains(dupIDs(e), onVictim) {
				t.Errorf("a person enrolled while their shard was down is not found after it restarted: %+v", e)
			}
		}
	})

	t.Run("erased never a candidate, also after every shard restarts", func(t *testing.T) {
		gone := ids[4]
		erase(t, b, gone)
		// The removal purged the person's earlier messages: only the
		// removal itself is left in the stream.
		js, err := jetstream.New(clustertest.Connect(t, w.url))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := js.Stream(context.Background(), cluster.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		subj := fmt.Sprintf("assent.gallery.%d.%s", cluster.ShardOf(gone, shards), gone)
		info, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(subj))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[subj]; n != 1 {
			t.Errorf("the erased person has %d messages in the stream, want 1 (the removal)", n)
		}
		_, e := enrol(t, a, "MateOfGone", fingers[gone].Mate(rng))
		if slices.Contains(dupIDs(e), gone) {
			t.Errorf("an erased person is a candidate: %+v", e)
		}
		for i := range shards {
			w.stopShard(i)
			w.startShard(i)
		}
		_, e = enrol(t, b, "MateOfGone2", fingers[gone].Mate(rng))
		if slices.Contains(dupIDs(e), gone) || e.Deduplication != registry.DedupDone {
			t.Errorf("after every shard restarted: %+v", e)
		}
		// The others are still there.
		_, e = enrol(t, a, "Mate5", fingers[ids[5]].Mate(rng))
		if !slices.Contains(dupIDs(e), ids[5]) {
			t.Errorf("after every shard restarted, a mate is missed: %+v", e)
		}
	})
	t.Run("verification never waits for a gallery", func(t *testing.T) {
		ctx := context.Background()
		f := synth.NewFinger(rng)
		p, err := a.CreatePerson(ctx, registrar, consent.Registration, registry.NewPerson{GivenName: "V", FamilyName: "Test", BirthDate: "1990-01-01",
			Sex: "unknown", AreaCode: "A1", Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
				Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := f.Template().MarshalBinary()
		if _, err := a.EnrolTemplate(ctx, registrar, consent.Verification, p.ID, consent.Fingerprint, "right_index", raw); err != nil {
			t.Fatal(err)
		}
		for i := range shards {
			w.stopShard(i)
		}
		rec, err := iso19794.Encode(f.Mate(rng).ToISO(2))
		if err != nil {
			t.Fatal(err)
		}
		c, err := cluster.NewClient(clustertest.Connect(t, w.url), cluster.ClientOptions{Shards: shards, SearchTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		counted := &countingGalleries{Client: c}
		desk := registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit, Galleries: counted})
		c.UseOutbox(desk)
		v, err := desk.Verify(ctx, registrar, consent.Verification, registry.VerifyRequest{PersonID: p.ID,
			Capture: registry.Capture{Modality: "fingerprint", Position: "right_index", Format: registry.FormatISO, Data: rec}})
		if err != nil || !v.Match {
			t.Errorf("verification with every shard down: %+v %v", v, err)
		}
		if n := counted.searches.Load(); n != 0 {
			t.Errorf("verification asked the galleries %d times", n)
		}
	})
}

// failingOutbox is an outbox the relay cannot read (its store is down for
// this node).
type failingOutbox struct{}

func (failingOutbox) RelayGalleryChanges(context.Context, int, func(context.Context, []store.GalleryChange) error) (int, error) {
	return 0, errors.New("outbox unreadable")
}

// TestSearchWithoutRelayIsPending: a template committed by a node that
// died before relaying it is in no shard yet; a node whose own relay
// before its search fails cannot know that, so its enrolment must be
// pending, never "no duplicates", and the case opens once the change is
// relayed and the pending search completes.
func TestSearchWithoutRelayIsPending(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 1)
	rng := rand.New(rand.NewPCG(3, 4))
	dead := w.apiNode(false)
	f := synth.NewFinger(rng)
	orphan, e := enrol(t, dead, "Orphan", f.Template())
	if e.Deduplication != registry.DedupDone {
		t.Fatalf("enrolment: %+v", e)
	}

	c, err := cluster.NewClient(clustertest.Connect(t, w.url), cluster.ClientOptions{Shards: 1, SearchTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cut := registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit, Galleries: c})
	c.UseOutbox(failingOutbox{})
	mate, e := enrol(t, cut, "Mate", f.Mate(rng))
	if e.Deduplication != registry.DedupPending {
		t.Fatalf("search without the relay: deduplication %q with duplicates %v, want pending", e.Deduplication, dupIDs(e))
	}

	ok := w.apiNode(true) // relays the orphan's change before its searches
	if _, _, err := ok.CompletePendingSearches(ctx); err != nil {
		t.Fatal(err)
	}
	var open []store.Case
	if err := w.env.DB.View(ctx, func(tx store.Tx) error {
		var err error
		open, err = tx.ListCases(ctx, store.CaseOpen, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cs := range open {
		if (cs.PersonA == orphan && cs.PersonB == mate) || (cs.PersonA == mate && cs.PersonB == orphan) {
			found = true
		}
	}
	if !found {
		t.Errorf("no case between the mate and the orphan after the pending search completed: %+v", open)
	}
}
