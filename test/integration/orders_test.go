//go:build integration

package integration

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

const storeID = "store-test"

// shop sells a pack of 100 credits and 10 bonus credits for 10,000 KRW on the ledger's database.
type shop struct {
	*ledger
	tenant  domain.TenantID
	gateway *memory.Gateway
	orders  *application.Orders
}

func newShop(t *testing.T) *shop {
	t.Helper()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	name, _ := domain.ParseTenantName("acme")
	key, err := l.keys.Create(ctx, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	products := postgres.NewProductStore(l.db)
	id, _ := domain.ParseProductID("pack-100")
	price, _ := domain.ParseMoney("10000", domain.KRW)
	if _, err := application.NewCatalog(products, system.Clock{}).Create(ctx, key.Tenant, id, domain.ProductSpec{Name: "100 credits",
		Price: price, Credits: domain.MustCredits("100"), BonusCredits: domain.MustCredits("10")}); err != nil {
		t.Fatal(err)
	}
	cfg := postgres.Config{MaxConns: 32}
	g := memory.NewGateway()
	orders := application.NewOrders(postgres.NewUnitOfWork(l.db, cfg, system.Clock{}), postgres.NewQueries(l.db, cfg), products, application.PaymentGateways{domain.GatewayPortOneV2: g},
		system.Clock{}, system.UUIDv7{}, application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: storeID, ChannelKey: "channel"}},
			CancelRejected: true, Shortfall: domain.ShortfallDebt})
	return &shop{ledger: l, tenant: key.Tenant, gateway: g, orders: orders}
}

func (s *shop) order(t *testing.T, account string) *domain.Order {
	t.Helper()
	acct, _ := domain.ParseAccountID(account)
	pid, _ := domain.ParseProductID("pack-100")
	o, _, err := s.orders.Create(context.Background(), application.CreateOrderCommand{Tenant: s.tenant, Account: acct, Product: pid}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// pay is the buyer paying o in full, and cancelled of it cancelled since; then the order is synced.
func (s *shop) pay(t *testing.T, o *domain.Order, cancelled int64) *domain.Order {
	t.Helper()
	p := domain.Payment{ID: o.PaymentID(), Status: domain.PaymentPaid, StoreID: storeID, OrderName: o.OrderName(),
		Currency: o.Price().Currency().String(), Total: o.Price().Amount(), Paid: o.Price().Amount(), CustomData: o.CustomData()}
	if cancelled > 0 {
		p.Status, p.Cancelled = domain.PaymentPartialCancelled, cancelled
	}
	s.gateway.Set(p)
	synced, err := s.orders.SyncOrder(context.Background(), o.PaymentID())
	if err != nil {
		t.Fatal(err)
	}
	return synced
}

// TestVerifyReportsOrderDrift: after purchases (one paid, one partly
// cancelled, one unpaid) verify is clean; each tampering with what an order
// granted or took back is then reported, in the words given.
func TestVerifyReportsOrderDrift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper string // $1 the paid order, $2 the partly refunded one, $3 the pending one
		want   []string
	}{
		{"paid lot of the wrong amount", `UPDATE lots SET amount = amount + 1 WHERE funding_ref = $1 AND source = 'paid'`,
			[]string{"order $1 (PAID): lots funded by it: paid 101 + bonus 10; want paid 100 + bonus 10"}},
		{"bonus lot moved to an unpaid order", `UPDATE lots SET funding_ref = $3 WHERE funding_ref = $1 AND source = 'bonus'`,
			[]string{"order $1 (PAID): lots funded by it: paid 100; want paid 100 + bonus 10",
				"order $3 (PENDING): lots funded by it: bonus 10; want none"}},
		{"paid lot funded by nothing", `UPDATE lots SET funding_kind = NULL, funding_ref = NULL WHERE funding_ref = $1 AND source = 'paid'`,
			[]string{"order $1 (PAID): lots funded by it: bonus 10; want paid 100 + bonus 10"}},
		{"cancellation without its clawback", `UPDATE orders SET cancelled_amount = 5000, status = 'PARTIALLY_REFUNDED' WHERE payment_id = $1`,
			[]string{"order $1 (PARTIALLY_REFUNDED): clawbacks take back 0, but 5000 of 10000 cancelled takes back 55"}},
		{"more cancelled than clawed back", `UPDATE orders SET cancelled_amount = cancelled_amount + 1 WHERE payment_id = $2`,
			[]string{"order $2 (PARTIALLY_REFUNDED): clawbacks take back 36.663, but 3334 of 10000 cancelled takes back 36.674"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newShop(t)
			paid := s.pay(t, s.order(t, "buyer-1"), 0)
			refunded := s.pay(t, s.order(t, "buyer-2"), 3333)
			pending := s.order(t, "buyer-3")
			if paid.Status() != domain.OrderPaid || refunded.Status() != domain.OrderPartiallyRefunded {
				t.Fatalf("orders %s and %s", paid.Status(), refunded.Status())
			}
			s.requireSound(t)
			ids := []string{paid.PaymentID().String(), refunded.PaymentID().String(), pending.PaymentID().String()}
			quoted := strings.NewReplacer("$1", "'"+ids[0]+"'", "$2", "'"+ids[1]+"'", "$3", "'"+ids[2]+"'") // payment ids need no escaping
			if _, err := s.db.ExecContext(context.Background(), quoted.Replace(tt.tamper)); err != nil {
				t.Fatal(err)
			}
			report, err := s.verify.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				want = strings.NewReplacer("$1", ids[0], "$2", ids[1], "$3", ids[2]).Replace(want)
				if !slices.Contains(report.Drifts, want) {
					t.Errorf("drifts %q\nwant %q", report.Drifts, want)
				}
			}
		})
	}
}
