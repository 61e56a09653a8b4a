package fingerprint

// prefetch asks the core for the cache line holding *p, ahead of its use
// (voteSegment: the next lists' units).
//
//go:noescape
func prefetch(p *byte)
