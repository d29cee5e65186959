package application_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestDeliveryBackoffSchedule: waits double from the base up to the cap,
// each between half and all of its ceiling; failing at every attempt, a
// delivery is retried until its 72h window ends (its last attempt at the
// window's end, not before), and only then fails.
func TestDeliveryBackoffSchedule(t *testing.T) {
	base, cap := application.DefaultDeliveryBackoffBase, application.DefaultDeliveryBackoffCap
	for attempts, ceiling := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 10: 256 * time.Minute, 11: cap, 100: cap} {
		lo := application.DeliveryBackoff(attempts, base, cap, func() float64 { return 0 })
		hi := application.DeliveryBackoff(attempts, base, cap, func() float64 { return 1 })
		if lo != ceiling/2 || hi != ceiling {
			t.Errorf("attempt %d: waits from %s to %s, want %s to %s", attempts, lo, hi, ceiling/2, ceiling)
		}
	}

	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := memory.NewFixedClock(start)
	h := newDeliveryHarness(t, clock, application.DeliveriesConfig{}, func(application.WebhookMessage) application.SendResult {
		return application.SendResult{StatusCode: 503}
	})
	h.emit(t, "acct", 0)
	var attempts []time.Time
	for range 1000 {
		if _, err := h.deliveries.FanOut(t.Context(), 10); err != nil {
			t.Fatal(err)
		}
		run, err := h.deliveries.DeliverDue(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if run.Claimed == 1 {
			attempts = append(attempts, clock.Now())
		}
		if run.Failed == 1 {
			break
		}
		list := h.list(t, nil)
		clock.Set(list[0].NextAttemptAt)
	}
	window := application.DefaultDeliveryRetryWindow
	last := attempts[len(attempts)-1]
	if got := last.Sub(start); got != window {
		t.Errorf("the last attempt came %s after the first, want exactly the %s window", got, window)
	}
	if len(attempts) < 15 || len(attempts) > 30 {
		t.Errorf("%d attempts in %s", len(attempts), window)
	}
	for i := 1; i < len(attempts)-1; i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap > application.DefaultDeliveryBackoffCap {
			t.Errorf("attempt %d came %s after the one before", i, gap)
		}
	}
	failed := h.list(t, nil)[0]
	if failed.Status != domain.DeliveryFailed || failed.Attempts != len(attempts) || failed.LastStatus != 503 ||
		failed.LastError == "" || failed.FinishedAt == nil {
		t.Errorf("given up: %+v", failed)
	}
}

type deliveryHarness struct {
	store      *memory.Store
	hooks      *memory.Webhooks
	endpoints  *application.WebhookEndpoints
	deliveries *application.Deliveries
	tenant     domain.TenantID
	endpoint   *domain.WebhookEndpoint
	clock      application.Clock
}

type senderFunc func(application.WebhookMessage) application.SendResult

func (f senderFunc) Send(_ context.Context, m application.WebhookMessage) application.SendResult {
	return f(m)
}

