package application_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// fakeProducts is a product store in memory.
type fakeProducts struct {
	products map[domain.ProductID]*domain.Product
}

func (s fakeProducts) Create(context.Context, *domain.Product) error { return errors.New("not used") }
func (s fakeProducts) Change(context.Context, domain.TenantID, domain.ProductID, func(*domain.Product) error) (*domain.Product, error) {
	return nil, errors.New("not used")
}
func (s fakeProducts) List(context.Context, domain.TenantID, bool) ([]*domain.Product, error) {
	return nil, errors.New("not used")
}
func (s fakeProducts) Get(_ context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error) {
	p, ok := s.products[id]
	if !ok || p.Tenant() != tenant {
		return nil, domain.ErrNotFound
	}
	return p, nil
}

const testStore = "store-test"

// The V1 gateway's merchant code and PG, as a shop's configuration gives them.
const (
	testIMPCode = "imp-test"
	testPG      = "html5_inicis"
)

// shop sells through both gateways: V2 (gateway, the default) and V1 (v1).
type shop struct {
	*env
	gateway *memory.Gateway
	v1      *memory.Gateway
	orders  *application.Orders
	pack    *domain.Product
}

func newShop(t *testing.T) *shop { return newShopWith(t, domain.ShortfallDebt) }

func newShopWith(t *testing.T, shortfall domain.ShortfallPolicy) *shop {
	e := newEnv(t)
	days := 30
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	pack, err := domain.NewProduct(e.tenant, pid, domain.ProductSpec{Name: "100 credits", Price: price,
		Credits: cr("100"), BonusCredits: cr("10"), CreditValidityDays: &days}, start)
	if err != nil {
		t.Fatal(err)
	}
	g, v1 := memory.NewGateway(), memory.NewV1Gateway()
	orders := application.NewOrders(e.store.UnitOfWork(), e.store.Queries(), fakeProducts{map[domain.ProductID]*domain.Product{pid: pack}},
		application.PaymentGateways{domain.GatewayPortOneV2: g, domain.GatewayPortOneV1: v1}, e.clock, e.ids,
		application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{
			domain.GatewayPortOneV2: {StoreID: testStore, ChannelKey: "channel"},
			domain.GatewayPortOneV1: {StoreID: testIMPCode, PG: testPG},
		}, CancelRejected: true, Shortfall: shortfall})
	return &shop{env: e, gateway: g, v1: v1, orders: orders, pack: pack}
}

