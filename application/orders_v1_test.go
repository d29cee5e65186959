package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// v1Order is an order paid through PortOne V1.
func (s *shop) v1Order(account string) *domain.Order {
	s.t.Helper()
	o, _, err := s.orders.Create(s.ctx, application.CreateOrderCommand{Tenant: s.tenant, Account: acct(account), Product: s.pack.ID(),
		Gateway: domain.GatewayPortOneV1}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// v1Paid is what V1 reports once the buyer paid for o in attempt impUID: no
// custom data (V1 pages seldom send any) and the merchant code as its store.
func v1Paid(o *domain.Order, impUID string) domain.Payment {
	return domain.Payment{ID: o.PaymentID(), TransactionID: impUID, Status: domain.PaymentPaid, StoreID: testIMPCode,
		OrderName: o.OrderName(), Currency: "KRW", Total: o.Price().Amount(), Paid: o.Price().Amount()}
}

func TestV1OrderIsPreRegisteredAtV1Only(t *testing.T) {
	s := newShop(t)
	o := s.v1Order("u1")
	if o.Gateway() != domain.GatewayPortOneV1 {
		t.Fatalf("gateway %s", o.Gateway())
	}
	if got, ok := s.v1.PreRegistered(o.PaymentID()); !ok || got != o.Price() {
		t.Fatalf("V1 pre-registered %v (%v), want %v", got, ok, o.Price())
	}
	if _, ok := s.gateway.PreRegistered(o.PaymentID()); ok {
		t.Fatal("a V1 order was pre-registered at V2")
	}
	if c := s.orders.Checkout(o.Gateway()); c.StoreID != testIMPCode || c.PG != testPG {
		t.Fatalf("checkout %+v", c)
	}
	if s.order("u1").Gateway() != domain.GatewayPortOneV2 {
		t.Fatal("an order naming no gateway is not V2's")
	}
}

func TestOrderThroughAnUnconfiguredGatewayIsRefused(t *testing.T) {
	s := newShop(t)
	orders := application.NewOrders(s.store.UnitOfWork(), s.store.Queries(), fakeProducts{map[domain.ProductID]*domain.Product{s.pack.ID(): s.pack}},
		application.PaymentGateways{domain.GatewayPortOneV2: s.gateway}, s.clock, s.ids, application.OrdersConfig{})
	_, _, err := orders.Create(s.ctx, application.CreateOrderCommand{Tenant: s.tenant, Account: acct("u1"), Product: s.pack.ID(),
		Gateway: domain.GatewayPortOneV1}, nil)
	if !errors.Is(err, domain.ErrGatewayNotConfigured) {
		t.Fatalf("err = %v, want ErrGatewayNotConfigured", err)
	}
	if _, ok := s.v1.PreRegistered(domain.PaymentID{}); ok {
		t.Fatal("pre-registered")
	}
}

func TestV1PaidOrderGrantsOnceWithoutCustomData(t *testing.T) {
	s := newShop(t)
	o := s.v1Order("u1")
	s.v1.Set(v1Paid(o, "imp_1"))
	for range 3 {
		if got := s.sync(o); got.Status() != domain.OrderPaid || got.Transaction() != "imp_1" {
			t.Fatalf("status %s, transaction %q", got.Status(), got.Transaction())
		}
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s, want 110", b)
	}
}

func TestV1CompleteTakesTheImpUIDOnlyAsAHint(t *testing.T) {
	s := newShop(t)
	mine, theirs := s.v1Order("u1"), s.v1Order("u2")
	s.v1.Set(v1Paid(theirs, "imp_theirs"))

	for _, hint := range []string{"imp_theirs", "imp_nobody"} {
		_, err := s.orders.Complete(s.ctx, s.tenant, mine.PaymentID(), hint)
		if !errors.Is(err, domain.ErrPaymentMismatch) {
			t.Fatalf("hint %s: err = %v, want ErrPaymentMismatch", hint, err)
		}
	}
	if b := s.balance("u1"); b != "none" {
		t.Fatalf("another order's payment granted: balance %s", b)
	}

	s.v1.Set(v1Paid(mine, "imp_mine"))
	got, err := s.orders.Complete(s.ctx, s.tenant, mine.PaymentID(), "imp_mine")
	if err != nil || got.Status() != domain.OrderPaid {
		t.Fatalf("complete with its own imp_uid: %v %v", got, err)
	}
	// Without the hint the payment is found by merchant_uid.
	got, err = s.orders.Complete(s.ctx, s.tenant, theirs.PaymentID(), "")
	if err != nil || got.Status() != domain.OrderPaid {
		t.Fatalf("complete by merchant_uid: %v %v", got, err)
	}
	if s.balance("u1") != "110" || s.balance("u2") != "110" {
		t.Fatalf("balances %s %s", s.balance("u1"), s.balance("u2"))
	}
}

func TestTransactionHintOnAV2OrderIsRefused(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	if _, err := s.orders.Complete(s.ctx, s.tenant, o.PaymentID(), "tx-1"); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("err = %v, want ErrInvalidInput", err)
	}
}

func TestV1MismatchesAreRejectedAndCancelledByImpUID(t *testing.T) {
	for name, tamper := range map[string]func(*domain.Payment){
		"amount":   func(p *domain.Payment) { p.Total, p.Paid = 100, 100 },
		"name":     func(p *domain.Payment) { p.OrderName = "1000 credits" },
		"currency": func(p *domain.Payment) { p.Currency = "USD" },
		"merchant": func(p *domain.Payment) { p.StoreID = "imp-other" },
	} {
		t.Run(name, func(t *testing.T) {
			s := newShop(t)
			o := s.v1Order("u1")
			p := v1Paid(o, "imp_1")
			tamper(&p)
			s.v1.Set(p)
			got, err := s.orders.Complete(s.ctx, s.tenant, o.PaymentID(), "imp_1")
			if err != nil || got.Status() != domain.OrderRejected {
				t.Fatalf("%v %v, want REJECTED", got, err)
			}
			if b := s.balance("u1"); b != "none" {
				t.Fatalf("balance %s", b)
			}
			cancels := s.v1.Cancels()
			if len(cancels) != 1 || cancels[0].Transaction != "imp_1" || cancels[0].CancellableBefore != p.Total {
				t.Fatalf("cancels %+v, want one of imp_1 with checksum %d", cancels, p.Total)
			}
		})
	}
}

func TestV1RefundWhoseAnswerWasLostIsTakenBackOnce(t *testing.T) {
	s := newShop(t)
	o := s.v1Order("u1")
	s.v1.Set(v1Paid(o, "imp_1"))
	s.sync(o)

	// PortOne cancels, but its answer is lost; V1 keeps no idempotency key,
	// so the retry is refused by its checksum, which creditd must read as
	// "done", not as a refusal.
	s.v1.LoseCancelAnswers(1)
	amount := int64(4000)
	if _, _, err := s.refund(o, "r1", &amount); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("first try: %v, want ErrUnavailable", err)
	}
	got, receipt, err := s.refund(o, "r1", &amount)
	if err != nil || receipt.Status != 201 || got.Status() != domain.OrderPartiallyRefunded || got.Cancelled() != 4000 {
		t.Fatalf("retry: %v %+v %v", err, receipt, got)
	}
	if b := s.balance("u1"); b != "66" { // 110 less 4000/10000 of it
		t.Fatalf("balance %s, want 66", b)
	}
	cancels := s.v1.Cancels()
	if len(cancels) != 2 || cancels[0].Transaction != "imp_1" || cancels[0].CancellableBefore != 10000 || cancels[1].CancellableBefore != 10000 {
		t.Fatalf("cancels %+v", cancels)
	}
	if p, _ := s.v1.Payment(o.PaymentID()); p.Cancelled != 4000 {
		t.Fatalf("cancelled at V1 %d, want 4000 once", p.Cancelled)
	}
	// A genuine refusal still ends the refund: the payment was cancelled
	// elsewhere meanwhile, by the very amount this refund asks (so only the
	// refund's being new tells the two apart).
	p, _ := s.v1.Payment(o.PaymentID())
	p.Cancelled += 1000
	s.v1.Set(p)
	one := int64(1000)
	if _, receipt, err := s.refund(o, "r2", &one); err != nil || receipt.Status != 409 {
		t.Fatalf("refund on a stale belief: %v %+v, want 409", err, receipt)
	}
}

