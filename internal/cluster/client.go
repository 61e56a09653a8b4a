package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Outbox is where the relay reads gallery changes: the registry
// (registry.Registry.RelayGalleryChanges), over the store's outbox.
type Outbox interface {
	RelayGalleryChanges(ctx context.Context, limit int, publish func(context.Context, []store.GalleryChange) error) (int, error)
}

// ClientOptions configure a Client.
type ClientOptions struct {
	Shards int // N, the number of gallery shards (required)
	// SearchTimeout bounds one shard's answer (default 10 s): a shard that
	// has not answered by then leaves the search incomplete.
	SearchTimeout time.Duration
	// RelayEvery is the background relay's period (default 1 s).
	RelayEvery time.Duration
	Logger     *slog.Logger
}

// Client is the registry's Galleries on an API node with no gallery of its
// own: searches go to every shard, changes go through the store's outbox
// and the relay. It is safe for concurrent use.
type Client struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	opt    ClientOptions
	log    *slog.Logger
	outbox Outbox

	relayMu sync.Mutex // one relay round at a time in this process

	mu    sync.Mutex
	sizes []map[string]int // per shard, as last heard
}

// NewClient builds a Client over nc. UseOutbox must be called (with the
// registry built over this client) before changes can be relayed.
func NewClient(nc *nats.Conn, opt ClientOptions) (*Client, error) {
	if opt.Shards < 1 {
		return nil, fmt.Errorf("%w: %d shards", ErrConfig, opt.Shards)
	}
	if opt.SearchTimeout <= 0 {
		opt.SearchTimeout = 10 * time.Second
	}
	if opt.RelayEvery <= 0 {
		opt.RelayEvery = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &Client{nc: nc, js: js, opt: opt, log: opt.Logger, sizes: make([]map[string]int, opt.Shards)}, nil
}

// UseOutbox names where the relay reads changes (the registry).
func (c *Client) UseOutbox(o Outbox) { c.outbox = o }

// Search asks every shard (one replica each) for candidates. complete is
// false when a shard did not answer in time (or said it is behind the
// stream): the candidates found are real, the search is not finished.
// Committed changes are relayed first, so everything committed before the
// search is searched (each shard catches up with the stream first).
func (c *Client) Search(ctx context.Context, modality string, probe []byte, exclude string) ([]string, bool, error) {
	// Committed changes not yet in the stream (a node that died before its
	// relay, or whose relay failed) are relayed first, so the shards,
	// which catch up with the stream before they search, search them too.
	// If that fails, the shards may lack a committed template: the search
	// is then incomplete (pending), never a "no duplicates".
	relayed := true
	if err := c.Flush(ctx); err != nil {
		relayed = false
		c.log.WarnContext(ctx, "gallery: relay before search failed; the search is incomplete", "err", err)
	}
	body, err := json.Marshal(searchRequest{Modality: modality, Probe: probe, Exclude: exclude, Total: c.total(modality)})
	if err != nil {
		return nil, false, err
	}
	type answer struct {
		r   searchReply
		err error
	}
	answers := make([]answer, c.opt.Shards)
	var wg sync.WaitGroup
	for i := range c.opt.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, c.opt.SearchTimeout)
			defer cancel()
			msg, err := c.nc.RequestWithContext(rctx, searchSubject(i), body)
			if err != nil {
				answers[i].err = err
				return
			}
			answers[i].err = json.Unmarshal(msg.Data, &answers[i].r)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	var out []string
	complete := relayed
	for i, a := range answers {
		switch {
		case a.err != nil:
			complete = false
			c.log.WarnContext(ctx, "gallery: shard did not answer; the search is incomplete", "shard", i, "err", a.err)
			continue
		case a.r.Error == "invalid_probe":
			return nil, false, fmt.Errorf("cluster: search: shard %d: the probe is not a %s template", i, modality)
		case a.r.Error != "":
			complete = false
			c.log.WarnContext(ctx, "gallery: shard answered without searching; the search is incomplete", "shard", i, "reason", a.r.Error)
			continue
		}
		c.setSize(i, modality, a.r.Size)
		for _, p := range a.r.Candidates {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, complete, nil
}

// Add does nothing more: the registry wrote the change to the outbox in
// the transaction that stores the template (Add is called before that
// commit), and flushes after it.
func (c *Client) Add(context.Context, string, string, string, []byte) error { return nil }

// Remove relays: every removal that matters was written to the outbox
// with the change that calls for it (a removal of a template whose
// transaction did not commit has nothing to relay).
func (c *Client) Remove(ctx context.Context, _, _ string) error { return c.Flush(ctx) }

// Sizes asks every shard for its gallery sizes (2 s each) and sums them;
// a shard that does not answer is counted as last heard.
func (c *Client) Sizes() map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range c.opt.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, err := c.nc.RequestWithContext(ctx, sizesSubject(i), nil)
			if err != nil {
				return
			}
			var r sizesReply
			if json.Unmarshal(msg.Data, &r) == nil {
				for m, n := range r.Sizes {
					c.setSize(i, m, n)
				}
			}
		}()
	}
	wg.Wait()
	out := map[string]int{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sizes {
		for m, n := range s {
			out[m] += n
		}
	}
	return out
}

