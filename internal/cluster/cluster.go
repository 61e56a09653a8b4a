// Package cluster spreads the 1:N galleries over gallery shards that talk
// over NATS JetStream (docs/scale.md). It implements the registry's
// Galleries interface for API nodes (Client) and runs one shard replica
// (Shard, `assent gallery`).
//
// What each side owns:
//   - The store's gallery outbox (gallery_changes) is written by the
//     registry in the transaction of every change that must reach the
//     galleries. A relay in every API node (Client.Flush and its background
//     loop) publishes the rows, in order, to the JetStream stream
//     ASSENT_GALLERY with Msg-Id "gc-<seq>", then deletes them; a relay
//     that dies between the publish and the delete is harmless, JetStream
//     drops the second copy (and the events are idempotent anyway).
//   - Messages carry ids only (operation, modality, person, reference):
//     never a template. A shard reads the sealed template from PostgreSQL
//     through the registry (GalleryEntries) and opens it with the shared
//     key store, so nothing sealed or clear sits in a stream, and an
//     erased person's key shredding covers everything.
//   - People go to shard ShardOf(person, N) (FNV-1a of the id, mod N).
//     Subject assent.gallery.<shard>.<person>: a removal purges the
//     person's earlier messages from the stream.
//   - A search is a core NATS request to assent.search.<shard> for every
//     shard (queue group per shard: one replica answers), with a timeout.
//     A shard that does not answer makes the search incomplete
//     (deduplication "pending"), never "no duplicates".
//
// Trust: the subjects carry person ids and probes (a probe is a template
// in the clear, in transit only); run NATS with TLS and credentials
// between machines (docs/deploy.md).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream and subjects.
const (
	// StreamName is the JetStream stream of gallery changes.
	StreamName = "ASSENT_GALLERY"
	// changeSubjects is the stream's subject space.
	changeSubjects = "assent.gallery.>"
	// DuplicateWindow is how long JetStream remembers a Msg-Id: a relay
	// that publishes again within it (a node died before deleting the
	// outbox rows) is dropped as a duplicate.
	DuplicateWindow = 2 * time.Minute
	// MaxAge is how long a change stays in the stream. A shard that
	// starts loads from PostgreSQL and follows the stream from that point,
	// so only a shard cut off from NATS for longer must restart (it does:
	// see Shard).
	MaxAge = 7 * 24 * time.Hour
)

// ShardOf is the shard (0..n-1) of a person: FNV-1a 64 of the id, mod n.
func ShardOf(personID string, n int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(personID))
	return int(h.Sum64() % uint64(max(n, 1)))
}

var tokenOK = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// personToken is the person's id as one subject token (ids are UUIDs;
// anything else is hashed so that it stays one token).
func personToken(id string) string {
	if tokenOK.MatchString(id) {
		return id
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf("h%016x", h.Sum64())
}

func changeSubject(shard int, personID string) string {
	return fmt.Sprintf("assent.gallery.%d.%s", shard, personToken(personID))
}

func shardFilter(shard int) string { return fmt.Sprintf("assent.gallery.%d.>", shard) }

func searchSubject(shard int) string { return fmt.Sprintf("assent.search.%d", shard) }

func sizesSubject(shard int) string { return fmt.Sprintf("assent.sizes.%d", shard) }

func queueGroup(shard int) string { return fmt.Sprintf("assent-shard-%d", shard) }

// change is a stream message: one outbox row, ids only.
type change struct {
	Seq      int64     `json:"seq"`
	Op       string    `json:"op"`
	Modality string    `json:"modality,omitempty"`
	Person   string    `json:"person"`
	Ref      string    `json:"ref,omitempty"`
	At       time.Time `json:"at"`
}

// searchRequest asks one shard.
type searchRequest struct {
	Modality string `json:"modality"`
	Probe    []byte `json:"probe"` // serialised template (base64 in JSON)
	Exclude  string `json:"exclude,omitempty"`
	// Total is the whole gallery's size for the modality as the client
	// last heard it (0: unknown); the shard thresholds at MinEvidence of
	// max(Total, its own size).
	Total int `json:"total,omitempty"`
}

// searchReply is one shard's answer.
type searchReply struct {
	Candidates []string `json:"candidates"`
	Size       int      `json:"size"`
	// Error: "invalid_probe" (the probe does not decode: the search fails)
	// or "behind" (the shard could not catch up with the stream in time:
	// the search is incomplete).
	Error string `json:"error,omitempty"`
}

type sizesReply struct {
	Sizes map[string]int `json:"sizes"`
}

// StreamConfig is the gallery stream: file storage, replicas copies (3 in
// a NATS cluster of three), Msg-Id de-duplication, changes kept MaxAge.
func StreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Assent gallery changes (ids only) for the gallery shards",
		Subjects:    []string{changeSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      MaxAge,
		Duplicates:  DuplicateWindow,
		AllowDirect: true,
	}
}

// EnsureStream creates the gallery stream, or updates it to StreamConfig.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(replicas))
	if err != nil {
		return nil, fmt.Errorf("cluster: gallery stream: %w", err)
	}
	return s, nil
}

// ErrConfig is a bad shard or client configuration.
var ErrConfig = errors.New("cluster: bad configuration")
