//go:build integration

package integration

import (
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/test/pgtest"
)

// TestOpenWaitsForALateDatabase: a database that becomes reachable within
// ConnectTimeout is connected to; with no timeout, Open tries once.
func TestOpenWaitsForALateDatabase(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	server := u.Host
	u.Host = freeAddr(t) // nothing there until the proxy starts
	late := u.String()

	if _, err := postgres.Open(t.Context(), postgres.Config{URL: late, MaxConns: 2}); err == nil ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Open without ConnectTimeout while nothing listens: %v; want connection refused", err)
	}

	const delay = 1500 * time.Millisecond
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after the test's context is cancelled
	wg.Go(func() {
		select {
		case <-time.After(delay):
			proxy(t, u.Host, server)
		case <-t.Context().Done():
		}
	})
	started := time.Now()
	db, err := postgres.Open(t.Context(), postgres.Config{URL: late, MaxConns: 2, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("Open while the database appears after %s: %v", delay, err)
	}
	defer db.Close()
	if took := time.Since(started); took < delay {
		t.Fatalf("connected after %s, before anything listened", took)
	}
	var one int
	if err := db.NewSelect().ColumnExpr("1").Scan(t.Context(), &one); err != nil || one != 1 {
		t.Fatalf("query through the late proxy: %d, %v", one, err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proxy forwards connections on addr to target until the test's context
// ends.
func proxy(t *testing.T, addr, target string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("proxy listen on %s: %v", addr, err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		<-t.Context().Done()
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for {
		client, err := ln.Accept()
		if err != nil {
			return // closed at the end of the test
		}
		upstream, err := net.Dial("tcp", target)
		if err != nil {
			client.Close()
			t.Errorf("proxy dial %s: %v", target, err)
			continue
		}
		mu.Lock()
		conns = append(conns, client, upstream)
		mu.Unlock()
		wg.Go(func() { _, _ = io.Copy(upstream, client); upstream.Close() })
		wg.Go(func() { _, _ = io.Copy(client, upstream); client.Close() })
	}
}
