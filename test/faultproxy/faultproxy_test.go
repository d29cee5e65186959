package faultproxy_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creditd/creditd/test/faultproxy"
)

// fakeServer accepts connections and keeps what each one receives.
type fakeServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	got   []*bytes.Buffer
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := &bytes.Buffer{}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.got = append(s.got, buf)
			s.mu.Unlock()
			wg.Go(func() {
				b := make([]byte, 4096)
				for {
					n, err := c.Read(b)
					s.mu.Lock()
					buf.Write(b[:n])
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
	})
	return s
}

// received is what the i-th connection has received so far.
func (s *fakeServer) received(i int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.got) {
		return nil
	}
	return bytes.Clone(s.got[i].Bytes())
}

func (s *fakeServer) send(t *testing.T, i int, b []byte) {
	t.Helper()
	s.mu.Lock()
	c := s.conns[i]
	s.mu.Unlock()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// never checks that cond stays false for a while.
func never(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(150 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			t.Fatalf("%s happened", what)
		}
	}
}

func startupPacket(code uint32, rest ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(rest)))
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, rest...)
}

// startupMessage is protocol 3.0 with user and database parameters.
func startupMessage() []byte {
	return startupPacket(3<<16, []byte("user\x00u\x00database\x00db\x00\x00")...)
}

func message(typ byte, payload string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, uint32(4+len(payload)))
	return append(b, payload...)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, parts ...[]byte) {
	t.Helper()
	if _, err := c.Write(bytes.Join(parts, nil)); err != nil {
		t.Fatal(err)
	}
}

// readN reads n bytes within 5 s.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// closed says whether the peer has closed c (it reads EOF or a reset within 5 s).
func closed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

type seen struct {
	typ     byte
	payload string
}

func TestRelaysBothWaysAndShowsTypedMessages(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	var mu sync.Mutex
	var msgs []seen
	p.OnClientMessage(func(typ byte, payload []byte) faultproxy.Action {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, seen{typ, string(payload)})
		return faultproxy.Forward
	})

	c := dial(t, p.Addr())
	sent := bytes.Join([][]byte{startupMessage(), message('Q', "select 1\x00"),
		message('P', "\x00select $1\x00\x00\x00"), message('B', "\x00\x00\x00\x00\x00\x00\x00\x00"), message('S', "")}, nil)
	write(t, c, sent)
	eventually(t, "the server receiving it all", func() bool { return bytes.Equal(srv.received(0), sent) })
	srv.send(t, 0, []byte("R\x00\x00\x00\x08\x00\x00\x00\x00"))
	if got := readN(t, c, 9); string(got) != "R\x00\x00\x00\x08\x00\x00\x00\x00" {
		t.Fatalf("client got %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []seen{{'Q', "select 1\x00"}, {'P', "\x00select $1\x00\x00\x00"}, {'B', "\x00\x00\x00\x00\x00\x00\x00\x00"}, {'S', ""}}
	if len(msgs) != len(want) {
		t.Fatalf("hook saw %q, want %q", msgs, want)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Fatalf("hook saw %q, want %q", msgs, want)
		}
	}
}

func TestCutClosesBeforeForwarding(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	p.OnClientMessage(func(typ byte, payload []byte) faultproxy.Action {
		if typ == 'Q' && string(payload) == "commit\x00" {
			return faultproxy.Cut
		}
		return faultproxy.Forward
	})
	c := dial(t, p.Addr())
	before := append(startupMessage(), message('Q', "begin\x00")...)
	write(t, c, before, message('Q', "commit\x00"))
	if !closed(c) {
		t.Fatal("the client is still connected")
	}
	eventually(t, "the server seeing its connection closed", func() bool { return bytes.Equal(srv.received(0), before) })
	never(t, "the commit reaching the server", func() bool { return !bytes.Equal(srv.received(0), before) })
}

