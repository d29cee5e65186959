package application_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// publishingEnv is env with every unit of work publishing its events.
type publishingEnv struct {
	*env
	settings *application.Settings
	subs     *fakeSubscriptions
}

// fakeSubscriptions answers what its test set; nil types and not all: nothing is wanted.
type fakeSubscriptions struct {
	all   bool
	types []domain.EventType
}

func (f *fakeSubscriptions) Subscribed(context.Context, domain.TenantID) (bool, []domain.EventType, error) {
	return f.all, f.types, nil
}

func newPublishingEnv(t *testing.T) *publishingEnv {
	e := &publishingEnv{env: newEnv(t), subs: &fakeSubscriptions{all: true}}
	ensureTenant(e.env)
	e.settings = application.NewSettings(e.store.Settings(), e.subs, e.clock)
	uow := application.Publishing(e.store.UnitOfWork(), e.ids, e.clock, e.settings)
	e.accounts = application.NewAccounts(uow, e.store.Queries(), e.clock, e.ids)
	e.holds = application.NewHolds(uow, e.store.Queries(), e.clock, e.ids)
	e.expiry = application.NewExpiry(uow, e.store.Queries(), e.clock, e.ids)
	return e
}

// events lists the outbox as "type account detail", detail being the
// amount of a transaction, the available credits of a balance event, the
// hold of a hold event.
func (e *publishingEnv) events() []string {
	var out []string
	for _, ev := range e.store.Events() {
		line := ev.Type.String() + " " + ev.Account.String()
		switch d := ev.Data.(type) {
		case application.TransactionData:
			line += " " + d.Type + " " + d.Amount
		case application.BalanceData:
			line += " " + d.Available
		case application.HoldData:
			line += " released " + d.Released
		}
		out = append(out, line)
	}
	return out
}

// ensureTenant stores env's tenant, whose settings units of work read.
func ensureTenant(e *env) {
	e.t.Helper()
	name, err := domain.ParseTenantName("acme")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.APIKeys().EnsureTenant(e.ctx, name, e.tenant); err != nil {
		e.t.Fatal(err)
	}
}