func TestV1PartialCancelThatLeavesStatusPaidIsTakenBack(t *testing.T) {
	s := newShop(t)
	o := s.v1Order("u1")
	p := v1Paid(o, "imp_1")
	s.v1.Set(p)
	s.sync(o)
	// The adapter reports a paid V1 payment with cancel_amount as partially
	// cancelled; the order converges on the amount.
	p.Status, p.Cancelled = domain.PaymentPartialCancelled, 5000
	s.v1.Set(p)
	if got := s.sync(o); got.Status() != domain.OrderPartiallyRefunded || got.Cancelled() != 5000 {
		t.Fatalf("%s %d", got.Status(), got.Cancelled())
	}
	if b := s.balance("u1"); b != "55" {
		t.Fatalf("balance %s, want 55", b)
	}
}

func TestReconciliationPagesBothGateways(t *testing.T) {
	s := newShop(t)
	v2, v1 := s.order("u1"), s.v1Order("u2")
	s.gateway.Set(paid(v2))
	s.v1.Set(v1Paid(v1, "imp_1"))
	// V2 lists the V1 order's payment too (PortOne's V2 API sees V1
	// payments): it is not the V2 gateway's to reconcile.
	foreign := paid(v1)
	s.gateway.Set(foreign)
	reports := memory.NewReconciliationReports()
	r := application.NewReconciler(application.PaymentGateways{domain.GatewayPortOneV2: s.gateway, domain.GatewayPortOneV1: s.v1},
		s.store.Queries(), s.orders, reports, s.clock, s.ids)
	rep, err := r.Run(s.ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rep.PaymentsSeen != 3 || rep.UnknownPayments != 1 || len(rep.Findings) != 2 {
		t.Fatalf("seen %d, unknown %d, findings %+v", rep.PaymentsSeen, rep.UnknownPayments, rep.Findings)
	}
	if s.balance("u1") != "110" || s.balance("u2") != "110" {
		t.Fatalf("balances %s %s", s.balance("u1"), s.balance("u2"))
	}
}
