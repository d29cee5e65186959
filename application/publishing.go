package application

import (
	"context"
	"fmt"
	"time"

	"github.com/creditd/creditd/domain"
)

// Publishing is uow writing, in each unit of work, the events its changes
// make: one transaction.created per transaction appended, hold.expired when
// a hold is stored expired, an order.* event when an order's status or
// refunded amount moves, and balance.low / balance.depleted when a wallet's
// available credits cross its threshold or reach zero. Use cases need not
// know: the events come from the repositories they already call, so no
// change can be stored without its event, and a unit that fails writes
// neither.
//
// A crossing is judged under the wallet's lock, from the available credits
// the unit found to those it left, so concurrent spends fire balance.low once
// per crossing. The tenant's default threshold, and which events its
// endpoints receive, are read (through settings' cache) before the unit of
// work starts, for the tenants its scope names; events no endpoint receives
// are not written.
func Publishing(uow UnitOfWork, ids IDGenerator, clock Clock, settings *Settings) UnitOfWork {
	return publishingUnitOfWork{uow: uow, ids: ids, clock: clock, settings: settings}
}

type publishingUnitOfWork struct {
	uow      UnitOfWork
	ids      IDGenerator
	clock    Clock
	settings *Settings
}

func (p publishingUnitOfWork) WithinTx(ctx context.Context, scope Scope, fn func(ctx context.Context, r Repos) error) error {
	tenants, err := p.tenants(ctx, scope)
	if err != nil {
		return err
	}
	return p.uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		pub := &publisher{ids: p.ids, now: p.clock.Now(), tenants: tenants, wallets: make(map[domain.WalletID]*watchedWallet, len(scope.Wallets))}
		events := r.Events
		r.Ledger = publishingLedger{r.Ledger, pub}
		r.Wallets = publishingWallets{r.Wallets, pub}
		r.Holds = publishingHolds{r.Holds, pub}
		r.Orders = publishingOrders{r.Orders, pub}
		if err := fn(ctx, r); err != nil {
			return err
		}
		pub.judgeBalances()
		if len(pub.events) == 0 {
			return nil
		}
		return events.Append(ctx, pub.events...)
	})
}

