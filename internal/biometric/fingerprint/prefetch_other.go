//go:build !amd64

package fingerprint

// prefetch does nothing here (see prefetch_amd64.go).
func prefetch(p *byte) {}