func (s *shop) order(account string) *domain.Order {
	s.t.Helper()
	o, _, err := s.orders.Create(s.ctx, application.CreateOrderCommand{Tenant: s.tenant, Account: acct(account), Product: s.pack.ID()}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// paid is what an honest gateway reports once the buyer paid for o.
func paid(o *domain.Order) domain.Payment {
	return domain.Payment{ID: o.PaymentID(), Status: domain.PaymentPaid, StoreID: testStore, OrderName: o.OrderName(),
		Currency: o.Price().Currency().String(), Total: o.Price().Amount(), Paid: o.Price().Amount(), CustomData: o.CustomData()}
}

func (s *shop) sync(o *domain.Order) *domain.Order {
	s.t.Helper()
	got, err := s.orders.SyncOrder(s.ctx, o.PaymentID())
	if err != nil {
		s.t.Fatal(err)
	}
	return got
}

func (s *shop) balance(account string) string {
	s.t.Helper()
	v, err := s.accounts.GetAccount(s.ctx, s.tenant, acct(account))
	if errors.Is(err, domain.ErrNotFound) {
		return "none"
	} else if err != nil {
		s.t.Fatal(err)
	}
	return v.Balance.String()
}

func TestCreateOrderPreRegistersThePrice(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	if o.Status() != domain.OrderPending || o.Price().Amount() != 10000 {
		t.Fatalf("order %s %s", o.Status(), o.Price())
	}
	if got, _ := s.gateway.PreRegistered(o.PaymentID()); got != o.Price() {
		t.Fatalf("pre-registered %v, want %v", got, o.Price())
	}
	if b := s.balance("u1"); b != "none" {
		t.Fatalf("an unpaid order granted: balance %s", b)
	}
}

func TestCreateOrderWhileTheGatewayIsDownStoresNothing(t *testing.T) {
	s := newShop(t)
	s.gateway.FailWith(fmt.Errorf("%w: connection refused", application.ErrUnavailable))
	_, _, err := s.orders.Create(s.ctx, application.CreateOrderCommand{Tenant: s.tenant, Account: acct("u1"), Product: s.pack.ID()}, nil)
	if !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	page, err := s.orders.List(s.ctx, application.OrderFilter{Tenant: s.tenant}, 10)
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("orders after a failed create: %d (%v)", len(page.Items), err)
	}
}

func TestPaidOrderGrantsItsPackOnce(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	for range 3 {
		got := s.sync(o)
		if got.Status() != domain.OrderPaid {
			t.Fatalf("status %s, want PAID", got.Status())
		}
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s, want 110 (100 paid + 10 bonus, once)", b)
	}
	v, _ := s.accounts.GetAccount(s.ctx, s.tenant, acct("u1"))
	for _, l := range v.Lots {
		if l.Funding() != o.Funding() || l.ExpiresAt() == nil {
			t.Fatalf("lot %s: funding %v expires %v", l.ID(), l.Funding(), l.ExpiresAt())
		}
	}
}

func TestMismatchedPaymentIsRejectedAndCancelled(t *testing.T) {
	for name, tamper := range map[string]func(p *domain.Payment){
		"amount":      func(p *domain.Payment) { p.Total, p.Paid = 100, 100 },
		"currency":    func(p *domain.Payment) { p.Currency = "USD" },
		"order_name":  func(p *domain.Payment) { p.OrderName = "1000 credits" },
		"store":       func(p *domain.Payment) { p.StoreID = "store-other" },
		"custom_data": func(p *domain.Payment) { p.CustomData = `{"creditdOrder":"ord-someone-else"}` },
		"no_custom":   func(p *domain.Payment) { p.CustomData = "" },
	} {
		t.Run(name, func(t *testing.T) {
			s := newShop(t)
			o := s.order("u1")
			p := paid(o)
			tamper(&p)
			s.gateway.Set(p)
			got := s.sync(o)
			if got.Status() != domain.OrderRejected || got.Rejection() == "" {
				t.Fatalf("status %s (%s), want REJECTED", got.Status(), got.Rejection())
			}
			if b := s.balance("u1"); b != "none" {
				t.Fatalf("a rejected payment granted: balance %s", b)
			}
			if cancels := s.gateway.Cancels(); len(cancels) != 1 || cancels[0].Payment != o.PaymentID() {
				t.Fatalf("cancels %+v, want one of %s", cancels, o.PaymentID())
			}
			// Later, honest-looking reads never un-reject it.
			s.gateway.Set(paid(o))
			if got := s.sync(o); got.Status() != domain.OrderRejected {
				t.Fatalf("status %s after a later read, want REJECTED", got.Status())
			}
			if b := s.balance("u1"); b != "none" {
				t.Fatalf("balance %s", b)
			}
		})
	}
}

func TestVirtualAccountGrantsOnlyOnDeposit(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	va := &domain.VirtualAccount{Bank: "SHINHAN", AccountNumber: "56211105948400", Holder: "creditd"}
	issued := paid(o)
	issued.Status, issued.Paid, issued.VirtualAccount = domain.PaymentVirtualAccountIssued, 0, va
	s.gateway.Set(issued)
	got := s.sync(o)
	if got.Status() != domain.OrderAwaitingDeposit || got.VirtualAccount() == nil || got.VirtualAccount().AccountNumber != va.AccountNumber {
		t.Fatalf("status %s account %+v", got.Status(), got.VirtualAccount())
	}
	if b := s.balance("u1"); b != "none" {
		t.Fatalf("credits before the deposit: %s", b)
	}
	s.gateway.Set(paid(o))
	if got := s.sync(o); got.Status() != domain.OrderPaid {
		t.Fatalf("status %s after the deposit", got.Status())
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s after the deposit, want 110", b)
	}
}

func TestStatesNeverMoveBackwards(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	s.sync(o)
	for _, st := range []domain.PaymentStatus{domain.PaymentReady, domain.PaymentVirtualAccountIssued, domain.PaymentFailed, "SOMETHING_NEW"} {
		p := paid(o)
		p.Status = st
		s.gateway.Set(p)
		if got := s.sync(o); got.Status() != domain.OrderPaid {
			t.Fatalf("a %s read moved a paid order to %s", st, got.Status())
		}
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s", b)
	}
}

func TestFailedAttemptThenPaid(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	failed := paid(o)
	failed.Status = domain.PaymentFailed
	s.gateway.Set(failed)
	if got := s.sync(o); got.Status() != domain.OrderFailed {
		t.Fatalf("status %s, want FAILED", got.Status())
	}
	s.gateway.Set(paid(o))
	if got := s.sync(o); got.Status() != domain.OrderPaid {
		t.Fatalf("status %s after a successful retry, want PAID", got.Status())
	}
}

func TestUnpaidPaymentLeavesTheOrderPending(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	if got := s.sync(o); got.Status() != domain.OrderPending { // the gateway has no payment yet
		t.Fatalf("status %s", got.Status())
	}
}

func TestConcurrentSyncsGrantOnce(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := s.orders.SyncOrder(s.ctx, o.PaymentID()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s, want 110", b)
	}
}

func TestCompleteRefusesAnotherTenantsOrder(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	other := domain.TenantID(s.ids.NewID())
	if _, err := s.orders.Complete(s.ctx, other, o.PaymentID(), ""); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
}

// cancelled is what the gateway reports after amount of o's payment was cancelled.
func cancelled(o *domain.Order, amount int64) domain.Payment {
	p := paid(o)
	p.Cancelled, p.Status = amount, domain.PaymentPartialCancelled
	if amount == p.Total {
		p.Status = domain.PaymentCancelled
	}
	p.Cancellations = []domain.PaymentCancellation{{ID: "c1", Status: domain.CancellationSucceeded, Amount: amount, Trigger: "CONSOLE"}}
	return p
}

func TestConsoleCancellationTakesTheCreditsBack(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	s.sync(o)
	s.gateway.Set(cancelled(o, 5000))
	if got := s.sync(o); got.Status() != domain.OrderPartiallyRefunded || got.Cancelled() != 5000 {
		t.Fatalf("status %s cancelled %d", got.Status(), got.Cancelled())
	}
	if b := s.balance("u1"); b != "55" {
		t.Fatalf("balance %s after half the payment was cancelled, want 55", b)
	}
	s.gateway.Set(cancelled(o, 10000))
	s.sync(o)
	if got := s.sync(o); got.Status() != domain.OrderRefunded {
		t.Fatalf("status %s", got.Status())
	}
	if b := s.balance("u1"); b != "0" {
		t.Fatalf("balance %s after the whole payment was cancelled, want 0", b)
	}
}

func TestCancellationBeforeThePaymentWasSeenGrantsAndTakesBack(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(cancelled(o, 10000)) // Cancelled arrives before Paid was processed
	if got := s.sync(o); got.Status() != domain.OrderRefunded {
		t.Fatalf("status %s, want REFUNDED", got.Status())
	}
	if b := s.balance("u1"); b != "0" {
		t.Fatalf("balance %s, want 0", b)
	}
	s.gateway.Set(paid(o)) // a stale read of the payment
	if got := s.sync(o); got.Status() != domain.OrderRefunded {
		t.Fatalf("a stale read moved the order to %s", got.Status())
	}
}

func TestCancellationOfSpentCreditsFollowsThePolicy(t *testing.T) {
	for _, c := range []struct {
		policy        domain.ShortfallPolicy
		balance, debt string
	}{{domain.ShortfallDebt, "-50", "50"}, {domain.ShortfallAbsorb, "0", "0"}} {
		t.Run(c.policy.String(), func(t *testing.T) {
			s := newShopWith(t, c.policy)
			o := s.order("u1")
			s.gateway.Set(paid(o))
			s.sync(o)
			if _, _, err := s.accounts.Spend(s.ctx, application.SpendCommand{Tenant: s.tenant, Account: acct("u1"), Amount: cr("50")}, nil); err != nil {
				t.Fatal(err)
			}
			s.gateway.Set(cancelled(o, 10000))
			s.sync(o)
			v, err := s.accounts.GetAccount(s.ctx, s.tenant, acct("u1"))
			if err != nil {
				t.Fatal(err)
			}
			if v.Balance.String() != c.balance || v.Debt.String() != c.debt {
				t.Fatalf("balance %s debt %s, want %s and %s", v.Balance, v.Debt, c.balance, c.debt)
			}
		})
	}
}