func newDeliveryHarness(t *testing.T, clock application.Clock, cfg application.DeliveriesConfig, send senderFunc) *deliveryHarness {
	t.Helper()
	s := memory.NewStore()
	hooks := memory.NewWebhooks(s)
	h := &deliveryHarness{store: s, hooks: hooks, tenant: domain.TenantID{9}, clock: clock,
		endpoints:  application.NewWebhookEndpoints(hooks, hooks, clock, &memory.SequentialIDs{}, application.WebhookEndpointsConfig{}),
		deliveries: application.NewDeliveries(hooks, send, clock, cfg)}
	var err error
	h.endpoint, err = h.endpoints.Create(t.Context(), h.tenant, "https://example.com/hooks", nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var eventIDs sync.Map // a counter per test name

func (h *deliveryHarness) emit(t *testing.T, account string, n int) [16]byte {
	t.Helper()
	acc, _ := domain.ParseAccountID(account)
	v, _ := eventIDs.LoadOrStore(t.Name(), new(int))
	p := v.(*int)
	*p++
	id := [16]byte{0x01, byte(*p >> 8), byte(*p)}
	e := application.Event{ID: id, Type: domain.EventTransactionCreated, Tenant: h.tenant, Account: acc, OccurredAt: h.clock.Now(),
		Data: application.TransactionData{TransactionID: fmt.Sprint(n), AccountID: account}}
	if err := h.store.UnitOfWork().WithinTx(t.Context(), application.WalletScope(h.tenant, acc), func(ctx context.Context, r application.Repos) error {
		return r.Events.Append(ctx, e)
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (h *deliveryHarness) list(t *testing.T, status *domain.DeliveryStatus) []application.Delivery {
	t.Helper()
	out, err := h.endpoints.Deliveries(t.Context(), application.DeliveryFilter{Tenant: h.tenant, Endpoint: h.endpoint.ID(), Status: status}, 100)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeliveriesInOrderPerAccount: of an account's pending deliveries only
// the first is claimed; other accounts' go at once; a failed first holds
// the rest back until it is delivered.
func TestDeliveriesInOrderPerAccount(t *testing.T) {
	clock := memory.NewFixedClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var sent []string
	fail := true
	h := newDeliveryHarness(t, clock, application.DeliveriesConfig{}, func(m application.WebhookMessage) application.SendResult {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, string(m.Body))
		if fail {
			return application.SendResult{Err: errors.New("connection refused")}
		}
		return application.SendResult{StatusCode: 200}
	})
	h.emit(t, "a", 0)
	h.emit(t, "a", 1)
	h.emit(t, "b", 0)
	if run, err := h.deliveries.FanOut(t.Context(), 10); err != nil || run.Events != 3 || run.Deliveries != 3 {
		t.Fatalf("fan-out %+v %v", run, err)
	}
	run, err := h.deliveries.DeliverDue(t.Context(), 10)
	if err != nil || run.Claimed != 2 || run.Retried != 2 {
		t.Fatalf("first pass %+v %v: want a's first and b's", run, err)
	}
	if f := run.Failures[0]; f.Err != "connection refused" || f.RetryAt == nil {
		t.Errorf("failure %+v", f)
	}
	clock.Advance(time.Hour)
	fail = false
	for range 3 {
		if _, err := h.deliveries.DeliverDue(t.Context(), 10); err != nil {
			t.Fatal(err)
		}
	}
	delivered := domain.DeliveryDelivered
	if got := h.list(t, &delivered); len(got) != 3 {
		t.Fatalf("%d delivered", len(got))
	}
	if len(sent) != 5 {
		t.Errorf("%d POSTs, want 2 failed and 3 delivered", len(sent))
	}
	// Bodies are the same bytes on every attempt.
	if sent[0] != sent[2] && sent[0] != sent[3] {
		t.Errorf("a retried body changed: %s vs %s / %s", sent[0], sent[2], sent[3])
	}
}

// TestDeletedEndpointsDeliverNothing: deleting an endpoint cancels its
// pending deliveries, and a worker's late outcome does not revive them.
func TestDeletedEndpointsDeliverNothing(t *testing.T) {
	clock := memory.NewFixedClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	h := newDeliveryHarness(t, clock, application.DeliveriesConfig{}, func(application.WebhookMessage) application.SendResult {
		return application.SendResult{StatusCode: 200}
	})
	h.emit(t, "a", 0)
	if _, err := h.deliveries.FanOut(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	claimed, err := h.hooks.Claim(t.Context(), clock.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim %v %v", claimed, err)
	}
	if err := h.endpoints.Delete(t.Context(), h.tenant, h.endpoint.ID()); err != nil {
		t.Fatal(err)
	}
	ok, err := h.hooks.Record(t.Context(), claimed[0].Delivery, application.DeliveryOutcome{Status: domain.DeliveryDelivered, At: clock.Now(), StatusCode: 200})
	if err != nil || ok {
		t.Errorf("a late outcome was recorded: %v %v", ok, err)
	}
	if _, err := h.endpoints.Deliveries(t.Context(), application.DeliveryFilter{Tenant: h.tenant, Endpoint: h.endpoint.ID()}, 10); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a deleted endpoint's log: %v", err)
	}
	h.emit(t, "a", 1)
	if run, err := h.deliveries.FanOut(t.Context(), 10); err != nil || run.Events != 1 || run.Deliveries != 0 {
		t.Errorf("fan-out without endpoints %+v %v: the event is dropped", run, err)
	}
	clock.Advance(application.DefaultDeliveryRetention + time.Hour)
	if n, err := h.deliveries.ForgetFinished(t.Context()); err != nil || n != 1 {
		t.Errorf("forgot %d, %v", n, err)
	}
}

// TestEndpointLimit: a tenant has at most MaxWebhookEndpoints live endpoints.
func TestEndpointLimit(t *testing.T) {
	clock := memory.NewFixedClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	h := newDeliveryHarness(t, clock, application.DeliveriesConfig{}, nil)
	for range domain.MaxWebhookEndpoints - 1 {
		if _, err := h.endpoints.Create(t.Context(), h.tenant, "https://example.com/h", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.endpoints.Create(t.Context(), h.tenant, "https://example.com/h", nil); !errors.Is(err, domain.ErrWebhookEndpointLimit) {
		t.Fatalf("endpoint 21: %v", err)
	}
	if err := h.endpoints.Delete(t.Context(), h.tenant, h.endpoint.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.endpoints.Create(t.Context(), h.tenant, "https://example.com/h", nil); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if _, err := h.endpoints.Create(t.Context(), domain.TenantID{1}, "https://example.com/h", nil); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
}