// tenants are what the units of work need to know of the tenants the scope names.
func (p publishingUnitOfWork) tenants(ctx context.Context, scope Scope) (map[domain.TenantID]tenantEvents, error) {
	out := make(map[domain.TenantID]tenantEvents, 1)
	add := func(t domain.TenantID) error {
		if _, ok := out[t]; ok {
			return nil
		}
		te, err := p.settings.events(ctx, t)
		if err != nil {
			return fmt.Errorf("read the event settings of the tenant: %w", err)
		}
		out[t] = te
		return nil
	}
	for _, w := range scope.Wallets {
		if err := add(w.Tenant); err != nil {
			return nil, err
		}
	}
	for _, h := range scope.Holds {
		if err := add(h.Tenant); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// publisher collects one run of a unit of work's events, in the order their
// changes were made; balance events come last, once the unit is done.
type publisher struct {
	ids     IDGenerator
	now     time.Time // when the unit ran: the time of events that are not transactions
	tenants map[domain.TenantID]tenantEvents
	events  []Event

	wallets map[domain.WalletID]*watchedWallet
	order   []domain.WalletID // wallets in the order the unit locked them
	// holds and orders are the statuses the unit found, made when first needed.
	holds  map[domain.HoldID]domain.HoldStatus
	orders map[domain.PaymentID]orderState
}

// watchedWallet is a wallet as the unit found it and as it last stored it.
type watchedWallet struct {
	before domain.Credits // available when the unit locked it
	after  *savedWallet   // as last saved; nil while unsaved
	lastTx *domain.TransactionID
}

// savedWallet is what a balance event needs of a wallet as it was saved.
type savedWallet struct {
	tenant                   domain.TenantID
	account                  domain.AccountID
	balance, held, available domain.Credits
	threshold                domain.Credits // the account's own; zero: none
}

type orderState struct {
	status    domain.OrderStatus
	cancelled int64
}

// wants says whether an event is to be written: one of a tenant the scope
// did not name (none should be) is, to be safe.
func (p *publisher) wants(tenant domain.TenantID, typ domain.EventType) bool {
	t, ok := p.tenants[tenant]
	return !ok || t.wants(typ)
}

func (p *publisher) add(typ domain.EventType, tenant domain.TenantID, account domain.AccountID, at time.Time, data any) {
	if !p.wants(tenant, typ) {
		return
	}
	p.events = append(p.events, Event{ID: p.ids.NewID(), Type: typ, Tenant: tenant, Account: account, OccurredAt: at, Data: data})
}

func (p *publisher) watch(w *domain.Wallet) {
	if _, ok := p.wallets[w.ID()]; !ok {
		p.wallets[w.ID()] = &watchedWallet{before: w.Available()}
		p.order = append(p.order, w.ID())
	}
}

// judgeBalances adds the balance events of the wallets the unit stored.
func (p *publisher) judgeBalances() {
	for _, id := range p.order {
		ww := p.wallets[id]
		w := ww.after
		if w == nil {
			continue
		}
		threshold := w.threshold
		if threshold.IsZero() {
			threshold = p.tenants[w.tenant].settings.LowBalanceThreshold
		}
		low := threshold.IsPositive() && ww.before.Cmp(threshold) >= 0 && w.available.Cmp(threshold) < 0
		depleted := ww.before.IsPositive() && !w.available.IsPositive()
		if !low && !depleted {
			continue
		}
		data := BalanceData{AccountID: w.account.String(), Balance: w.balance.String(), Held: w.held.String(),
			Available: w.available.String(), TransactionID: transactionIDText(ww.lastTx)}
		if low {
			d := data
			d.Threshold = threshold.String()
			p.add(domain.EventBalanceLow, w.tenant, w.account, p.now, d)
		}
		if depleted {
			p.add(domain.EventBalanceDepleted, w.tenant, w.account, p.now, data)
		}
	}
}

func transactionIDText(id *domain.TransactionID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

// The repositories as a publishing unit of work sees them.

type publishingLedger struct {
	LedgerRepository
	p *publisher
}

func (l publishingLedger) Append(ctx context.Context, txs ...domain.Transaction) error {
	if err := l.LedgerRepository.Append(ctx, txs...); err != nil {
		return err
	}
	for _, t := range txs {
		id := t.ID()
		if ww, ok := l.p.wallets[t.Wallet()]; ok {
			ww.lastTx = &id
		}
		if !l.p.wants(t.Tenant(), domain.EventTransactionCreated) {
			continue
		}
		data := TransactionData{TransactionID: id.String(), AccountID: t.AccountID().String(), Type: t.Type().String(),
			Amount: t.Amount().String(), BalanceAfter: t.BalanceAfter().String(), CreatedAt: t.CreatedAt()}
		if h := t.Hold(); h != nil {
			s := h.String()
			data.HoldID = &s
		}
		data.ReversalOf = transactionIDText(t.ReversalOf())
		l.p.add(domain.EventTransactionCreated, t.Tenant(), t.AccountID(), t.CreatedAt(), data)
	}
	return nil
}

type publishingWallets struct {
	WalletRepository
	p *publisher
}

func (r publishingWallets) Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	w, err := r.WalletRepository.Lock(ctx, tenant, account)
	if err == nil {
		r.p.watch(w)
	}
	return w, err
}

func (r publishingWallets) LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	w, err := r.WalletRepository.LockOrCreate(ctx, fresh)
	if err == nil {
		r.p.watch(w)
	}
	return w, err
}

func (r publishingWallets) Save(ctx context.Context, w *domain.Wallet) error {
	if err := r.WalletRepository.Save(ctx, w); err != nil {
		return err
	}
	r.p.watch(w) // a wallet is locked before it is saved; this only guards a repository that allows otherwise
	r.p.wallets[w.ID()].after = &savedWallet{tenant: w.Tenant(), account: w.AccountID(), balance: w.Balance(), held: w.Held(),
		available: w.Available(), threshold: w.LowBalanceThreshold()}
	return nil
}

type publishingHolds struct {
	HoldRepository
	p *publisher
}

func (r publishingHolds) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	h, err := r.HoldRepository.Get(ctx, tenant, id)
	if err == nil {
		r.p.seeHold(h)
	}
	return h, err
}

