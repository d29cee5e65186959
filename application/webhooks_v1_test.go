package application_test

import (
	"errors"
	"testing"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
)

func TestV1WebhooksKeepOneEventPerOrderStatusAndWindow(t *testing.T) {
	s := newShop(t)
	inbox := memory.NewWebhookInbox()
	hooks := application.NewV1Webhooks(inbox, s.store.Queries(), s.clock)
	o := s.v1Order("u1")
	receive := func(n application.V1Notice) application.WebhookReceipt {
		t.Helper()
		r, err := hooks.Receive(s.ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	paid := application.V1Notice{IMPUID: "imp_1", MerchantUID: o.PaymentID().String(), Status: "paid"}
	if r := receive(paid); r != application.WebhookStored {
		t.Fatalf("first delivery: %s", r)
	}
	if r := receive(paid); r != application.WebhookDuplicate {
		t.Fatalf("repeat: %s", r)
	}
	// Statuses outside V1's are one more status, not one per text.
	for _, st := range []string{"weird", "", "PAID"} {
		receive(application.V1Notice{IMPUID: "imp_1", MerchantUID: o.PaymentID().String(), Status: st})
	}
	s.clock.Advance(application.V1WebhookWindow)
	if r := receive(paid); r != application.WebhookStored {
		t.Fatalf("a window later: %s", r)
	}
	if st, _ := inbox.Stats(s.ctx); st.Depth != 3 {
		t.Fatalf("%d events, want 3 (paid, other, paid a window later)", st.Depth)
	}
	// Someone else's payments and V2 orders store nothing.
	for _, n := range []application.V1Notice{
		{IMPUID: "imp_2", MerchantUID: "ord-nobody", Status: "paid"},
		{IMPUID: "imp_3", MerchantUID: s.order("u2").PaymentID().String(), Status: "paid"},
	} {
		if r := receive(n); r != application.WebhookUnknownOrder {
			t.Fatalf("%+v: %s", n, r)
		}
	}
	for _, n := range []application.V1Notice{
		{MerchantUID: o.PaymentID().String()},
		{IMPUID: "imp 1", MerchantUID: o.PaymentID().String()},
		{IMPUID: "imp_1", MerchantUID: o.PaymentID().String(), CancellationID: "c\x001"},
		{IMPUID: "imp_1"},
	} {
		if _, err := hooks.Receive(s.ctx, n); !errors.Is(err, application.ErrInvalidWebhook) {
			t.Fatalf("%+v: %v, want ErrInvalidWebhook", n, err)
		}
	}
	if st, _ := inbox.Stats(s.ctx); st.Depth != 3 {
		t.Fatalf("%d events after refusals, want 3", st.Depth)
	}
}
