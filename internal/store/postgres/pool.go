package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// connPool is the store's view of pgxpool: at most size connections, idle
// ones health-checked and reused; a connection released closed or still
// inside a transaction is destroyed by pgxpool rather than reused. It is
// safe for concurrent use; a connection belongs to one goroutine between
// acquire and release.
type connPool struct {
	p    *pgxpool.Pool
	size int
}

func newConnPool(cfg *pgx.ConnConfig, size int) (*connPool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	pc.ConnConfig = cfg
	pc.MaxConns = int32(size)
	p, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	return &connPool{p: p, size: size}, nil
}

func (p *connPool) acquire(ctx context.Context) (*pgxpool.Conn, error) { return p.p.Acquire(ctx) }

func (p *connPool) release(c *pgxpool.Conn) { c.Release() }

func (p *connPool) close() { p.p.Close() }
