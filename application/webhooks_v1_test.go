package application_test

import (
	"context"
	"time"

	"errors"
	"testing"

	"github.com/creditd/creditd/domain"

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

// syncDuring is a payment syncer that, while it syncs, lets during run
// once: a notice arriving mid-sync.
type syncDuring struct {
	syncs  *int
	during func()
}

func (s syncDuring) Sync(context.Context, domain.PaymentID) error {
	*s.syncs++
	if *s.syncs == 1 {
		s.during()
	}
	return nil
}

// TestV1NoticeDuringASyncIsNotLost: a notice of the same order and status
// arriving while its event's sync runs (which may have read the payment
// before the change) has the event synced again.
func TestV1NoticeDuringASyncIsNotLost(t *testing.T) {
	s := newShop(t)
	inbox := memory.NewWebhookInbox()
	hooks := application.NewV1Webhooks(inbox, s.store.Queries(), s.clock)
	o := s.v1Order("u1")
	notice := application.V1Notice{IMPUID: "imp_1", MerchantUID: o.PaymentID().String(), Status: "cancelled"}
	if _, err := hooks.Receive(s.ctx, notice); err != nil {
		t.Fatal(err)
	}
	syncs := 0
	var during application.WebhookReceipt
	worker := application.NewWebhooks(nil, inbox, syncDuring{syncs: &syncs, during: func() {
		s.clock.Advance(time.Second)
		during, _ = hooks.Receive(s.ctx, notice)
	}}, s.clock, application.WebhookConfig{Lease: time.Minute})
	if _, err := worker.ProcessDue(s.ctx, 10); err != nil {
		t.Fatal(err)
	}
	if during != application.WebhookRearmed {
		t.Fatalf("the notice during the sync: %s", during)
	}
	if _, err := worker.ProcessDue(s.ctx, 10); err != nil {
		t.Fatal(err)
	}
	if syncs != 2 {
		t.Fatalf("%d syncs, want 2: the change announced mid-sync was never read", syncs)
	}
	if st, _ := inbox.Stats(s.ctx); st.Depth != 0 {
		t.Fatalf("depth %d after the second sync", st.Depth)
	}
}
