// Package clustertest starts an embedded NATS JetStream cluster for tests
// (github.com/nats-io/nats-server/v2 in the test process). It is for tests
// only.
package clustertest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/cluster"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// freePorts finds n free TCP ports on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ps []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ps
}

// NATS starts n embedded nats-servers with JetStream, clustered
// (n >= 3 gives a real RAFT group), and returns a client URL list. The
// servers stop when the test ends.
func NATS(t testing.TB, n int) (string, []*server.Server) {
	t.Helper()
	client := freePorts(t, n)
	routes := freePorts(t, n)
	var rs []string
	for _, p := range routes {
		rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	var urls []string
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       client[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "assent-test", Host: "127.0.0.1", Port: routes[i]}
			o.Routes = server.RoutesFromStr(strings.Join(rs, ","))
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		servers = append(servers, s)
		urls = append(urls, s.ClientURL())
		t.Cleanup(s.Shutdown)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatal("nats-server not ready")
		}
	}
	url := strings.Join(urls, ",")
	// Wait for a JetStream meta leader: create the stream.
	nc := Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cluster.EnsureStream(ctx, js, min(n, 3))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return url, servers
}

// Connect connects to url, reconnecting for ever; closed at the test's end.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
