//go:build integration

package contract

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// webhookPorts are the ports of webhook delivery, over one store of events.
type webhookPorts struct {
	uow        application.UnitOfWork
	keys       application.APIKeyStore
	endpoints  application.WebhookEndpointStore
	deliveries application.DeliveryStore
}

var webhookImpls = []struct {
	name string
	new  func(t *testing.T, clock application.Clock) webhookPorts
}{
	{"memory", func(_ *testing.T, _ application.Clock) webhookPorts {
		s := memory.NewStore()
		h := memory.NewWebhooks(s)
		return webhookPorts{uow: s.UnitOfWork(), keys: s.APIKeys(), endpoints: h, deliveries: h}
	}},
	{"postgres", func(t *testing.T, clock application.Clock) webhookPorts {
		db := openDB(t)
		return webhookPorts{uow: postgres.NewUnitOfWork(db, postgres.Config{WriteLanes: 2}, clock), keys: postgres.NewAPIKeyStore(db),
			endpoints: postgres.NewWebhookEndpointStore(db), deliveries: postgres.NewDeliveryStore(db)}
	}},
}

func webhookContract(t *testing.T, test func(t *testing.T, p webhookPorts, tenants [2]domain.TenantID)) {
	for _, impl := range webhookImpls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			p := impl.new(t, memory.NewFixedClock(start))
			var tenants [2]domain.TenantID
			for i, name := range []string{"alpha", "beta"} {
				n, _ := domain.ParseTenantName(name)
				id, err := p.keys.EnsureTenant(t.Context(), n, domain.TenantID(uuid.Must(uuid.NewV7())))
				if err != nil {
					t.Fatal(err)
				}
				tenants[i] = id
			}
			test(t, p, tenants)
		})
	}
}

