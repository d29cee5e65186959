//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/adapters/webhooksender"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

// deliveryEnv is one database with a tenant, and what delivers its events.
type deliveryEnv struct {
	url    string // the database's, for more replicas
	db     *bun.DB
	uow    application.UnitOfWork
	tenant domain.TenantID
	eps    *application.WebhookEndpoints
}

func openPool(t *testing.T, url string, maxConns int) *bun.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), postgres.Config{URL: url, MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDeliveryEnv(t *testing.T) *deliveryEnv {
	t.Helper()
	url := pgtest.NewDatabase(t)
	db := openPool(t, url, 16)
	clock := system.Clock{}
	tenant, err := postgres.NewAPIKeyStore(db).EnsureTenant(context.Background(), mustTenant(t, "acme"), domain.TenantID(uuid.Must(uuid.NewV7())))
	if err != nil {
		t.Fatal(err)
	}
	return &deliveryEnv{url: url, db: db, uow: postgres.NewUnitOfWork(db, postgres.Config{}, clock), tenant: tenant,
		eps: application.NewWebhookEndpoints(postgres.NewWebhookEndpointStore(db), postgres.NewDeliveryStore(db), clock, system.UUIDv7{},
			application.WebhookEndpointsConfig{URLPolicy: domain.URLPolicy{AllowPrivate: true}})}
}

// replica is one creditd replica's delivery machinery, on a pool of its own.
func (env *deliveryEnv) replica(t *testing.T, cfg application.DeliveriesConfig) *application.Deliveries {
	t.Helper()
	db := openPool(t, env.url, 8)
	return application.NewDeliveries(postgres.NewDeliveryStore(db), webhooksender.New(webhooksender.Config{AllowPrivate: true}),
		system.Clock{}, cfg)
}

// fastRetries retry within milliseconds.
var fastRetries = application.DeliveriesConfig{Timeout: 2 * time.Second, Lease: 10 * time.Second, RetryWindow: time.Hour,
	BackoffBase: 5 * time.Millisecond, BackoffCap: 50 * time.Millisecond, Concurrency: 8}

// emit appends one transaction.created event per call to the account's
// outbox, numbered n in its payload, in a unit of work of its own.
func (env *deliveryEnv) emit(t *testing.T, tenant domain.TenantID, account string, n int) [16]byte {
	t.Helper()
	acc, err := domain.ParseAccountID(account)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.Must(uuid.NewV7())
	e := application.Event{ID: id, Type: domain.EventTransactionCreated, Tenant: tenant, Account: acc, OccurredAt: time.Now().UTC(),
		Data: application.TransactionData{TransactionID: strconv.Itoa(n), AccountID: account, Type: "GRANT", Amount: "1", BalanceAfter: "1",
			CreatedAt: time.Now().UTC()}}
	err = env.uow.WithinTx(context.Background(), application.WalletScope(tenant, acc), func(ctx context.Context, r application.Repos) error {
		return r.Events.Append(ctx, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// receipt is one POST a receiver answered.
type receipt struct {
	id      string
	account string
	n       int
	status  int
}

// receiver is an endpoint that verifies every delivery's signature, notes
// it, and answers what answer says.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	received []receipt
	inFlight map[string]bool
	overlaps int
	answer   func(id string) int
	delay    time.Duration
}

func newReceiver(t *testing.T, answer func(id string) int) *receiver {
	r := &receiver{t: t, inFlight: map[string]bool{}, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	secret := r.secret
	if r.inFlight[id] {
		r.overlaps++
	}
	r.inFlight[id] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inFlight, id)
		r.mu.Unlock()
	}()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		r.t.Errorf("secret: %v", err)
	} else if err := wh.Verify(body, req.Header); err != nil {
		r.t.Errorf("delivery %s does not verify: %v", id, err)
	}
	var msg struct {
		ID        string                      `json:"id"`
		Type      string                      `json:"type"`
		Timestamp time.Time                   `json:"timestamp"`
		Data      application.TransactionData `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.ID != id || msg.Type != "transaction.created" || msg.Timestamp.IsZero() {
		r.t.Errorf("delivery %s: body %s (%v)", id, body, err)
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-req.Context().Done():
			return
		}
	}
	n, _ := strconv.Atoi(msg.Data.TransactionID)
	status := r.answer(id)
	r.mu.Lock()
	r.received = append(r.received, receipt{id: id, account: msg.Data.AccountID, n: n, status: status})
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *receiver) delivered() []receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receipt
	for _, rc := range r.received {
		if rc.status/100 == 2 {
			out = append(out, rc)
		}
	}
	return out
}

// register creates an endpoint for the receiver and keeps its secret for verifying.
func (env *deliveryEnv) register(t *testing.T, r *receiver) *domain.WebhookEndpoint {
	t.Helper()
	e, err := env.eps.Create(context.Background(), env.tenant, r.srv.URL+"/hooks", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.secret = e.Secret()
	r.mu.Unlock()
	return e
}

// pump runs a replica's fan-out and delivery until done says so or the deadline passes.
func pump(ctx context.Context, t *testing.T, d *application.Deliveries, done func() bool) {
	t.Helper()
	for !done() {
		if ctx.Err() != nil {
			return
		}
		if _, err := d.FanOut(ctx, 50); err != nil && ctx.Err() == nil {
			t.Error(err)
			return
		}
		run, err := d.DeliverDue(ctx, 16)
		if err != nil && ctx.Err() == nil {
			t.Error(err)
			return
		}
		if run.Claimed == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// checkInOrder: every event delivered (2xx) exactly once, and each
// account's in the order it was emitted.
func checkInOrder(t *testing.T, got []receipt, accounts, perAccount int) {
	t.Helper()
	seen := map[string]int{}
	last := map[string]int{}
	for _, rc := range got {
		seen[rc.id]++
		if prev, ok := last[rc.account]; ok && rc.n != prev+1 {
			t.Errorf("account %s: event %d delivered after %d", rc.account, rc.n, prev)
		} else if !ok && rc.n != 0 {
			t.Errorf("account %s: event %d delivered first", rc.account, rc.n)
		}
		last[rc.account] = rc.n
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if len(seen) != accounts*perAccount {
		t.Errorf("%d distinct events delivered, want %d", len(seen), accounts*perAccount)
	}
}

// TestDeliveriesSurviveAFailingReceiverInOrder: a receiver that answers 500
// for a while then recovers gets every event, each once, in seq order per
// account, with many accounts interleaved. (With the claim's NOT EXISTS
// order check dropped, an account's later events overtake the retried ones.)
func TestDeliveriesSurviveAFailingReceiverInOrder(t *testing.T) {
	t.Parallel()
	env := newDeliveryEnv(t)
	var down atomic.Bool
	down.Store(true)
	failed := atomic.Int64{}
	r := newReceiver(t, func(string) int {
		if down.Load() {
			if failed.Add(1) >= 150 {
				down.Store(false) // recover after 150 failed attempts
			}
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	env.register(t, r)
	const accounts, perAccount = 12, 15
	for n := range perAccount {
		for a := range accounts {
			env.emit(t, env.tenant, fmt.Sprintf("user-%02d", a), n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := env.replica(t, fastRetries)
	pump(ctx, t, d, func() bool { return len(r.delivered()) >= accounts*perAccount })
	if ctx.Err() != nil {
		t.Fatalf("only %d of %d delivered in time", len(r.delivered()), accounts*perAccount)
	}
	if failed.Load() < 150 {
		t.Fatalf("the receiver failed %d times: the test did not exercise retries", failed.Load())
	}
	checkInOrder(t, r.delivered(), accounts, perAccount)
	stats, err := d.Stats(context.Background())
	if err != nil || stats.Pending != 0 {
		t.Errorf("stats %+v, %v: nothing should be pending", stats, err)
	}
}

// TestTwoReplicasNeverAttemptADeliveryAtOnce: two replicas fan out and
// deliver at once to a slow, flaky receiver; none of its requests for one
// webhook-id overlaps another, every event arrives once, in order per
// account. (Without SKIP LOCKED's lease, both replicas claim the same rows.)
func TestTwoReplicasNeverAttemptADeliveryAtOnce(t *testing.T) {
	t.Parallel()
	env := newDeliveryEnv(t)
	var calls atomic.Int64
	r := newReceiver(t, func(string) int {
		if calls.Add(1)%4 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	r.delay = 3 * time.Millisecond
	env.register(t, r)
	const accounts, perAccount = 10, 12
	for n := range perAccount {
		for a := range accounts {
			env.emit(t, env.tenant, fmt.Sprintf("acct-%02d", a), n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		d := env.replica(t, fastRetries)
		wg.Go(func() { pump(ctx, t, d, func() bool { return len(r.delivered()) >= accounts*perAccount }) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("only %d of %d delivered in time", len(r.delivered()), accounts*perAccount)
	}
	r.mu.Lock()
	overlaps := r.overlaps
	r.mu.Unlock()
	if overlaps != 0 {
		t.Errorf("%d requests overlapped another of the same delivery", overlaps)
	}
	checkInOrder(t, r.delivered(), accounts, perAccount)
}

// TestConcurrentFanOutsMoveEachEventOnce: two replicas fan out while events
// are being written; every event becomes exactly one delivery per endpoint,
// events of a tenant without endpoints are dropped, and the outbox ends
// empty. (Without the advisory lock, both fan-outs read the same rows, and
// the loser's moves fail or duplicate.)
func TestConcurrentFanOutsMoveEachEventOnce(t *testing.T) {
	t.Parallel()
	env := newDeliveryEnv(t)
	r1, r2 := newReceiver(t, func(string) int { return 200 }), newReceiver(t, func(string) int { return 200 })
	e1, e2 := env.register(t, r1), env.register(t, r2)
	other, err := postgres.NewAPIKeyStore(env.db).EnsureTenant(context.Background(), mustTenant(t, "other"), domain.TenantID(uuid.Must(uuid.NewV7())))
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 4, 60
	var (
		wg      sync.WaitGroup
		writing atomic.Int64
		mu      sync.Mutex
		ids     = map[[16]byte]bool{}
	)
	writing.Store(writers)
	for w := range writers {
		wg.Go(func() {
			defer writing.Add(-1)
			for n := range perWriter {
				id := env.emit(t, env.tenant, fmt.Sprintf("w%d", w), n)
				env.emit(t, other, fmt.Sprintf("w%d", w), n)
				mu.Lock()
				ids[id] = true
				mu.Unlock()
			}
		})
	}
	var events, skipped atomic.Int64
	for range 2 {
		d := env.replica(t, fastRetries)
		wg.Go(func() {
			for {
				stillWriting := writing.Load() > 0
				run, err := d.FanOut(context.Background(), 7)
				if err != nil {
					t.Error(err)
					return
				}
				events.Add(int64(run.Events))
				if run.Skipped {
					skipped.Add(1)
				}
				if !stillWriting && run.Events == 0 && !run.Skipped {
					return
				}
			}
		})
	}
	wg.Wait()
	if want := int64(2 * writers * perWriter); events.Load() != want {
		t.Errorf("%d events moved, want %d", events.Load(), want)
	}
	var left int
	if err := env.db.NewRaw("SELECT count(*) FROM events").Scan(context.Background(), &left); err != nil || left != 0 {
		t.Errorf("%d events left in the outbox (%v)", left, err)
	}
	for _, e := range []*domain.WebhookEndpoint{e1, e2} {
		var got []uuid.UUID
		if err := env.db.NewRaw("SELECT event_id FROM webhook_deliveries WHERE endpoint_id = ?", uuid.UUID(e.ID())).Scan(context.Background(), &got); err != nil {
			t.Fatal(err)
		}
		gotSet := map[[16]byte]bool{}
		for _, id := range got {
			gotSet[id] = true
		}
		if len(got) != len(ids) || len(gotSet) != len(ids) {
			t.Errorf("endpoint %s has %d deliveries (%d distinct), want %d", e.ID(), len(got), len(gotSet), len(ids))
		}
		for id := range ids {
			if !gotSet[id] {
				t.Errorf("endpoint %s has no delivery of %x", e.ID(), id)
				break
			}
		}
	}
	var otherDeliveries int
	if err := env.db.NewRaw("SELECT count(*) FROM webhook_deliveries WHERE tenant_id = ?", uuid.UUID(other)).Scan(context.Background(), &otherDeliveries); err != nil || otherDeliveries != 0 {
		t.Errorf("the tenant without endpoints has %d deliveries (%v)", otherDeliveries, err)
	}
	t.Logf("fan-outs skipped while the other ran: %d", skipped.Load())
}

// TestAKilledWorkersDeliveryIsRetriedWithTheSameID: a replica stopped
// while its POST is in flight records nothing; once the lease ends another
// replica delivers the same event, with the same webhook-id, signed anew.
func TestAKilledWorkersDeliveryIsRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	env := newDeliveryEnv(t)
	var first atomic.Bool
	first.Store(true)
	arrived := make(chan struct{})
	r := newReceiver(t, func(string) int { return 200 })
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if first.CompareAndSwap(true, false) {
			_, _ = io.ReadAll(req.Body) // so the server notices the client going away
			close(arrived)
			select { // hang until the worker is gone
			case <-req.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		r.serve(w, req)
	})
	e := env.register(t, r)
	id := env.emit(t, env.tenant, "victim", 0)

	cfg := fastRetries
	cfg.Timeout, cfg.Lease = 500*time.Millisecond, time.Second
	killed := env.replica(t, cfg)
	ctx, kill := context.WithCancel(context.Background())
	if _, err := killed.FanOut(ctx, 10); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run, err := killed.DeliverDue(ctx, 10)
		if err != nil || run.Delivered+run.Retried+run.Failed != 0 {
			t.Errorf("the killed worker recorded %+v, %v", run, err)
		}
	}()
	<-arrived
	kill()
	<-done

	survivor := env.replica(t, cfg)
	start := time.Now()
	deadline, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pump(deadline, t, survivor, func() bool { return len(r.delivered()) >= 1 })
	if got := r.delivered(); len(got) != 1 || got[0].id != uuid.UUID(id).String() {
		t.Fatalf("delivered %+v, want event %s once", got, uuid.UUID(id))
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the retry came %s later; the lease is 1s", waited)
	}
	list, err := env.eps.Deliveries(context.Background(), application.DeliveryFilter{Tenant: env.tenant, Endpoint: e.ID()}, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("deliveries %+v, %v", list, err)
	}
	if d := list[0]; d.Status != domain.DeliveryDelivered || d.Attempts != 2 || d.DeliveredAt == nil || d.LastStatus != 200 {
		t.Errorf("delivery after the retry: %+v", d)
	}
}

// TestDeliveryGivesUpAfterTheRetryWindowAndLaterOnesProceed: a delivery
// failing past its window fails, and the account's next event goes out.
func TestDeliveryGivesUpAfterTheRetryWindowAndLaterOnesProceed(t *testing.T) {
	t.Parallel()
	env := newDeliveryEnv(t)
	var poisoned atomic.Value
	poisoned.Store("")
	r := newReceiver(t, func(id string) int {
		if id == poisoned.Load().(string) {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	e := env.register(t, r)
	first := env.emit(t, env.tenant, "acct", 0)
	poisoned.Store(uuid.UUID(first).String())
	env.emit(t, env.tenant, "acct", 1)
	cfg := fastRetries
	cfg.RetryWindow = 300 * time.Millisecond
	d := env.replica(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pump(ctx, t, d, func() bool { return len(r.delivered()) >= 1 })
	got := r.delivered()
	if len(got) != 1 || got[0].n != 1 {
		t.Fatalf("delivered %+v, want event 1", got)
	}
	failed := domain.DeliveryFailed
	list, err := env.eps.Deliveries(context.Background(), application.DeliveryFilter{Tenant: env.tenant, Endpoint: e.ID(), Status: &failed}, 10)
	if err != nil || len(list) != 1 || list[0].EventID != first || list[0].LastStatus != 400 || list[0].Attempts < 2 ||
		list[0].LastAttemptAt.Sub(list[0].RetryFrom) < cfg.RetryWindow {
		t.Fatalf("failed deliveries %+v, %v", list, err)
	}
	// Redelivered, it is pending again with a fresh window.
	poisoned.Store("")
	if _, err := env.eps.Redeliver(context.Background(), env.tenant, e.ID(), first); err != nil {
		t.Fatal(err)
	}
	pump(ctx, t, d, func() bool { return len(r.delivered()) >= 2 })
	if got := r.delivered(); len(got) != 2 || got[1].id != uuid.UUID(first).String() {
		t.Fatalf("after redeliver: %+v", got)
	}
}
