//go:build integration

package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/test/faultproxy"
	"github.com/creditd/creditd/test/pgtest"
)

// startBehindProxy starts the service on a database it reaches through a
// fault proxy.
func startBehindProxy(t *testing.T, env map[string]string) (*service, *faultproxy.Proxy) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t, u.Host)
	vars := map[string]string{"DATABASE_URL": p.RewriteDSN(dsn)}
	for k, v := range env {
		vars[k] = v
	}
	return start(t, vars), p
}

// expectUnavailable fails unless r is a 503 unavailable problem with a
// Retry-After in seconds.
func expectUnavailable(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status != 503 {
		t.Errorf("%s: status %d, want 503: %s", what, r.Status, r.Raw)
		return
	}
	r.expect(t, 503, "unavailable")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q is not a number of seconds", what, r.Header.Get("Retry-After"))
	}
}

// waitReady polls /readyz until the service reaches its database again.
func (s *service) waitReady() {
	s.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.do("GET", "/readyz", "").Status != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("not ready 20 s after the database came back")
		}
	}
}

// TestDatabaseDownGives503: with PostgreSQL unreachable, reads, writes and
// authentication get 503 unavailable with Retry-After, not 500; once it is
// back, the same Idempotency-Keys run their requests, once.
func TestDatabaseDownGives503(t *testing.T) {
	t.Parallel()
	s, proxy := startBehindProxy(t, nil)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"100","source":"bonus"}`).expect(t, 201)
	toRelease := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"10","expiresInSeconds":600}`).expect(t, 201).JSON["id"].(string)
	toCapture := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"10","expiresInSeconds":600}`).expect(t, 201).JSON["id"].(string)
	fresh := s.newKey("acme") // never used, so authenticating it needs the database
	before := s.snapshot()

	proxy.Down()
	writes := []struct{ key, path, body string }{
		{"grant-1", "/v1/accounts/u1/grants", `{"amount":"5","source":"bonus"}`},
		{"spend-1", "/v1/accounts/u1/spends", `{"amount":"7"}`},
		{"hold-1", "/v1/accounts/u1/holds", `{"amount":"3","expiresInSeconds":600}`},
		{"capture-1", "/v1/holds/" + toCapture + "/capture", `{"amount":"4"}`},
		{"release-1", "/v1/holds/" + toRelease + "/release", `{}`},
		{"grant-new", "/v1/accounts/u2/grants", `{"amount":"1","source":"paid"}`},
	}
	began := time.Now()
	for _, w := range writes {
		for range 2 { // a retry while it is down is a 503 again, not a stored receipt
			expectUnavailable(t, w.key, s.do("POST", w.path, w.body, "Idempotency-Key", w.key))
		}
	}
	for _, path := range []string{"/v1/accounts/u1", "/v1/accounts/u1/transactions", "/v1/holds/" + toRelease} {
		expectUnavailable(t, path, s.do("GET", path, ""))
	}
	s.key, fresh = fresh, s.key
	expectUnavailable(t, "authentication", s.do("GET", "/v1/accounts/u1", ""))
	expectUnavailable(t, "authentication of a write", s.do("POST", "/v1/accounts/u1/spends", `{"amount":"1"}`))
	s.key, fresh = fresh, s.key
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("answering 503s took %s: a refused connection should be reported at once", took)
	}
	s.do("GET", "/readyz", "").expect(t, 503, "not-ready")

	proxy.Up()
	s.waitReady()
	if after := s.snapshot(); after != before {
		t.Fatalf("the database changed while it was down: %s -> %s", before, after)
	}
	for _, w := range writes {
		r := s.do("POST", w.path, w.body, "Idempotency-Key", w.key)
		if r.Status >= 300 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("%s once the database is back: %d replayed=%q %s", w.key, r.Status, r.Header.Get("Idempotent-Replayed"), r.Raw)
		}
		if r := s.do("POST", w.path, w.body, "Idempotency-Key", w.key); r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s again: %d %s, want a replay", w.key, r.Status, r.Raw)
		}
	}
	acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	// 100 + 5 - 7 - 4 captured; held: the new 3 and the 6 left of the captured hold.
	if acct.JSON["balance"] != "94" || acct.JSON["held"] != "9" {
		t.Errorf("after the retries: %s", acct.Raw)
	}
	s.key = fresh
	s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	s.requireSound()
}

// TestFrozenDatabaseGives503: a database that takes connections and never
// answers holds no request past CREDITD_HTTP_REQUEST_TIMEOUT; afterwards a
// retry with the same Idempotency-Key runs the spend once or replays it.
func TestFrozenDatabaseGives503(t *testing.T) {
	t.Parallel()
	const deadline = time.Second
	s, proxy := startBehindProxy(t, map[string]string{"CREDITD_HTTP_REQUEST_TIMEOUT": deadline.String()})
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"100","source":"bonus"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"10","expiresInSeconds":600}`).expect(t, 201).JSON["id"].(string)
	fresh := s.newKey("acme")
	other := *s
	other.key = fresh

	proxy.Freeze()
	var wg sync.WaitGroup
	for _, req := range []struct {
		s                  *service
		method, path, body string
	}{
		{s, "GET", "/v1/accounts/u1", ""},
		{s, "GET", "/v1/accounts/u1/transactions", ""},
		{s, "GET", "/v1/holds/" + hold, ""},
		{s, "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`},
		{s, "POST", "/v1/holds/" + hold + "/capture", `{"amount":"2"}`},
		{&other, "GET", "/v1/accounts/u1", ""},
	} {
		wg.Go(func() {
			began := time.Now()
			r := req.s.do(req.method, req.path, req.body, "Idempotency-Key", "frozen-"+req.path)
			took := time.Since(began)
			expectUnavailable(t, req.method+" "+req.path, r)
			if took < deadline-50*time.Millisecond || took > deadline+3*time.Second {
				t.Errorf("%s %s answered after %s; the deadline is %s", req.method, req.path, took, deadline)
			}
		})
	}
	wg.Wait()
	proxy.Thaw()

	// What was cut short ran or was dropped, as a whole; retried with their
	// keys, the spend and the capture each move credits once.
	// Connections that froze may take the pool a moment to replace on a busy
	// machine: a client retries a 503 after Retry-After, as here.
	untilServed := func(method, path, body, key string) response {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; {
			r := s.do(method, path, body, "Idempotency-Key", key)
			if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				return r
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	untilServed("POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, "frozen-/v1/accounts/u1/spends").expect(t, 201)
	untilServed("POST", "/v1/holds/"+hold+"/capture", `{"amount":"2"}`, "frozen-/v1/holds/"+hold+"/capture").expect(t, 200)
	acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	if acct.JSON["balance"] != "97" || acct.JSON["held"] != "8" {
		t.Errorf("after the retries: %s", acct.Raw)
	}
	other.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	s.requireSound()
}