func newEndpoint(t *testing.T, tenant domain.TenantID, n int, events ...domain.EventType) *domain.WebhookEndpoint {
	t.Helper()
	e, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID(uuid.Must(uuid.NewV7())), tenant, fmt.Sprintf("https://h.example.com/%d", n),
		events, domain.NewWebhookSecret([32]byte{byte(n)}), start.Add(time.Duration(n)*time.Second), domain.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func appendEvent(t *testing.T, p webhookPorts, tenant domain.TenantID, account string, typ domain.EventType, n int) [16]byte {
	t.Helper()
	acc, _ := domain.ParseAccountID(account)
	id := uuid.Must(uuid.NewV7())
	e := application.Event{ID: id, Type: typ, Tenant: tenant, Account: acc, OccurredAt: start.Add(time.Duration(n) * time.Millisecond),
		Data: application.HoldData{HoldID: fmt.Sprint(n), AccountID: account, Status: "EXPIRED", Amount: "1", Captured: "0", Released: "1",
			ExpiresAt: start}}
	if err := p.uow.WithinTx(t.Context(), application.WalletScope(tenant, acc), func(ctx context.Context, r application.Repos) error {
		return r.Events.Append(ctx, e)
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestWebhookEndpointStoreContract: create within the limit, read back
// what was stored, list oldest first, delete once, tenants apart.
func TestWebhookEndpointStoreContract(t *testing.T) {
	webhookContract(t, func(t *testing.T, p webhookPorts, tenants [2]domain.TenantID) {
		ctx := t.Context()
		a := newEndpoint(t, tenants[0], 2, domain.EventOrderPaid, domain.EventHoldExpired)
		b := newEndpoint(t, tenants[0], 1)
		subscribed := func(tenant domain.TenantID) string {
			all, types, err := p.endpoints.(application.Subscriptions).Subscribed(ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(all, types)
		}
		if got := subscribed(tenants[0]); got != "false []" {
			t.Errorf("subscribed without endpoints: %s", got)
		}
		for i, e := range []*domain.WebhookEndpoint{a, b} {
			if err := p.endpoints.Create(ctx, e, 2); err != nil {
				t.Fatal(err)
			}
			if got, want := subscribed(tenants[0]), []string{"false [order.paid hold.expired]", "true []"}[i]; got != want {
				t.Errorf("subscribed after %d endpoints: %s, want %s", i+1, got, want)
			}
		}
		if err := p.endpoints.Create(ctx, newEndpoint(t, tenants[0], 3), 2); !errors.Is(err, domain.ErrWebhookEndpointLimit) {
			t.Fatalf("third of 2: %v", err)
		}
		if err := p.endpoints.Create(ctx, newEndpoint(t, tenants[1], 3), 2); err != nil {
			t.Fatalf("another tenant's: %v", err)
		}
		got, err := p.endpoints.Get(ctx, tenants[0], a.ID())
		if err != nil || got.URL() != a.URL() || got.Secret() != a.Secret() || !got.CreatedAt().Equal(a.CreatedAt()) ||
			fmt.Sprint(got.Events()) != fmt.Sprint(a.Events()) {
			t.Fatalf("got %+v, %v; stored %+v", got, err, a)
		}
		if _, err := p.endpoints.Get(ctx, tenants[1], a.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("another tenant's get: %v", err)
		}
		list, err := p.endpoints.List(ctx, tenants[0])
		if err != nil || len(list) != 2 || list[0].ID() != b.ID() || list[1].ID() != a.ID() {
			t.Fatalf("list %v %v: want oldest first", list, err)
		}
		if err := p.endpoints.Delete(ctx, tenants[1], a.ID(), start); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("another tenant's delete: %v", err)
		}
		if err := p.endpoints.Delete(ctx, tenants[0], a.ID(), start); err != nil {
			t.Fatal(err)
		}
		if err := p.endpoints.Delete(ctx, tenants[0], a.ID(), start); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if _, err := p.endpoints.Get(ctx, tenants[0], a.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("get of a deleted endpoint: %v", err)
		}
		if err := p.endpoints.Create(ctx, newEndpoint(t, tenants[0], 4), 2); err != nil {
			t.Errorf("a deleted endpoint still counts: %v", err)
		}
	})
}

// TestDeliveryStoreContract: fan-out by subscription, claims in seq order
// per (endpoint, account) with leases, outcomes only for the current claim,
// redeliver, the log's order, filters and pages, stats, and the janitor.
func TestDeliveryStoreContract(t *testing.T) {
	webhookContract(t, func(t *testing.T, p webhookPorts, tenants [2]domain.TenantID) {
		ctx := t.Context()
		paid := newEndpoint(t, tenants[0], 1, domain.EventOrderPaid)
		all := newEndpoint(t, tenants[0], 2)
		for _, e := range []*domain.WebhookEndpoint{paid, all} {
			if err := p.endpoints.Create(ctx, e, 20); err != nil {
				t.Fatal(err)
			}
		}
		x1 := appendEvent(t, p, tenants[0], "x", domain.EventHoldExpired, 1)
		x2 := appendEvent(t, p, tenants[0], "x", domain.EventOrderPaid, 2)
		y1 := appendEvent(t, p, tenants[0], "y", domain.EventHoldExpired, 3)
		appendEvent(t, p, tenants[1], "x", domain.EventOrderPaid, 4) // no endpoint: dropped

		run, err := p.deliveries.FanOut(ctx, start, 2)
		if err != nil || run.Events != 2 || run.Deliveries != 3 || run.Skipped {
			t.Fatalf("first fan-out %+v %v: x1 to all, x2 to both", run, err)
		}
		run, err = p.deliveries.FanOut(ctx, start, 10)
		if err != nil || run.Events != 2 || run.Deliveries != 1 {
			t.Fatalf("second fan-out %+v %v: y1 to all, beta's dropped", run, err)
		}
		if run, err := p.deliveries.FanOut(ctx, start, 10); err != nil || run.Events != 0 {
			t.Fatalf("third fan-out %+v %v: the outbox is empty", run, err)
		}

		claimed, err := p.deliveries.Claim(ctx, start, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]application.ClaimedDelivery{}
		for _, c := range claimed {
			got[fmt.Sprintf("%s/%s", c.URL, domain.EventID(c.EventID).String())] = c
		}
		want := []string{all.URL() + "/" + domain.EventID(x1).String(), all.URL() + "/" + domain.EventID(y1).String(),
			paid.URL() + "/" + domain.EventID(x2).String()}
		if len(got) != 3 {
			t.Fatalf("claimed %v, want %v (not all's x2: x1 is before it)", got, want)
		}
		for _, k := range want {
			c, ok := got[k]
			if !ok {
				t.Fatalf("claimed %v, want %v", got, want)
			}
			if c.Attempts != 1 || c.Status != domain.DeliveryPending || !c.RetryFrom.Equal(start) || c.Secret == "" || len(c.Data) == 0 {
				t.Errorf("claimed %+v", c)
			}
		}
		if again, err := p.deliveries.Claim(ctx, start.Add(30*time.Second), time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed again within the lease: %v %v", again, err)
		}
		x1c := got[all.URL()+"/"+domain.EventID(x1).String()]
		// The lease ends; a second claim takes x1 over, and the first's outcome is ignored.
		over, err := p.deliveries.Claim(ctx, start.Add(2*time.Minute), time.Minute, 10)
		if err != nil || len(over) != 3 {
			t.Fatalf("after the leases: %v %v", over, err)
		}
		if ok, err := p.deliveries.Record(ctx, x1c.Delivery, application.DeliveryOutcome{Status: domain.DeliveryDelivered, At: start.Add(2 * time.Minute)}); err != nil || ok {
			t.Fatalf("a stale claim's outcome: %v %v", ok, err)
		}
		var x1now application.ClaimedDelivery
		for _, c := range over {
			if c.EventID == x1 && c.Endpoint == all.ID() {
				x1now = c
			}
		}
		at := start.Add(3 * time.Minute)
		if ok, err := p.deliveries.Record(ctx, x1now.Delivery, application.DeliveryOutcome{Status: domain.DeliveryPending, At: at, StatusCode: 503,
			Error: "the endpoint answered 503", Next: at.Add(time.Hour)}); err != nil || !ok {
			t.Fatalf("retry: %v %v", ok, err)
		}
		// x2, behind x1 for the endpoint all, is not due before x1's retry;
		// nor is an event fanned out behind it meanwhile.
		x3 := appendEvent(t, p, tenants[0], "x", domain.EventHoldExpired, 5)
		if run, err := p.deliveries.FanOut(ctx, at, 10); err != nil || run.Deliveries != 1 {
			t.Fatalf("fan-out of x3: %+v %v", run, err)
		}
		behind, err := p.deliveries.ListDeliveries(ctx, application.DeliveryFilter{Tenant: tenants[0], Endpoint: all.ID()}, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range behind {
			if (d.EventID == x2 || d.EventID == x3) && !d.NextAttemptAt.Equal(at.Add(time.Hour)) {
				t.Errorf("%s behind x1 is due at %s, want x1's retry at %s", d.Type, d.NextAttemptAt, at.Add(time.Hour))
			}
			if d.EventID == y1 && !d.NextAttemptAt.Equal(start) {
				t.Errorf("y1, of another account, moved to %s", d.NextAttemptAt)
			}
		}
		if ok, err := p.deliveries.Record(ctx, x1now.Delivery, application.DeliveryOutcome{Status: domain.DeliveryDelivered, At: at}); err != nil || !ok {
			t.Fatalf("the same claim's second outcome is recorded too (attempts unchanged): %v %v", ok, err)
		}
		// x1 delivered: all's x2 is due now.
		next, err := p.deliveries.Claim(ctx, at.Add(time.Hour), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var sawX2 bool
		for _, c := range next {
			if c.EventID == x2 && c.Endpoint == all.ID() {
				sawX2 = true
				if ok, err := p.deliveries.Record(ctx, c.Delivery, application.DeliveryOutcome{Status: domain.DeliveryFailed, At: at, StatusCode: 400,
					Error: "no"}); err != nil || !ok {
					t.Fatal(ok, err)
				}
			}
		}
		if !sawX2 {
			t.Fatalf("x2 not claimed after x1 was delivered: %v", next)
		}

		log, err := p.deliveries.ListDeliveries(ctx, application.DeliveryFilter{Tenant: tenants[0], Endpoint: all.ID()}, 10)
		if len(log) == 4 && log[0].EventID == x3 {
			log = log[1:] // x3, fanned out last, is newest
		}
		if err != nil || len(log) != 3 || log[0].EventID != y1 || log[1].EventID != x2 || log[2].EventID != x1 {
			t.Fatalf("log %v %v: want newest first", log, err)
		}
		if d := log[2]; d.Status != domain.DeliveryDelivered || d.DeliveredAt == nil || !d.DeliveredAt.Equal(at) || d.Attempts != 2 ||
			d.LastStatus != 0 || d.LastError != "" || d.FinishedAt == nil {
			t.Errorf("delivered x1: %+v", d)
		}
		if d := log[1]; d.Status != domain.DeliveryFailed || d.LastStatus != 400 || d.LastError != "no" || d.DeliveredAt != nil {
			t.Errorf("failed x2: %+v", d)
		}
		page, err := p.deliveries.ListDeliveries(ctx, application.DeliveryFilter{Tenant: tenants[0], Endpoint: all.ID(), BeforeSeq: &log[1].Seq}, 10)
		if err != nil || len(page) != 1 || page[0].EventID != x1 {
			t.Errorf("page after x2: %v %v", page, err)
		}
		failed := domain.DeliveryFailed
		if only, err := p.deliveries.ListDeliveries(ctx, application.DeliveryFilter{Tenant: tenants[0], Endpoint: all.ID(), Status: &failed}, 10); err != nil ||
			len(only) != 1 || only[0].EventID != x2 {
			t.Errorf("failed only: %v %v", only, err)
		}
		if other, err := p.deliveries.ListDeliveries(ctx, application.DeliveryFilter{Tenant: tenants[1], Endpoint: all.ID()}, 10); err != nil || len(other) != 0 {
			t.Errorf("another tenant's view: %v %v", other, err)
		}

		re, err := p.deliveries.Redeliver(ctx, tenants[0], all.ID(), x2, start.Add(time.Hour))
		if err != nil || re.Status != domain.DeliveryPending || !re.RetryFrom.Equal(start.Add(time.Hour)) || re.FinishedAt != nil {
			t.Fatalf("redeliver %+v %v", re, err)
		}
		if _, err := p.deliveries.Redeliver(ctx, tenants[0], all.ID(), [16]byte{1}, start); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("redeliver of nothing: %v", err)
		}
		stats, err := p.deliveries.Stats(ctx)
		if err != nil || stats.Pending != 4 || stats.OldestAt == nil || !stats.OldestAt.Equal(start) {
			t.Errorf("stats %+v %v: y1, x3, paid's x2 and the redelivered x2", stats, err)
		}

		// Deleting cancels the pending; the janitor forgets finished ones, then the endpoint.
		if err := p.endpoints.Delete(ctx, tenants[0], all.ID(), start.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.deliveries.Redeliver(ctx, tenants[0], all.ID(), y1, start.Add(2*time.Hour)); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("redeliver of a cancelled delivery: %v", err)
		}
		if c, err := p.deliveries.Claim(ctx, start.Add(3*time.Hour), time.Minute, 10); err != nil || len(c) != 1 || c[0].Endpoint != paid.ID() {
			t.Errorf("claims after the delete: %v %v", c, err)
		}
		if n, err := p.deliveries.DeleteFinishedBefore(ctx, start.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("forgot %d, %v: x1, delivered before the cutoff", n, err)
		}
		if n, err := p.deliveries.DeleteFinishedBefore(ctx, start.Add(3*time.Hour)); err != nil || n != 3 {
			t.Errorf("forgot %d, %v: all's three cancelled by the delete", n, err)
		}
		if c, err := p.deliveries.Claim(ctx, start.Add(4*time.Hour), time.Minute, 10); err != nil || len(c) != 1 {
			t.Errorf("paid's pending delivery outlives the janitor: %v %v", c, err)
		}
	})
}