func (r publishingHolds) ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	hs, err := r.HoldRepository.ListOpen(ctx, wallet)
	for _, h := range hs {
		r.p.seeHold(h)
	}
	return hs, err
}

// Save tells of a hold stored expired that the unit found open.
func (r publishingHolds) Save(ctx context.Context, h *domain.Hold) error {
	if err := r.HoldRepository.Save(ctx, h); err != nil {
		return err
	}
	was, seen := r.p.holds[h.ID()]
	r.p.seeHold(h)
	r.p.holds[h.ID()] = h.Status()
	if seen && was.IsOpen() && h.Status() == domain.HoldExpired {
		r.p.add(domain.EventHoldExpired, h.Tenant(), h.AccountID(), r.p.now, HoldData{HoldID: h.ID().String(),
			AccountID: h.AccountID().String(), Status: h.Status().String(), Amount: h.Amount().String(),
			Captured: h.Captured().String(), Released: h.ReleasedAt(r.p.now).String(), ExpiresAt: h.ExpiresAt()})
	}
	return nil
}

func (p *publisher) seeHold(h *domain.Hold) {
	if p.holds == nil {
		p.holds = map[domain.HoldID]domain.HoldStatus{}
	}
	if _, ok := p.holds[h.ID()]; !ok {
		p.holds[h.ID()] = h.Status()
	}
}

type publishingOrders struct {
	OrderRepository
	p *publisher
}

func (r publishingOrders) Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error) {
	o, err := r.OrderRepository.Get(ctx, id)
	if err == nil {
		if r.p.orders == nil {
			r.p.orders = map[domain.PaymentID]orderState{}
		}
		if _, ok := r.p.orders[id]; !ok {
			r.p.orders[id] = orderState{status: o.Status(), cancelled: o.Cancelled()}
		}
	}
	return o, err
}

// Save tells of the order's moves since the unit found it: paid (or
// awaiting deposit, failed, rejected), then refunded when its refunded
// amount grew. A new order tells of nothing.
func (r publishingOrders) Save(ctx context.Context, o *domain.Order) error {
	if err := r.OrderRepository.Save(ctx, o); err != nil {
		return err
	}
	was, seen := r.p.orders[o.PaymentID()]
	if !seen { // a new order: nothing moved
		return nil
	}
	now := orderState{status: o.Status(), cancelled: o.Cancelled()}
	r.p.orders[o.PaymentID()] = now
	for _, typ := range orderEvents(was, now) {
		r.p.add(typ, o.Tenant(), o.Account(), r.p.now, orderData(o))
	}
	return nil
}

// orderEvents are the events of an order's move from was to now.
func orderEvents(was, now orderState) []domain.EventType {
	var out []domain.EventType
	if now.status != was.status {
		switch {
		case now.status == domain.OrderRejected:
			out = append(out, domain.EventOrderRejected)
		case now.status.IsPaid() && !was.status.IsPaid():
			out = append(out, domain.EventOrderPaid)
		case now.status == domain.OrderAwaitingDeposit:
			out = append(out, domain.EventOrderAwaitingDeposit)
		case now.status == domain.OrderFailed:
			out = append(out, domain.EventOrderFailed)
		}
	}
	if now.cancelled > was.cancelled && now.status != domain.OrderRejected {
		out = append(out, domain.EventOrderRefunded)
	}
	return out
}

func orderData(o *domain.Order) OrderData {
	d := OrderData{PaymentID: o.PaymentID().String(), AccountID: o.Account().String(), ProductID: o.Product().String(), Gateway: string(o.Gateway()),
		Status: o.Status().String(), TotalAmount: o.Price().Amount(), Currency: o.Price().Currency().String(),
		Credits: o.Credits().String(), RefundedAmount: o.Cancelled(), Rejection: string(o.Rejection())}
	if va := o.VirtualAccount(); va != nil {
		d.VirtualAccount = &VirtualAccountData{Bank: va.Bank, AccountNumber: va.AccountNumber, Holder: va.Holder, DueAt: va.DueAt}
	}
	return d
}
