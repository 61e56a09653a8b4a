// Package failpoint makes a process die at a named point of its code, for
// the tests that SIGKILL real processes at each step of a change's way to
// the galleries (internal/cli, TestSigkillSteps). It is test-only: a
// process started with ASSENT_FAILPOINT=name[,name...] in its environment
// kills itself with SIGKILL the first time it reaches one of those points,
// with no chance to clean up, exactly as `kill -9` at that instant would.
// Unset (production), Hit is one load and one comparison.
//
// The points are named for where they are (docs/scale.md lists them); the
// set is read once, when the process starts.
package failpoint

import (
	"fmt"
	"os"
	"strings"
)

// Env is the environment variable that arms failpoints.
const Env = "ASSENT_FAILPOINT"

// The points placed in the code. A test arms one by name.
const (
	// EnrolCommitted: an API node, after the transaction that stored a
	// deduplication template (and its outbox row) committed, before the
	// relay publishes it.
	EnrolCommitted = "enrol-committed"
	// EraseCommitted: an API node, after the transaction that erased a
	// person (and wrote the outbox's remove) committed, before the keys
	// are shredded and the relay publishes.
	EraseCommitted = "erase-committed"
	// RelayAcked: the outbox relay, after JetStream acknowledged every
	// message of a round, before the outbox rows are deleted (and before a
	// removed person's earlier messages are purged).
	RelayAcked = "relay-acked"
	// ShardReceived: a gallery shard replica, after it received a change
	// from the stream, before it applies it.
	ShardReceived = "shard-received"
	// ShardLoaded: a gallery shard replica at start-up, after its load
	// from PostgreSQL, before it follows the stream and answers searches.
	ShardLoaded = "shard-loaded"
	// SnapshotWriting: a gallery snapshot's write, after its first batch
	// of records went to the temporary file, before it is complete and
	// renamed over the former snapshot.
	SnapshotWriting = "snapshot-writing"
	// PendingSearched: an API node completing a pending deduplication
	// search, after every shard answered, before the cases are written.
	PendingSearched = "pending-searched"
)

// armed is the set named by Env at start-up; nil when none is (the
// common case, and the only one outside tests).
var armed = parse(os.Getenv(Env))

func parse(s string) map[string]bool {
	var m map[string]bool
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if m == nil {
				m = map[string]bool{}
			}
			m[n] = true
		}
	}
	return m
}

// Hit kills this process with SIGKILL if point name is armed; otherwise
// it does nothing. It writes one line to stderr first, so that a test can
// tell which point killed the process.
func Hit(name string) {
	if armed == nil || !armed[name] {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint %s: SIGKILL\n", name)
	kill()
}
