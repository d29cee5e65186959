package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// bodyVerifier accepts every delivery and reads its body as a payment id.
type bodyVerifier struct{}

func (bodyVerifier) Verify(d application.WebhookDelivery, _ time.Time) (application.WebhookEvent, error) {
	p, err := domain.ParsePaymentID(string(d.Body))
	if err != nil {
		return application.WebhookEvent{}, &application.InvalidWebhookError{Reason: application.WebhookMalformedBody}
	}
	return application.WebhookEvent{ID: d.ID, Type: "Transaction.Paid", Payment: p}, nil
}

// syncerFunc adapts a function to application.PaymentSyncer.
type syncerFunc func(ctx context.Context, p domain.PaymentID) error

func (f syncerFunc) Sync(ctx context.Context, p domain.PaymentID) error { return f(ctx, p) }

func newInboxWorker(t *testing.T, sync syncerFunc, logs *bytes.Buffer) (*worker.Inbox, *application.Webhooks, *memory.FixedClock) {
	t.Helper()
	clock := memory.NewFixedClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	webhooks := application.NewWebhooks(bodyVerifier{}, memory.NewWebhookInbox(), sync, clock, application.WebhookConfig{})
	w := worker.NewInbox(worker.InboxConfig{PollInterval: time.Millisecond, Batch: 4}, webhooks, clock,
		slog.New(slog.NewJSONHandler(logs, nil)))
	return w, webhooks, clock
}

func receive(t *testing.T, webhooks *application.Webhooks, id, payment string) {
	t.Helper()
	if _, err := webhooks.Receive(t.Context(), application.WebhookDelivery{ID: id, Body: []byte(payment)}); err != nil {
		t.Fatal(err)
	}
}

// TestInboxPollDrainsAndMeasures: one poll processes batch after batch
// until one comes back short, and measures what is left.
func TestInboxPollDrainsAndMeasures(t *testing.T) {
	var logs bytes.Buffer
	w, webhooks, clock := newInboxWorker(t, func(_ context.Context, p domain.PaymentID) error {
		switch p.String() {
		case "down":
			return errors.New("gateway unavailable")
		case "unknown":
			return fmt.Errorf("order: %w", domain.ErrNotFound)
		}
		return nil
	}, &logs)
	for i := range 10 {
		receive(t, webhooks, fmt.Sprintf("w%d", i), fmt.Sprintf("pay-%d", i))
	}
	receive(t, webhooks, "w-unknown", "unknown")
	clock.Advance(time.Minute)
	receive(t, webhooks, "w-down", "down")
	clock.Advance(90 * time.Second)
	w.PollOnce(t.Context())

	reg := prometheus.NewRegistry()
	reg.MustRegister(w.Collectors()...)
	want := `
# HELP creditd_webhook_inbox_depth Webhook events stored and not processed yet, across replicas, when last measured.
# TYPE creditd_webhook_inbox_depth gauge
creditd_webhook_inbox_depth 1
# HELP creditd_webhook_inbox_events_total Webhook events handled, by outcome: processed (payment synced), ignored (no order for the payment), retried (sync failed).
# TYPE creditd_webhook_inbox_events_total counter
creditd_webhook_inbox_events_total{outcome="ignored"} 1
creditd_webhook_inbox_events_total{outcome="processed"} 10
creditd_webhook_inbox_events_total{outcome="retried"} 1
# HELP creditd_webhook_inbox_oldest_age_seconds How long the oldest unprocessed webhook event has waited since it was received (0: none), when last measured.
# TYPE creditd_webhook_inbox_oldest_age_seconds gauge
creditd_webhook_inbox_oldest_age_seconds 90
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "creditd_webhook_inbox_depth",
		"creditd_webhook_inbox_events_total", "creditd_webhook_inbox_oldest_age_seconds"); err != nil {
		t.Error(err)
	}
	if n := testutil.ToFloat64(mustRuns(t, w)); n != 4 { // 4 + 4 + 4 claimed, then 0
		t.Errorf("%v passes, want 4 (three full batches, one empty)", n)
	}
	if !strings.Contains(logs.String(), `"payment_id":"down"`) || !strings.Contains(logs.String(), "gateway unavailable") {
		t.Errorf("the failed sync is not logged with its reason:\n%s", logs.String())
	}
}

func mustRuns(t *testing.T, w *worker.Inbox) prometheus.Collector {
	t.Helper()
	return w.Collectors()[0].(*prometheus.CounterVec).WithLabelValues("ok")
}

// TestInboxStopCancelsASyncInFlight: shutdown does not wait for a slow
// gateway; the event is left to its lease.
func TestInboxStopCancelsASyncInFlight(t *testing.T) {
	var started atomic.Bool
	w, webhooks, _ := newInboxWorker(t, func(ctx context.Context, _ domain.PaymentID) error {
		started.Store(true)
		<-ctx.Done()
		return ctx.Err()
	}, &bytes.Buffer{})
	receive(t, webhooks, "w1", "pay-1")
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !started.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the sync never started")
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { _ = w.Stop(context.Background()); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop waited for the sync")
	}
	s, err := webhooks.Stats(context.Background())
	if err != nil || s.Depth != 1 {
		t.Fatalf("stats %+v, %v: the event must stay pending", s, err)
	}
}