func TestForwardThenCutLosesTheAnswer(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	p.OnClientMessage(func(typ byte, payload []byte) faultproxy.Action {
		if typ == 'Q' && string(payload) == "commit\x00" {
			return faultproxy.ForwardThenCut
		}
		return faultproxy.Forward
	})
	c := dial(t, p.Addr())
	sent := bytes.Join([][]byte{startupMessage(), message('Q', "begin\x00"), message('Q', "commit\x00")}, nil)
	write(t, c, sent)
	eventually(t, "the commit reaching the server", func() bool { return bytes.Equal(srv.received(0), sent) })
	srv.mu.Lock()
	_, _ = srv.conns[0].Write([]byte("C\x00\x00\x00\x0bCOMMIT\x00")) // the answer, if the socket is still there
	srv.mu.Unlock()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the client read %q, %v; want nothing, then EOF", b, err)
	}
}

func TestDownRefusesAndCutsThenUpAcceptsAgain(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	open := dial(t, p.Addr())
	write(t, open, startupMessage())
	eventually(t, "a connection", func() bool { return len(srv.received(0)) > 0 })

	p.Down()
	if !closed(open) {
		t.Fatal("an open connection survived Down")
	}
	if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while down: %v, want connection refused", err)
	}

	p.Up()
	again := dial(t, p.Addr())
	write(t, again, startupMessage(), message('Q', "select 1\x00"))
	eventually(t, "traffic after Up", func() bool { return len(srv.received(1)) == len(startupMessage())+14 })
}

func TestFreezeHoldsTrafficUntilThaw(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	c := dial(t, p.Addr())
	write(t, c, startupMessage())
	eventually(t, "a connection", func() bool { return len(srv.received(0)) > 0 })

	p.Freeze()
	q := message('Q', "select 1\x00")
	write(t, c, q)
	srv.send(t, 0, []byte("Z\x00\x00\x00\x05I"))
	late := dial(t, p.Addr()) // a connection opened while frozen is held too
	write(t, late, startupMessage())
	never(t, "the query or a new connection's startup reaching the server", func() bool {
		return len(srv.received(0)) > len(startupMessage()) || len(srv.received(1)) > 0
	})
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the client read %d bytes while frozen (%v)", n, err)
	}

	p.Thaw()
	eventually(t, "the query after the thaw", func() bool { return bytes.HasSuffix(srv.received(0), q) })
	eventually(t, "the late startup after the thaw", func() bool { return bytes.Equal(srv.received(1), startupMessage()) })
	if got := readN(t, c, 6); string(got) != "Z\x00\x00\x00\x05I" {
		t.Fatalf("client got %q after the thaw", got)
	}
}

func TestEncryptedTrafficIsRelayedUnread(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	var calls int
	var mu sync.Mutex
	p.OnClientMessage(func(byte, []byte) faultproxy.Action {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return faultproxy.Cut
	})
	c := dial(t, p.Addr())
	tls := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'}
	sent := append(startupPacket(80877103), tls...) // SSLRequest, then a TLS record
	write(t, c, sent)
	eventually(t, "the TLS bytes reaching the server", func() bool { return bytes.Equal(srv.received(0), sent) })

	// Refused SSL: a plain startup follows, and its messages are seen.
	c2 := dial(t, p.Addr())
	write(t, c2, startupPacket(80877103))
	eventually(t, "the SSL request", func() bool { return len(srv.received(1)) == 8 })
	write(t, c2, startupMessage(), message('Q', "select 1\x00"))
	if !closed(c2) {
		t.Fatal("the hook's Cut was not applied after a refused SSL request")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("hook called %d times, want once", calls)
	}
}

func TestRewriteDSN(t *testing.T) {
	srv := startFakeServer(t)
	p := faultproxy.Start(t, srv.ln.Addr().String())
	got := p.RewriteDSN("postgres://user:pa%2Fss@db.example:5432/creditd?sslmode=prefer&application_name=x")
	want := "postgres://user:pa%2Fss@" + p.Addr() + "/creditd?application_name=x&sslmode=disable"
	if got != want {
		t.Fatalf("RewriteDSN = %s, want %s", got, want)
	}
}
