package application_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// refundKey makes a distinct idempotency request per key.
func refundIdem(key string) *application.Idempotency[*domain.Order] {
	return &application.Idempotency[*domain.Order]{Key: key, Fingerprint: []byte(key),
		Encode: func(o *domain.Order, rejection error) (application.Receipt, error) {
			if rejection != nil {
				return application.Receipt{Status: 409, Body: []byte(rejection.Error())}, nil
			}
			return application.Receipt{Status: 201, Body: []byte(o.Status().String())}, nil
		}}
}

func (s *shop) paidOrder(account string) *domain.Order {
	s.t.Helper()
	o := s.order(account)
	s.gateway.Set(paid(o))
	return s.sync(o)
}

func (s *shop) refund(o *domain.Order, key string, amount *int64) (*domain.Order, *application.Receipt, error) {
	return s.orders.Refund(s.ctx, application.RefundCommand{Tenant: s.tenant, Payment: o.PaymentID(), Amount: amount, Reason: "customer asked"}, refundIdem(key))
}

func (s *shop) quote(o *domain.Order) domain.RefundQuote {
	s.t.Helper()
	_, q, err := s.orders.RefundQuote(s.ctx, s.tenant, o.PaymentID())
	if err != nil {
		s.t.Fatal(err)
	}
	return q
}

func (s *shop) spend(account, amount string) {
	s.t.Helper()
	if _, _, err := s.accounts.Spend(s.ctx, application.SpendCommand{Tenant: s.tenant, Account: acct(account), Amount: cr(amount)}, nil); err != nil {
		s.t.Fatal(err)
	}
}

func TestRefundOfEverythingUnspent(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	if q := s.quote(o); q.Amount != 10000 || q.Credits.String() != "110" {
		t.Fatalf("quote %+v, want 10000 for 110 credits", q)
	}
	got, receipt, err := s.refund(o, "r1", nil)
	if err != nil || receipt.Status != 201 {
		t.Fatalf("refund: %v %+v", err, receipt)
	}
	if got.Status() != domain.OrderRefunded || got.PendingRefund() != nil {
		t.Fatalf("order %s pending %+v", got.Status(), got.PendingRefund())
	}
	if b := s.balance("u1"); b != "0" {
		t.Fatalf("balance %s", b)
	}
}

func TestPartialRefundAfterAPartialSpend(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	s.spend("u1", "33") // 77 of the 110 left: worth 7000 (77/110 of 10000)
	q := s.quote(o)
	if q.Amount != 7000 || q.Credits.String() != "77" {
		t.Fatalf("quote %+v, want 7000 for 77 credits", q)
	}
	half := int64(3500)
	got, _, err := s.refund(o, "r1", &half)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.OrderPartiallyRefunded || got.Cancelled() != 3500 {
		t.Fatalf("order %s cancelled %d", got.Status(), got.Cancelled())
	}
	if b := s.balance("u1"); b != "38.5" {
		t.Fatalf("balance %s, want 38.5 (77 - 38.5)", b)
	}
	if q := s.quote(o); q.Amount != 3500 {
		t.Fatalf("quote after the refund %+v, want 3500", q)
	}
	tooMuch := int64(3501)
	_, receipt, err := s.refund(o, "r2", &tooMuch)
	if err != nil || receipt.Status != 409 {
		t.Fatalf("a refund over the quote: %v %+v", err, receipt)
	}
	if b := s.balance("u1"); b != "38.5" {
		t.Fatalf("a refused refund changed the balance to %s", b)
	}
}