func (e *publishingEnv) wantEvents(want ...string) {
	e.t.Helper()
	if got := e.events(); !slices.Equal(got, want) {
		e.t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (e *publishingEnv) mustSpend(account, amount string) {
	e.t.Helper()
	if _, err := e.spend(account, amount); err != nil {
		e.t.Fatal(err)
	}
}

func (e *publishingEnv) setThreshold(account, threshold string) {
	e.t.Helper()
	if err := e.accounts.SetLowBalanceThreshold(e.ctx, e.tenant, acct(account), cr(threshold)); err != nil {
		e.t.Fatal(err)
	}
}

func TestEveryTransactionIsPublishedWithItsUnitOfWork(t *testing.T) {
	e := newPublishingEnv(t)
	grant := e.grant("alice", "100")
	spend, err := e.spend("alice", "30")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.spend("alice", "1000"); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("overspend: %v", err)
	}
	e.wantEvents("transaction.created alice GRANT 100", "transaction.created alice SPEND 30")

	evs := e.store.Events()
	d := evs[1].Data.(application.TransactionData)
	if d.TransactionID != spend.ID().String() || d.BalanceAfter != "70" || !d.CreatedAt.Equal(spend.CreatedAt()) ||
		evs[1].Tenant != e.tenant || !evs[1].OccurredAt.Equal(spend.CreatedAt()) {
		t.Fatalf("spend event %+v of %+v", evs[1], d)
	}
	if evs[0].ID == evs[1].ID || evs[0].Data.(application.TransactionData).TransactionID != grant.ID().String() {
		t.Fatalf("events %+v", evs)
	}
}

func TestBalanceLowFiresOncePerCrossing(t *testing.T) {
	e := newPublishingEnv(t)
	e.setThreshold("alice", "50")
	e.grant("alice", "100")
	e.mustSpend("alice", "30") // 70
	e.mustSpend("alice", "30") // 40: crossed
	e.mustSpend("alice", "10") // 30: still below
	e.grant("alice", "100")    // 130
	e.mustSpend("alice", "80") // 50: not below
	e.mustSpend("alice", "50") // 0: crossed, and depleted
	e.wantEvents(
		"transaction.created alice GRANT 100",
		"transaction.created alice SPEND 30",
		"transaction.created alice SPEND 30",
		"balance.low alice 40",
		"transaction.created alice SPEND 10",
		"transaction.created alice GRANT 100",
		"transaction.created alice SPEND 80",
		"transaction.created alice SPEND 50",
		"balance.low alice 0",
		"balance.depleted alice 0",
	)
	low := e.store.Events()[3].Data.(application.BalanceData)
	if low.Threshold != "50" || low.TransactionID == nil || low.Balance != "40" || low.Held != "0" {
		t.Fatalf("balance.low payload %+v", low)
	}
}

func TestTheTenantsThresholdAppliesToAccountsWithoutTheirOwn(t *testing.T) {
	e := newPublishingEnv(t)
	if _, err := e.settings.ChangeTenant(e.ctx, e.tenant, application.TenantSettings{LowBalanceThreshold: cr("10"),
		LotsExpiringNotice: application.DefaultLotsExpiringNotice}); err != nil {
		t.Fatal(err)
	}
	e.setThreshold("bob", "100")
	e.grant("alice", "20")
	e.grant("bob", "200")
	e.mustSpend("alice", "15") // 5 < 10
	e.mustSpend("bob", "150")  // 50 < 100 (bob's own)
	e.setThreshold("bob", "0") // bob falls back to the tenant's 10
	e.mustSpend("bob", "45")   // 5 < 10
	e.wantEvents(
		"transaction.created alice GRANT 20",
		"transaction.created bob GRANT 200",
		"transaction.created alice SPEND 15",
		"balance.low alice 5",
		"transaction.created bob SPEND 150",
		"balance.low bob 50",
		"transaction.created bob SPEND 45",
		"balance.low bob 5",
	)
	if got := e.account("bob").LowBalanceThreshold; !got.IsZero() {
		t.Fatalf("bob's own threshold after removing it: %s", got)
	}
}

func TestHoldsMoveAvailableAndExpire(t *testing.T) {
	e := newPublishingEnv(t)
	e.setThreshold("alice", "50")
	e.grant("alice", "100")
	h, err := e.placeHold("alice", "60", time.Minute) // available 40: crossed without a transaction
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := e.expiry.ExpireHolds(e.ctx, 10); err != nil {
		t.Fatal(err)
	}
	e.mustSpend("alice", "100") // the hold gave its 60 back: depleted
	e.wantEvents(
		"transaction.created alice GRANT 100",
		"balance.low alice 40",
		"hold.expired alice released 60",
		"transaction.created alice SPEND 100",
		"balance.low alice 0",
		"balance.depleted alice 0",
	)
	if d := e.store.Events()[2].Data.(application.HoldData); d.HoldID != h.ID().String() || d.Status != "EXPIRED" {
		t.Fatalf("hold.expired payload %+v", d)
	}
}

func TestOrderEventsFollowTheOrder(t *testing.T) {
	s := newShop(t)
	ensureTenant(s.env)
	pe := &publishingEnv{env: s.env}
	uow := application.Publishing(s.store.UnitOfWork(), s.ids, s.clock, application.NewSettings(s.store.Settings(), nil, s.clock))
	s.orders = application.NewOrders(uow, s.store.Queries(), fakeProducts{map[domain.ProductID]*domain.Product{s.pack.ID(): s.pack}},
		application.PaymentGateways{domain.GatewayPortOneV2: s.gateway}, s.clock, s.ids, application.OrdersConfig{Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: testStore, ChannelKey: "channel"}},
			CancelRejected: true, Shortfall: domain.ShortfallDebt})

	vbank := s.order("alice")
	p := paid(vbank)
	p.Status, p.Paid = domain.PaymentVirtualAccountIssued, 0
	p.VirtualAccount = &domain.VirtualAccount{Bank: "SHINHAN", AccountNumber: "110-1", Holder: "shop"}
	s.gateway.Set(p)
	s.sync(vbank)
	s.gateway.Set(paid(vbank))
	s.sync(vbank)
	s.sync(vbank) // nothing moved: nothing told
	cancelled := paid(vbank)
	cancelled.Status, cancelled.Cancelled = domain.PaymentPartialCancelled, 4000
	s.gateway.Set(cancelled)
	s.sync(vbank)

	tampered := s.order("bob")
	p = paid(tampered)
	p.Total, p.Paid = 1, 1
	s.gateway.Set(p)
	s.sync(tampered)

	var got []string
	for _, ev := range s.store.Events() {
		if d, ok := ev.Data.(application.OrderData); ok {
			got = append(got, fmt.Sprintf("%s %s %s refunded %d", ev.Type, d.AccountID, d.Status, d.RefundedAmount))
		}
	}
	want := []string{
		"order.awaiting_deposit alice AWAITING_DEPOSIT refunded 0",
		"order.paid alice PAID refunded 0",
		"order.refunded alice PARTIALLY_REFUNDED refunded 4000",
		"order.rejected bob REJECTED refunded 0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order events:\n  %s\nwant:\n  %s\nall: %v", strings.Join(got, "\n  "), strings.Join(want, "\n  "), pe.events())
	}
	if d := s.store.Events()[0].Data.(application.OrderData); d.VirtualAccount == nil || d.VirtualAccount.AccountNumber != "110-1" {
		t.Fatalf("order.awaiting_deposit payload %+v", d)
	}
}

// TestOnlyEventsSomeEndpointReceivesAreWritten: a tenant without endpoints
// writes nothing to the outbox; once an endpoint wants balance.low (and the
// cache is told), only that is written; other replicas would see the change
// within the cache's life.
func TestOnlyEventsSomeEndpointReceivesAreWritten(t *testing.T) {
	e := newPublishingEnv(t)
	e.subs.all = false
	e.setThreshold("alice", "50")
	e.grant("alice", "100")
	e.mustSpend("alice", "60")
	e.wantEvents()

	e.subs.types = []domain.EventType{domain.EventBalanceLow}
	e.mustSpend("alice", "1") // the cache still says nothing is wanted
	e.wantEvents()
	e.settings.Forget(e.tenant)
	e.grant("alice", "100")    // 139
	e.mustSpend("alice", "90") // 49
	e.wantEvents("balance.low alice 49")

	e.subs.all = true
	e.clock.Advance(time.Minute) // the cache has expired
	e.mustSpend("alice", "1")
	e.wantEvents("balance.low alice 49", "transaction.created alice SPEND 1")
}
