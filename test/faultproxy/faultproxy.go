// Package faultproxy is a TCP proxy for integration tests, put between a
// service and PostgreSQL to make the database fail on cue: go down, freeze,
// or lose a connection right after a chosen message.
//
//	p := faultproxy.Start(t, "127.0.0.1:5432")
//	dsn := p.RewriteDSN("postgres://u:pw@127.0.0.1:5432/db") // now through the proxy
//	p.Down()   // new connections are refused, open ones cut
//	p.Up()     // accepting again, on the same address
//	p.Freeze() // every byte is held, both ways; nothing is closed
//	p.Thaw()
//	p.OnClientMessage(func(typ byte, payload []byte) faultproxy.Action { ... })
//
// The proxy reads PostgreSQL's frontend protocol from the client in plain
// text (RewriteDSN sets sslmode=disable): after the startup packets, which
// have no type byte, every message is a type byte, an int32 length that
// counts itself, and a payload. A simple query is 'Q' with the SQL text and
// a NUL; the extended protocol sends 'P' (Parse), 'B' (Bind), 'E' (Execute)
// and 'S' (Sync). Traffic it cannot read (TLS) is relayed as it is, unseen.
package faultproxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Action says what the proxy does with a client message.
type Action int

const (
	// Forward sends the message on to the server.
	Forward Action = iota
	// Cut closes both sides of the connection instead of sending the message.
	Cut
	// ForwardThenCut sends the message, then closes both sides without
	// relaying anything more from the server: the client never learns the
	// answer (say, of a COMMIT the server carries out).
	ForwardThenCut
)

// Proxy relays TCP connections to one target. Its methods are safe to call
// from any goroutine.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while down
	links  map[*link]struct{}
	thawed chan struct{} // non-nil while frozen; closed by Thaw
	hook   func(typ byte, payload []byte) Action
	closed bool
	wg     sync.WaitGroup
}

// link is one client connection and its connection to the target.
type link struct {
	client, server net.Conn
	done           chan struct{} // closed when the link is cut
	once           sync.Once
	muted          atomic.Bool // nothing more goes to the client
}

// Start listens on a free port of 127.0.0.1 and relays every connection to
// target (host:port). The proxy is closed in t.Cleanup.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), links: map[*link]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// RewriteDSN points a postgres:// URL at the proxy, keeping its user,
// password, database and parameters, with sslmode=disable so the proxy can
// read the protocol.
func (p *Proxy) RewriteDSN(dsn string) string {
	p.t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		p.t.Fatalf("faultproxy: %q is not a postgres:// URL", dsn)
	}
	u.Host = p.addr
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

// OnClientMessage calls fn with each typed message a client sends after
// startup, before it is relayed, and does what fn says. fn runs on the
// connection's goroutine, and payload is valid only during the call. nil
// forwards everything.
func (p *Proxy) OnClientMessage(fn func(typ byte, payload []byte) Action) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = fn
}

// Down stops listening, so new connections are refused, and cuts every open
// connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, l := range links {
		p.cut(l)
	}
}

// Up listens again on the same address.
func (p *Proxy) Up() {
	p.t.Helper()
	p.mu.Lock()
	up := p.ln != nil || p.closed
	p.mu.Unlock()
	if up {
		return
	}
	var (
		ln  net.Listener
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		p.t.Errorf("faultproxy: listen again on %s: %v", p.addr, err)
		return
	}
	p.serve(ln)
}

// Freeze holds all traffic, both ways and on new connections too, without
// closing anything: a database that takes connections and never answers.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed == nil {
		p.thawed = make(chan struct{})
	}
}

// Thaw relays what Freeze held, and everything after it.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thawed != nil {
		close(p.thawed)
		p.thawed = nil
	}
}

// Close cuts everything and waits for the proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Down()
	p.Thaw()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Down
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
}

// relay connects c to the target and pumps both ways until either side ends
// or the link is cut.
func (p *Proxy) relay(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	l := &link{client: c, server: s, done: make(chan struct{})}
	p.mu.Lock()
	if p.ln == nil { // went down while this one connected
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	p.wg.Go(func() { p.fromServer(l) })
	p.fromClient(l)
}

func (p *Proxy) cut(l *link) {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		_ = l.server.Close()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	})
}

// gate waits while the proxy is frozen; false when the link was cut meanwhile.
func (p *Proxy) gate(l *link) bool {
	for {
		p.mu.Lock()
		thawed := p.thawed
		p.mu.Unlock()
		if thawed == nil {
			return true
		}
		select {
		case <-thawed:
		case <-l.done:
			return false
		}
	}
}

func (p *Proxy) fromServer(l *link) {
	defer p.cut(l)
	buf := make([]byte, 32<<10)
	for {
		n, err := l.server.Read(buf)
		if n > 0 {
			if !p.gate(l) {
				return
			}
			if !l.muted.Load() {
				if _, werr := l.client.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Startup packet codes (the int32 after the length).
const (
	sslRequest     = 80877103
	gssEncRequest  = 80877104
	maxStartupSize = 10000 // PostgreSQL's own limit
)

func (p *Proxy) fromClient(l *link) {
	defer p.cut(l)
	r := bufio.NewReader(l.client)
	typed, err := p.startup(l, r)
	if err != nil {
		return
	}
	if !typed {
		p.raw(l, r)
		return
	}
	for {
		head := make([]byte, 5)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[1:])
		if n < 4 || n > 1<<30 {
			return // not the protocol: hang up as a server would
		}
		msg := make([]byte, 1+n)
		copy(msg, head)
		if _, err := io.ReadFull(r, msg[5:]); err != nil {
			return
		}
		p.mu.Lock()
		hook := p.hook
		p.mu.Unlock()
		action := Forward
		if hook != nil {
			action = hook(msg[0], msg[5:])
		}
		switch action {
		case Cut:
			return
		case ForwardThenCut:
			l.muted.Store(true) // before the server can answer
		}
		if !p.gate(l) {
			return
		}
		if _, err := l.server.Write(msg); err != nil || action == ForwardThenCut {
			return
		}
	}
}

// startup relays the untyped startup packets: SSL and GSSAPI requests, then
// the startup message. It reports false when what follows cannot be read as
// typed messages (encryption was negotiated, or a cancel request was sent).
func (p *Proxy) startup(l *link, r *bufio.Reader) (typed bool, err error) {
	for {
		first, err := r.Peek(1)
		if err != nil {
			return false, err
		}
		if first[0] != 0 { // a TLS record, not a startup packet's length
			return false, nil
		}
		head := make([]byte, 8)
		if _, err := io.ReadFull(r, head); err != nil {
			return false, err
		}
		n := binary.BigEndian.Uint32(head)
		if n < 8 || n > maxStartupSize {
			return false, fmt.Errorf("faultproxy: startup packet of %d bytes", n)
		}
		pkt := make([]byte, n)
		copy(pkt, head)
		if _, err := io.ReadFull(r, pkt[8:]); err != nil {
			return false, err
		}
		if !p.gate(l) {
			return false, errors.New("cut")
		}
		if _, err := l.server.Write(pkt); err != nil {
			return false, err
		}
		switch code := binary.BigEndian.Uint32(head[4:]); {
		case code == sslRequest || code == gssEncRequest:
			continue // the server answers one byte; then TLS or another packet
		case code>>16 == 3: // protocol 3.x: the startup message
			return true, nil
		default: // a cancel request, or something unknown
			return false, nil
		}
	}
}

// raw relays the rest of the client's bytes unread.
func (p *Proxy) raw(l *link, r *bufio.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if !p.gate(l) {
				return
			}
			if _, werr := l.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
