package registry

import (
	"container/list"
	"sync"
	"time"
)

// Portal login limits. Three counters, each in a bounded LRU so memory
// stays fixed whatever an attacker sends (the least recently used entry is
// dropped, never the whole table):
//
//   - per client address: at most maxPerClient attempts per clientWindow,
//     whatever ids it tries (slows one machine guessing many people);
//   - per (person, client): maxPairFailures wrong codes lock that client out
//     of that person's portal for lockout;
//   - per person: maxPersonFailures wrong codes from any clients lock the
//     person's portal for lockout (slows guessing spread over many
//     addresses).
//
// Failures are counted against a person only when the person exists and is
// active: wrong ids cost the client its attempts but touch no real person,
// so nobody can flush the table with invented ids or lock them.
//
// The trade-off: someone who knows a person's id can, from enough
// addresses, lock that person's portal for lockout at a time. The person
// keeps every right at a registration site meanwhile, and the code space
// (80 random bits) makes guessing hopeless at these rates; a per-person
// lockout is what keeps distributed guessing that way. docs/consent.md
// says so.
const (
	maxPerClient      = 20 // login attempts per client address per window
	clientWindow      = time.Minute
	maxPairFailures   = 5  // wrong codes for one person from one client
	maxPersonFailures = 20 // wrong codes for one person from all clients
	lockout           = 15 * time.Minute
	maxEntriesKept    = 100000 // per table
)

// limiter tracks login attempts in memory. Safe for concurrent use.
type limiter struct {
	mu      sync.Mutex
	clients lru // client -> attempts in the current window
	pairs   lru // person + "\x00" + client -> failures
	persons lru // person -> failures
}

// counter is a count in a window that started at start, or a lock.
type counter struct {
	n           int
	start       time.Time
	lockedUntil time.Time
}

// lru is a map with a bound: past max entries, the least recently used is
// dropped. Not safe for concurrent use (the limiter's mutex guards it).
type lru struct {
	max   int
	order *list.List // front: most recently used; values are *lruEntry
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	c   counter
}

// get returns the counter of key, created when absent, and marks it used.
func (l *lru) get(key string) *counter {
	if l.items == nil {
		l.items, l.order = map[string]*list.Element{}, list.New()
		if l.max == 0 {
			l.max = maxEntriesKept
		}
	}
	if el, ok := l.items[key]; ok {
		l.order.MoveToFront(el)
		return &el.Value.(*lruEntry).c
	}
	for l.order.Len() >= l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(*lruEntry).key)
	}
	e := &lruEntry{key: key}
	l.items[key] = l.order.PushFront(e)
	return &e.c
}

// peek returns the counter of key without creating or marking it.
func (l *lru) peek(key string) *counter {
	if el, ok := l.items[key]; ok {
		return &el.Value.(*lruEntry).c
	}
	return nil
}

func (l *lru) remove(key string) {
	if el, ok := l.items[key]; ok {
		l.order.Remove(el)
		delete(l.items, key)
	}
}

func (l *lru) len() int { return len(l.items) }

// attempt counts one login attempt of client and reports whether it is
// within the client's rate.
func (l *limiter) attempt(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients.get(client)
	if c.start.IsZero() || now.Sub(c.start) >= clientWindow {
		c.n, c.start = 0, now
	}
	c.n++
	return c.n <= maxPerClient
}

// locked reports whether logins to person from client are refused for now.
func (l *limiter) locked(person, client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []*counter{l.persons.peek(person), l.pairs.peek(person + "\x00" + client)} {
		if c != nil && now.Before(c.lockedUntil) {
			return true
		}
	}
	return false
}

// failure counts a wrong code for an existing person from client.
func (l *limiter) failure(person, client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range []struct {
		c   *counter
		max int
	}{{l.persons.get(person), maxPersonFailures}, {l.pairs.get(person + "\x00" + client), maxPairFailures}} {
		if !t.c.start.IsZero() && now.Sub(t.c.start) >= lockout {
			t.c.n, t.c.start = 0, time.Time{} // old failures are forgotten
		}
		if t.c.start.IsZero() {
			t.c.start = now
		}
		t.c.n++
		if t.c.n >= t.max {
			t.c.n, t.c.start, t.c.lockedUntil = 0, time.Time{}, now.Add(lockout)
		}
	}
}

// success forgets the failures of person from client (a good code proves
// that client knows it; failures from elsewhere still count).
func (l *limiter) success(person, client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pairs.remove(person + "\x00" + client)
}
