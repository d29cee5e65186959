//go:build integration

package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type oneProduct struct{ *domain.Product }

func (s oneProduct) Create(context.Context, *domain.Product) error { return errors.New("not used") }
func (s oneProduct) Change(context.Context, domain.TenantID, domain.ProductID, func(*domain.Product) error) (*domain.Product, error) {
	return nil, errors.New("not used")
}
func (s oneProduct) List(context.Context, domain.TenantID, bool) ([]*domain.Product, error) {
	return nil, errors.New("not used")
}
func (s oneProduct) Get(_ context.Context, tenant domain.TenantID, _ domain.ProductID) (*domain.Product, error) {
	p, err := domain.NewProduct(tenant, s.ID(), s.Spec(), s.CreatedAt())
	return p, err
}

// TestReconciliationOnPostgres: payments whose webhooks and complete calls
// were all lost are granted by a run, whose report each tenant reads with
// only its own findings.
func TestReconciliationOnPostgres(t *testing.T) {
	t.Parallel()
	ctx, clock, ids := context.Background(), system.Clock{}, system.UUIDv7{}
	l := newLedger(t, clock)
	cfg := postgres.Config{WriteLanes: 2}
	uow, queries := postgres.NewUnitOfWork(l.db, cfg, clock), postgres.NewQueries(l.db, cfg)
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	pack, err := domain.NewProduct(domain.TenantID{}, pid, domain.ProductSpec{Name: "100 credits", Price: price, Credits: domain.MustCredits("100")}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	gw := memory.NewGateway()
	gw.SetPageSize(1) // every run pages
	orders := application.NewOrders(uow, queries, oneProduct{pack}, application.PaymentGateways{domain.GatewayPortOneV2: gw}, clock, ids, application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: "store-1"}}})
	reports := postgres.NewReconciliationStore(l.db)
	reconciler := application.NewReconciler(application.PaymentGateways{domain.GatewayPortOneV2: gw}, queries, orders, reports, clock, ids)
	log := application.NewReconciliationLog(reports)

	buyer, _ := domain.ParseAccountID("buyer")
	tenants := map[string]domain.TenantID{}
	payments := map[string]domain.PaymentID{}
	for _, name := range []string{"acme", "globex"} {
		key, err := l.keys.Create(ctx, mustTenant(t, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		tenants[name] = key.Tenant
		o, _, err := orders.Create(ctx, application.CreateOrderCommand{Tenant: key.Tenant, Account: buyer, Product: pid}, nil)
		if err != nil {
			t.Fatal(err)
		}
		payments[name] = o.PaymentID()
		gw.Set(domain.Payment{ID: o.PaymentID(), Status: domain.PaymentPaid, StoreID: "store-1",
			OrderName: o.OrderName(), Currency: "KRW", Total: 10000, Paid: 10000, CustomData: o.CustomData()})
	}
	stranger, _ := domain.ParsePaymentID("not-ours-1")
	gw.Set(domain.Payment{ID: stranger, Status: domain.PaymentPaid, StoreID: "store-1", Currency: "KRW", Total: 1, Paid: 1})

	rep, err := reconciler.Run(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PaymentsSeen != 3 || rep.UnknownPayments != 1 || len(rep.Findings) != 2 {
		t.Fatalf("report %+v, want 3 payments seen, 1 unknown, 2 findings", rep)
	}
	for name, tenant := range tenants {
		v, err := l.accounts.GetAccount(ctx, tenant, buyer)
		if err != nil || v.Balance.String() != "100" {
			t.Fatalf("%s's buyer: %v (%v), want 100 credits", name, v.Balance, err)
		}
	}
	if again, err := reconciler.Run(ctx, time.Hour); err != nil || len(again.Findings) != 0 {
		t.Fatalf("second run %+v (%v), want nothing left to do", again, err)
	}
	l.requireSound(t)

	for name, tenant := range tenants {
		page, err := log.List(ctx, tenant, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || len(page.Items[0].Findings) != 0 || page.Next == nil {
			t.Fatalf("%s's newest run %+v, want the second, with nothing found", name, page)
		}
		page, err = log.List(ctx, tenant, 1, page.Next)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].ID != rep.ID || page.Next != nil {
			t.Fatalf("%s's second page %+v, want the first run alone", name, page)
		}
		got := page.Items[0]
		if len(got.Findings) != 1 || got.Findings[0].Payment != payments[name] || got.Findings[0].Tenant != tenant ||
			got.Findings[0].StatusBefore != domain.OrderPending || got.Findings[0].StatusAfter != domain.OrderPaid ||
			got.PaymentsSeen != 3 || got.UnknownPayments != 1 {
			t.Fatalf("%s sees %+v, want only its own finding", name, got)
		}
	}
}

// TestReconcileLockIsHeldByOneSessionAtATime: a second replica's try fails
// while the first holds the lock, and succeeds once it is released.
func TestReconcileLockIsHeldByOneSessionAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLedger(t, system.Clock{})
	release, ok, err := postgres.TryAdvisoryLock(ctx, l.db, postgres.ReconcileLockKey)
	if err != nil || !ok {
		t.Fatalf("first try: %v %v", ok, err)
	}
	if _, ok, err := postgres.TryAdvisoryLock(ctx, l.db, postgres.ReconcileLockKey); err != nil || ok {
		t.Fatalf("second try while held: %v %v, want not acquired", ok, err)
	}
	release()
	release2, ok, err := postgres.TryAdvisoryLock(ctx, l.db, postgres.ReconcileLockKey)
	if err != nil || !ok {
		t.Fatalf("try after release: %v %v", ok, err)
	}
	release2()
}
