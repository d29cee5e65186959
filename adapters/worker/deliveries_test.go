package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type sendFunc func(application.WebhookMessage) application.SendResult

func (f sendFunc) Send(_ context.Context, m application.WebhookMessage) application.SendResult {
	return f(m)
}

// TestDeliveriesPollFansOutDeliversAndMeasures: one poll moves the outbox,
// delivers what is due batch after batch, counts attempts by outcome,
// measures what is pending and logs failures without the secret.
func TestDeliveriesPollFansOutDeliversAndMeasures(t *testing.T) {
	clock := memory.NewFixedClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	store := memory.NewStore()
	hooks := memory.NewWebhooks(store)
	endpoints := application.NewWebhookEndpoints(hooks, hooks, clock, &memory.SequentialIDs{}, application.WebhookEndpointsConfig{})
	tenant := domain.TenantID{1}
	e, err := endpoints.Create(t.Context(), tenant, "https://example.com/h", nil)
	if err != nil {
		t.Fatal(err)
	}
	deliveries := application.NewDeliveries(hooks, sendFunc(func(m application.WebhookMessage) application.SendResult {
		if strings.Contains(string(m.Body), `"down"`) {
			return application.SendResult{StatusCode: 502}
		}
		return application.SendResult{StatusCode: 200}
	}), clock, application.DeliveriesConfig{})
	for i, account := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "down"} {
		acc, _ := domain.ParseAccountID(account)
		ev := application.Event{ID: [16]byte{2, byte(i)}, Type: domain.EventHoldExpired, Tenant: tenant, Account: acc, OccurredAt: clock.Now(),
			Data: application.HoldData{HoldID: "h", AccountID: account}}
		if err := store.UnitOfWork().WithinTx(t.Context(), application.WalletScope(tenant, acc), func(ctx context.Context, r application.Repos) error {
			return r.Events.Append(ctx, ev)
		}); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	w := worker.NewDeliveries(worker.DeliveriesConfig{PollInterval: time.Millisecond, Senders: 4, FanOutBatch: 3}, deliveries, clock,
		slog.New(slog.NewJSONHandler(&logs, nil)))
	clock.Advance(time.Minute)
	w.PollOnce(t.Context())

	reg := prometheus.NewRegistry()
	reg.MustRegister(w.Collectors()...)
	want := `
# HELP creditd_webhook_delivery_attempts_total Delivery attempts by outcome: delivered (2xx), retried (failed, to be tried again), failed (failed past the retry window), error (the outcome could not be stored).
# TYPE creditd_webhook_delivery_attempts_total counter
creditd_webhook_delivery_attempts_total{outcome="delivered"} 10
creditd_webhook_delivery_attempts_total{outcome="error"} 0
creditd_webhook_delivery_attempts_total{outcome="failed"} 0
creditd_webhook_delivery_attempts_total{outcome="retried"} 1
# HELP creditd_webhook_delivery_events_total Outbox events fanned out by this replica (to some endpoints, or dropped when none receives them).
# TYPE creditd_webhook_delivery_events_total counter
creditd_webhook_delivery_events_total 11
# HELP creditd_webhook_delivery_pending Deliveries pending, across replicas, when last measured.
# TYPE creditd_webhook_delivery_pending gauge
creditd_webhook_delivery_pending 1
# HELP creditd_webhook_delivery_oldest_pending_age_seconds How long the oldest pending delivery has been retried (0: none), when last measured.
# TYPE creditd_webhook_delivery_oldest_pending_age_seconds gauge
creditd_webhook_delivery_oldest_pending_age_seconds 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "creditd_webhook_delivery_attempts_total",
		"creditd_webhook_delivery_events_total", "creditd_webhook_delivery_pending", "creditd_webhook_delivery_oldest_pending_age_seconds"); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), `"status":502`) || !strings.Contains(logs.String(), "will retry") {
		t.Errorf("the failed attempt is not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), e.Secret()) || strings.Contains(logs.String(), "whsec_") {
		t.Error("a secret was logged")
	}
}
