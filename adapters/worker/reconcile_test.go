package worker_test

import (
	"context"
	"errors"
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

// listingGateway lists its payments on one page and reads them back.
type listingGateway struct{ payments []domain.Payment }

func (g listingGateway) GetPayment(_ context.Context, id domain.PaymentID) (domain.Payment, error) {
	for _, p := range g.payments {
		if p.ID == id {
			return p, nil
		}
	}
	return domain.Payment{}, application.ErrPaymentNotFound
}
func (listingGateway) PreRegister(context.Context, domain.PaymentID, domain.Money) error {
	return errors.New("not used")
}
func (listingGateway) Cancel(context.Context, application.CancelRequest) (domain.PaymentCancellation, error) {
	return domain.PaymentCancellation{}, errors.New("not used")
}
func (g listingGateway) ListPayments(context.Context, application.PaymentListQuery) (application.PaymentPage, error) {
	return application.PaymentPage{Items: g.payments}, nil
}

// TestReconcileMetrics: a run counts what it saw and found; a run within
// the interval of the last, or without the lock, is skipped.
func TestReconcileMetrics(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	ctx, tenant := context.Background(), domain.TenantID(ids.NewID())
	price, _ := domain.NewMoney(1000, domain.KRW)
	pid, _ := domain.ParseProductID("pack")
	pack, _ := domain.NewProduct(tenant, pid, domain.ProductSpec{Name: "10 credits", Price: price, Credits: domain.MustCredits("10")}, start)
	payment, _ := domain.ParsePaymentID("ord-1")
	buyer, _ := domain.ParseAccountID("buyer")
	order, err := domain.NewOrder(tenant, payment, buyer, pack, domain.GatewayPortOneV2, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UnitOfWork().WithinTx(ctx, application.Scope{Orders: []domain.PaymentID{payment}},
		func(ctx context.Context, r application.Repos) error { return r.Orders.Save(ctx, order) }); err != nil {
		t.Fatal(err)
	}
	stranger, _ := domain.ParsePaymentID("not-ours")
	gw := listingGateway{payments: []domain.Payment{
		{ID: payment, Status: domain.PaymentPaid, StoreID: "store", OrderName: "10 credits", Currency: "KRW", Total: 1000, Paid: 1000,
			CustomData: order.CustomData()},
		{ID: stranger, Status: domain.PaymentPaid, StoreID: "store", Currency: "KRW", Total: 5, Paid: 5},
	}}
	orders := application.NewOrders(store.UnitOfWork(), store.Queries(), nil, application.PaymentGateways{domain.GatewayPortOneV2: gw}, clock, ids,
		application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: "store"}}})
	reconciler := application.NewReconciler(application.PaymentGateways{domain.GatewayPortOneV2: gw}, store.Queries(), orders, memory.NewReconciliationReports(), clock, ids)
	locked := false
	w := worker.NewReconciliation(worker.ReconcileConfig{Interval: 10 * time.Minute, Window: time.Hour,
		Lock: func(context.Context) (func(), bool, error) { return func() {}, !locked, nil }}, reconciler, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	for _, c := range w.Collectors() {
		reg.MustRegister(c)
	}

	if !w.RunOnce(ctx) {
		t.Fatal("the first run did not run")
	}
	clock.Advance(5 * time.Minute)
	if w.RunOnce(ctx) {
		t.Fatal("a run within the interval of the last ran")
	}
	clock.Advance(5 * time.Minute)
	locked = true // another replica holds the lock
	if w.RunOnce(ctx) {
		t.Fatal("a run without the lock ran")
	}
	// The last success is start: 2026-11-30T12:00:00Z, 1796040000.
	const want = `
# HELP creditd_reconcile_findings_total Orders reconciliation found disagreeing with their payments, by the result of syncing them (synced, unavailable, gateway_refused, cancel_failed, internal).
# TYPE creditd_reconcile_findings_total counter
creditd_reconcile_findings_total{result="cancel_failed"} 0
creditd_reconcile_findings_total{result="gateway_refused"} 0
creditd_reconcile_findings_total{result="internal"} 0
creditd_reconcile_findings_total{result="synced"} 1
creditd_reconcile_findings_total{result="unavailable"} 0
# HELP creditd_reconcile_last_success_timestamp_seconds When the last reconciliation run that went through its whole window finished (Unix seconds; 0: none yet in this process).
# TYPE creditd_reconcile_last_success_timestamp_seconds gauge
creditd_reconcile_last_success_timestamp_seconds 1.79604e+09
# HELP creditd_reconcile_payments_seen_total Payments the gateway listed to reconciliation runs.
# TYPE creditd_reconcile_payments_seen_total counter
creditd_reconcile_payments_seen_total 2
# HELP creditd_reconcile_runs_total Scheduled reconciliation runs, by outcome (ok, error, skipped: another replica ran one within the interval).
# TYPE creditd_reconcile_runs_total counter
creditd_reconcile_runs_total{outcome="error"} 0
creditd_reconcile_runs_total{outcome="ok"} 1
creditd_reconcile_runs_total{outcome="skipped"} 2
# HELP creditd_reconcile_unknown_payments_total Listed payments creditd has no order for (another system's, on the same store).
# TYPE creditd_reconcile_unknown_payments_total counter
creditd_reconcile_unknown_payments_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if v, err := application.NewAccounts(store.UnitOfWork(), store.Queries(), clock, ids).GetAccount(ctx, tenant, buyer); err != nil ||
		v.Balance.String() != "10" {
		t.Fatalf("buyer's balance %v (%v), want 10", v.Balance, err)
	}
}