func TestRefundRetriedWithItsKeyRefundsOnce(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	half := int64(5000)
	for range 3 {
		if _, _, err := s.refund(o, "r1", &half); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.gateway.Cancellations(); n != 1 {
		t.Fatalf("%d cancellations at the gateway, want 1", n)
	}
	if b := s.balance("u1"); b != "55" {
		t.Fatalf("balance %s, want 55", b)
	}
}

// TestRefundInterruptedAfterTheCancelIsFinishedOnce: the gateway cancels,
// then reading the payment back fails (a crash between the steps): the
// refund stays pending with its credits reserved; a retry with the same key
// finishes it, once.
func TestRefundInterruptedAfterTheCancelIsFinishedOnce(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	s.gateway.FailGet(o.PaymentID(), fmt.Errorf("%w: timeout", application.ErrUnavailable))
	half := int64(5000)
	if _, _, err := s.refund(o, "r1", &half); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	v, _ := s.accounts.GetAccount(s.ctx, s.tenant, acct("u1"))
	if v.Balance.String() != "110" || v.Held.String() != "55" {
		t.Fatalf("balance %s held %s while the refund is pending, want 110 and 55 reserved", v.Balance, v.Held)
	}
	if q := s.quote(o); !q.InProgress {
		t.Fatal("the quote does not show the refund in progress")
	}
	other := int64(1000)
	if _, receipt, _ := s.refund(o, "r2", &other); receipt == nil || receipt.Status != 409 {
		t.Fatalf("a second refund while one is pending: %+v", receipt)
	}
	s.gateway.FailGet(o.PaymentID(), nil)
	got, _, err := s.refund(o, "r1", &half)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cancelled() != 5000 || got.PendingRefund() != nil {
		t.Fatalf("cancelled %d pending %+v", got.Cancelled(), got.PendingRefund())
	}
	if n := s.gateway.Cancellations(); n != 1 {
		t.Fatalf("%d cancellations, want 1", n)
	}
	v, _ = s.accounts.GetAccount(s.ctx, s.tenant, acct("u1"))
	if v.Balance.String() != "55" || v.Held.String() != "0" {
		t.Fatalf("balance %s held %s, want 55 and 0", v.Balance, v.Held)
	}
}

// TestRefundFinishedByAWebhookSync: the sync of a webhook, not the retry,
// finishes an interrupted refund; the retry then finds it done.
func TestRefundFinishedByAWebhookSync(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	s.gateway.FailGet(o.PaymentID(), fmt.Errorf("%w: timeout", application.ErrUnavailable))
	if _, _, err := s.refund(o, "r1", nil); err == nil {
		t.Fatal("want the interrupted refund to fail")
	}
	s.gateway.FailGet(o.PaymentID(), nil)
	if got := s.sync(o); got.Status() != domain.OrderRefunded || got.PendingRefund() != nil {
		t.Fatalf("after the sync: %s %+v", got.Status(), got.PendingRefund())
	}
	got, receipt, err := s.refund(o, "r1", nil)
	if err != nil || receipt.Status != 201 || got.Status() != domain.OrderRefunded {
		t.Fatalf("the retry: %v %+v", err, receipt)
	}
	if n := s.gateway.Cancellations(); n != 1 {
		t.Fatalf("%d cancellations, want 1", n)
	}
	if b := s.balance("u1"); b != "0" {
		t.Fatalf("balance %s", b)
	}
}

func TestRefundRefusedByTheGatewayReleasesTheReservation(t *testing.T) {
	s := newShop(t)
	o := s.paidOrder("u1")
	// Cancelled in the console meanwhile, but not yet seen by creditd: the
	// refund's idea of what is cancellable is stale.
	p := paid(o)
	p.Cancelled, p.Status = 1000, domain.PaymentPartialCancelled
	s.gateway.Set(p)
	_, receipt, err := s.refund(o, "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if receipt.Status != 409 {
		t.Fatalf("receipt %+v, want the refusal", receipt)
	}
	v, _ := s.accounts.GetAccount(s.ctx, s.tenant, acct("u1"))
	if v.Held.String() != "0" {
		t.Fatalf("held %s after a refused refund", v.Held)
	}
}

func TestUnpaidOrderIsNotRefundable(t *testing.T) {
	s := newShop(t)
	o := s.order("u1")
	if _, receipt, err := s.refund(o, "r1", nil); err != nil || receipt.Status != 409 {
		t.Fatalf("refund of an unpaid order: %v %+v", err, receipt)
	}
	if n := len(s.gateway.Cancels()); n != 0 {
		t.Fatalf("%d cancels asked", n)
	}
}
