package cluster_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/cluster"
	"github.com/assent-registry/assent/internal/cluster/clustertest"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/registry"
)

// TestShardStartsFromItsSnapshot: a shard stopped gracefully writes its
// snapshot; restarted, it loads from it (its store load is made to fail)
// and applies from the stream what changed meanwhile: an erased person
// (keys shredded) and a withdrawn deduplication consent (keys kept, the
// record still opens) are never candidates, a person enrolled meanwhile
// is found, and so are the others. An altered snapshot is refused and the
// shard loads from the store.
func TestShardStartsFromItsSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	w := newWorld(t, 0)
	w.shards = 1
	w.snapshot = t.TempDir()
	w.startShard(0)
	a := w.apiNode(true)
	rng := rand.New(rand.NewPCG(7, 8))
	ctx := context.Background()
	var ids []string
	var fingers []synth.Finger
	for range 4 {
		f := synth.NewFinger(rng)
		id, _ := enrol(t, a, "S", f.Template())
		ids, fingers = append(ids, id), append(fingers, f)
	}
	// P1 also consents to verification: withdrawing deduplication keeps
	// its fingerprint key, so only the stream can take it out.
	if _, err := a.RecordConsent(ctx, registrar, consent.Registration, ids[1], registry.NewConsent{Category: "fingerprint", Purpose: "verification",
		Decision: "granted", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	w.settle(rng)
	w.stopShard(0) // graceful: writes the snapshot
	path := dedup.SnapshotPath(w.snapshot, 0, 1)
	h, err := dedup.ReadSnapshotHeader(path)
	if err != nil || h.Persons != 4 {
		t.Fatalf("snapshot after a graceful stop: %+v %v", h, err)
	}

	erase(t, a, ids[0])
	if _, err := a.RecordConsent(ctx, registrar, consent.Registration, ids[1], registry.NewConsent{Category: "fingerprint", Purpose: "deduplication",
		Decision: "withdrawn", Method: "verbal", NoticeVersion: "1", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	late := synth.NewFinger(rng)
	lateID, _ := enrol(t, a, "Late", late.Template())

	w.noStore = true
	w.startShard(0) // fails unless it loads the snapshot
	check := func(when string) {
		t.Helper()
		for k, want := range []bool{false, false, true, true} {
			_, e := enrol(t, a, "Mate", fingers[k].Mate(rng))
			if got := slices.Contains(dupIDs(e), ids[k]); got != want || e.Deduplication != registry.DedupDone {
				t.Errorf("%s: person %d a candidate: %v, want %v (%+v)", when, k, got, want, e)
			}
		}
		if _, e := enrol(t, a, "LateMate", late.Mate(rng)); !slices.Contains(dupIDs(e), lateID) {
			t.Errorf("%s: the person enrolled while the shard was down is not found: %+v", when, e)
		}
	}
	check("from the snapshot")
	w.stopShard(0)

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	w.noStore = false
	w.startShard(0)
	check("from the store, the snapshot altered")
}

// TestGracefulStopCatchesUp: a shard stopped gracefully while a change
// relayed to the stream is still being applied (its store read slow)
// applies it before it writes its snapshot, so the snapshot holds every
// change the stream had at the stop.
func TestGracefulStopCatchesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	w := newWorld(t, 0)
	w.shards = 1
	w.snapshot = t.TempDir()
	w.startShard(0)
	a := w.apiNode(false) // relays only when asked (below)
	rng := rand.New(rand.NewPCG(9, 10))
	for range 2 {
		enrol(t, a, "S", synth.NewFinger(rng).Template())
	}
	w.settle(rng) // relays the two and waits until the shard holds them
	enrol(t, a, "Last", synth.NewFinger(rng).Template())
	w.applyDelay.Store(int64(time.Second))
	c, err := cluster.NewClient(clustertest.Connect(t, w.url), cluster.ClientOptions{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.UseOutbox(registry.New(w.env.DB, w.env.Keyring, registry.Options{Clock: w.clock, Audit: w.env.Audit}))
	if err := c.Flush(context.Background()); err != nil { // the third person's change is in the stream
		t.Fatal(err)
	}
	w.stopShard(0) // graceful, while the shard waits on its slow store read
	h, err := dedup.ReadSnapshotHeader(dedup.SnapshotPath(w.snapshot, 0, 1))
	if err != nil || h.Persons != 3 {
		t.Fatalf("snapshot after a graceful stop: %+v %v, want 3 persons", h, err)
	}
}
