package envelope

import (
	"container/list"
	"crypto/cipher"
	"sync"
)

// dataKey is an unwrapped data key ready to use.
type dataKey struct {
	version uint32
	aead    cipher.AEAD
}

type cacheKey struct{ person, cat string }

type cacheEntry struct {
	key cacheKey
	dk  dataKey
}

// keyCache is a bounded LRU of unwrapped data keys, safe for concurrent use.
// A capacity of 0 disables caching.
type keyCache struct {
	mu    sync.Mutex
	cap   int
	ll    *list.List // front = most recently used
	items map[cacheKey]*list.Element
}

func newKeyCache(capacity int) *keyCache {
	return &keyCache{cap: capacity, ll: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *keyCache) get(k cacheKey) (dataKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return dataKey{}, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*cacheEntry).dk, true
}

func (c *keyCache) put(k cacheKey, dk dataKey) {
	if c.cap <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*cacheEntry).dk = dk
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, dk: dk})
	for c.ll.Len() > c.cap {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

func (c *keyCache) evict(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.Remove(e)
		delete(c.items, k)
	}
}

// evictPerson drops every cached key of person. It walks the cache, which is
// bounded; erasures are rare.
func (c *keyCache) evictPerson(person string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.person == person {
			c.ll.Remove(e)
			delete(c.items, k)
		}
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
