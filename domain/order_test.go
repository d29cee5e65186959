package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/domain"
)

// TestCreditsTakenBackIsWhatTheClawbacksAddUpTo: however a price is
// cancelled, in one go or in pieces, the clawbacks Converge asks for add up
// to CreditsTakenBack, and a whole cancellation takes back every credit.
func TestCreditsTakenBackIsWhatTheClawbacksAddUpTo(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	tenant := domain.TenantID(uuid.New())
	for _, steps := range [][]int64{{10000}, {3333, 6667, 10000}, {1, 2, 3, 9999, 10000}, {7}} {
		p, err := domain.NewProduct(tenant, pid, domain.ProductSpec{Name: "100 credits", Price: price,
			Credits: domain.MustCredits("100"), BonusCredits: domain.MustCredits("10")}, now)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := domain.ParsePaymentID("ord-1")
		buyer, _ := domain.ParseAccountID("buyer-1")
		o, err := domain.NewOrder(tenant, id, buyer, p, domain.GatewayPortOneV2, now)
		if err != nil {
			t.Fatal(err)
		}
		pay := domain.Payment{ID: id, Status: domain.PaymentPaid, StoreID: "store", OrderName: o.OrderName(),
			Currency: "KRW", Total: 10000, Paid: 10000, CustomData: o.CustomData()}
		if c := o.Converge(pay, "store", now); !c.Grant {
			t.Fatalf("%v: the payment did not pay the order", steps)
		}
		sum := domain.ZeroCredits
		for _, cancelled := range steps {
			pay.Status, pay.Cancelled = domain.PaymentPartialCancelled, cancelled
			sum = sum.Add(o.Converge(pay, "store", now).Clawback)
			if !sum.Equal(o.CreditsTakenBack()) {
				t.Fatalf("%v: clawbacks add up to %s after %d cancelled, CreditsTakenBack %s", steps, sum, cancelled, o.CreditsTakenBack())
			}
		}
		if steps[len(steps)-1] == 10000 && !o.CreditsTakenBack().Equal(domain.MustCredits("110")) {
			t.Fatalf("%v: a whole cancellation takes back %s", steps, o.CreditsTakenBack())
		}
	}
}

// TestPaymentOfAnotherOrderIsRejected: a paid payment is checked against the
// order it is for, by id first; a V1 order needs no custom data (V1 finds its
// payment by the merchant_uid creditd made), a V2 order does.
func TestPaymentOfAnotherOrderIsRejected(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	tenant := domain.TenantID(uuid.New())
	p, _ := domain.NewProduct(tenant, pid, domain.ProductSpec{Name: "100 credits", Price: price, Credits: domain.MustCredits("100")}, now)
	id, _ := domain.ParsePaymentID("ord-1")
	other, _ := domain.ParsePaymentID("ord-2")
	buyer, _ := domain.ParseAccountID("buyer-1")
	for _, tc := range []struct {
		gateway domain.Gateway
		payment domain.PaymentID
		custom  bool
		want    domain.RejectionReason
	}{
		{domain.GatewayPortOneV1, other, false, domain.RejectedPaymentID},
		{domain.GatewayPortOneV2, other, true, domain.RejectedPaymentID},
		{domain.GatewayPortOneV1, id, false, ""},
		{domain.GatewayPortOneV2, id, false, domain.RejectedCustomData},
	} {
		o, err := domain.NewOrder(tenant, id, buyer, p, tc.gateway, now)
		if err != nil {
			t.Fatal(err)
		}
		pay := domain.Payment{ID: tc.payment, Status: domain.PaymentPaid, StoreID: "store", OrderName: o.OrderName(),
			Currency: "KRW", Total: 10000, Paid: 10000}
		if tc.custom {
			pay.CustomData = o.CustomData()
		}
		c := o.Converge(pay, "store", now)
		if c.Grant != (tc.want == "") || o.Rejection() != tc.want {
			t.Errorf("%s order, payment %s, custom data %v: grant %v, rejection %q, want %q", tc.gateway, tc.payment, tc.custom, c.Grant, o.Rejection(), tc.want)
		}
	}
	if _, err := domain.NewOrder(tenant, id, buyer, p, "v3", now); err == nil {
		t.Error("an order through an unknown gateway was made")
	}
}