func (c *Client) setSize(shard int, modality string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sizes[shard] == nil {
		c.sizes[shard] = map[string]int{}
	}
	c.sizes[shard][modality] = n
}

// Total is the size of the whole gallery of modality as the shards last
// answered (in the latest search): the size their candidate threshold is
// set for. The registry sets its 1:1 comparisons after a search by it.
func (c *Client) Total(modality string) int { return c.total(modality) }

func (c *Client) total(modality string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, s := range c.sizes {
		t += s[modality]
	}
	return t
}

// relayBatch is how many outbox rows one relay transaction publishes.
const relayBatch = 256

// Flush publishes every committed outbox row to the stream, in order,
// and deletes them (registry.RelayGalleryChanges). Safe on several nodes
// at once: they take turns on the store's relay lock, and JetStream drops
// a Msg-Id it has seen.
func (c *Client) Flush(ctx context.Context) error {
	if c.outbox == nil {
		return fmt.Errorf("%w: no outbox (UseOutbox not called)", ErrConfig)
	}
	c.relayMu.Lock()
	defer c.relayMu.Unlock()
	for {
		n, err := c.outbox.RelayGalleryChanges(ctx, relayBatch, c.publish)
		if err != nil {
			return fmt.Errorf("cluster: relay: %w", err)
		}
		if n < relayBatch {
			return nil
		}
	}
}

// publish sends changes to the stream and waits for every ack. A removal
// of a whole person then purges that person's earlier messages (ids
// only, but nothing about an erased person should linger).
func (c *Client) publish(ctx context.Context, cs []store.GalleryChange) error {
	futures := make([]jetstream.PubAckFuture, len(cs))
	for i, ch := range cs {
		body, err := json.Marshal(change{Seq: ch.Seq, Op: ch.Op, Modality: ch.Modality, Person: ch.PersonID, Ref: ch.Ref, At: ch.At})
		if err != nil {
			return err
		}
		f, err := c.js.PublishAsync(changeSubject(ShardOf(ch.PersonID, c.opt.Shards), ch.PersonID), body,
			jetstream.WithMsgID("gc-"+strconv.FormatInt(ch.Seq, 10)), jetstream.WithExpectStream(StreamName))
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		futures[i] = f
	}
	acks := make([]*jetstream.PubAck, len(cs))
	for i, f := range futures {
		select {
		case a := <-f.Ok():
			acks[i] = a
		case err := <-f.Err():
			return fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("publish: no ack from JetStream in 10 s")
		}
	}
	failpoint.Hit(failpoint.RelayAcked)
	var stream jetstream.Stream
	for i, ch := range cs {
		// A duplicate's ack carries the first copy's sequence: the purge
		// runs again for a relay that died between its publication and its
		// purge (failpoint.RelayAcked); purging twice is harmless.
		if ch.Op != store.GalleryRemove || ch.Ref != "" {
			continue
		}
		if stream == nil {
			s, err := c.js.Stream(ctx, StreamName)
			if err != nil {
				c.log.WarnContext(ctx, "gallery: cannot purge a removed person's messages", "err", err)
				return nil
			}
			stream = s
		}
		subj := changeSubject(ShardOf(ch.PersonID, c.opt.Shards), ch.PersonID)
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(acks[i].Sequence)); err != nil {
			c.log.WarnContext(ctx, "gallery: cannot purge a removed person's messages", "err", err)
		}
	}
	return nil
}

// RunRelay relays the outbox every RelayEvery until ctx ends: it delivers
// the changes of a node that died between its commit and its flush.
func (c *Client) RunRelay(ctx context.Context) {
	t := time.NewTicker(c.opt.RelayEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.log.WarnContext(ctx, "gallery: background relay failed; retrying", "err", err)
			}
		}
	}
}
