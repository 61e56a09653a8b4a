package postgres

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
)

// errClosed is returned by acquire after close.
var errClosed = errors.New("store is closed")

// connPool is a bounded pool of pgx connections. pgxpool would do this, but
// it needs github.com/jackc/puddle/v2, which go.sum does not list; this pool
// holds the few lines the store needs: at most max connections, idle ones
// reused, broken ones (closed, or left inside a transaction) dropped.
//
// It is safe for concurrent use. A connection belongs to one goroutine
// between acquire and release.
type connPool struct {
	cfg *pgx.ConnConfig
	sem chan struct{} // one token per connection in use or being dialled

	mu     sync.Mutex
	idle   []*pgx.Conn
	closed bool
}

func newConnPool(cfg *pgx.ConnConfig, size int) *connPool {
	return &connPool{cfg: cfg, sem: make(chan struct{}, size)}
}

// acquire returns an open connection, waiting while max are in use. The
// caller must release it exactly once.
func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.sem
			return nil, errClosed
		}
		var c *pgx.Conn
		if n := len(p.idle); n > 0 {
			c, p.idle = p.idle[n-1], p.idle[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			break
		}
		if !c.IsClosed() {
			return c, nil
		}
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// release gives c back. A connection that is closed, or not idle outside a
// transaction (a failed rollback, a cancelled query), is closed instead of
// reused, and so is every connection released after close.
func (p *connPool) release(c *pgx.Conn) {
	defer func() { <-p.sem }()
	if !c.IsClosed() && c.PgConn().TxStatus() == 'I' {
		p.mu.Lock()
		if !p.closed {
			p.idle = append(p.idle, c)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	c.Close(context.Background())
}

// close closes the idle connections and makes acquire fail; connections in
// use are closed when released.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.Close(context.Background())
	}
}
