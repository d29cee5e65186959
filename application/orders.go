package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/creditd/creditd/domain"
)

// Checkout is what a browser needs, beside the order, to pay through a
// gateway: for V2 the store and the channel (PortOne's storeId and
// channelKey); for V1 the merchant code (imp code, as StoreID) and the PG
// string IMP.request_pay takes.
type Checkout struct {
	StoreID    string
	ChannelKey string
	PG         string
}

// OrdersConfig tunes purchases.
type OrdersConfig struct {
	// Checkouts says, for each gateway creditd sells through, what a browser
	// needs to pay there.
	Checkouts map[domain.Gateway]Checkout
	// DefaultGateway is the gateway of an order that names none; empty: V2.
	DefaultGateway domain.Gateway
	// CancelRejected cancels, at the gateway, a payment found not to match its
	// order, so the buyer gets the money back at once.
	CancelRejected bool
	// Shortfall decides what a cancellation takes when the user has already
	// spent what the order granted: debt, or a loss the tenant absorbs.
	Shortfall domain.ShortfallPolicy
	// Observer, if set, hears of every change a sync commits to an order.
	Observer OrderObserver
}

// OrderObserver hears of every change a sync commits to an order, to log
// and count them (a rejection above all: someone tampered with a payment).
type OrderObserver interface {
	OrderChanged(o *domain.Order, from domain.OrderStatus)
}

// Orders sells credit packs: it creates orders, and converges each with
// what its payment gateway says about its payment (Sync), granting a paid
// order's credits exactly once.
type Orders struct {
	uow      UnitOfWork
	queries  Queries
	products ProductStore
	gateways PaymentGateways
	clock    Clock
	ids      IDGenerator
	cfg      OrdersConfig
}

// NewOrders builds the order use cases.
func NewOrders(uow UnitOfWork, queries Queries, products ProductStore, gateways PaymentGateways, clock Clock, ids IDGenerator, cfg OrdersConfig) *Orders {
	if cfg.DefaultGateway == "" {
		cfg.DefaultGateway = domain.GatewayPortOneV2
	}
	return &Orders{uow: uow, queries: queries, products: products, gateways: gateways, clock: clock, ids: ids, cfg: cfg}
}

// Checkout is what browsers pay an order of the gateway through.
func (o *Orders) Checkout(g domain.Gateway) Checkout { return o.cfg.Checkouts[g] }

// gateway is the client of the order's gateway.
func (o *Orders) gateway(order *domain.Order) (PaymentGateway, error) {
	if gw, ok := o.gateways[order.Gateway()]; ok {
		return gw, nil
	}
	return nil, fmt.Errorf("%w: order %s is paid through PortOne %s, which creditd is not configured for",
		domain.ErrGatewayNotConfigured, order.PaymentID(), order.Gateway())
}

// CreateOrderCommand buys a product for an account.
type CreateOrderCommand struct {
	Tenant  domain.TenantID
	Account domain.AccountID
	Product domain.ProductID
	// Gateway is the API the buyer pays through; empty: the default.
	Gateway domain.Gateway
}

// Create makes a PENDING order at the product's current price, after
// telling the gateway the amount its payment must have (pre-registration),
// so the gateway itself refuses a tampered amount. The gateway is called
// before anything is stored and outside any transaction: when it fails,
// nothing is stored and a retry with the same idempotency key starts afresh
// (a pre-registered payment id nobody pays for costs nothing).
func (o *Orders) Create(ctx context.Context, cmd CreateOrderCommand, idem *Idempotency[*domain.Order]) (*domain.Order, *Receipt, error) {
	if idem != nil { // a replay needs no new payment id, nor a call to the gateway
		if r, err := storedReceipt(ctx, o.queries, cmd.Tenant, idem.Key, idem.Fingerprint); r != nil || err != nil {
			return nil, r, err
		}
	}
	order, err := o.newOrder(ctx, cmd)
	if err != nil {
		if idem != nil && domain.IsRejection(err) {
			// Recorded like any rejection, so a retry gets the same answer.
			return runOnce(ctx, o.uow, o.queries, o.clock, cmd.Tenant, idem, Scope{}, func(context.Context, Repos) (*domain.Order, error) {
				return nil, err
			})
		}
		return nil, nil, err
	}
	gw, err := o.gateway(order)
	if err != nil {
		return nil, nil, err
	}
	if err := gw.PreRegister(ctx, order.PaymentID(), order.Price()); err != nil {
		return nil, nil, fmt.Errorf("pre-register payment %s: %w", order.PaymentID(), err)
	}
	scope := Scope{Orders: []domain.PaymentID{order.PaymentID()}}
	return runOnce(ctx, o.uow, o.queries, o.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (*domain.Order, error) {
		return order, r.Orders.Save(ctx, order)
	})
}

func (o *Orders) newOrder(ctx context.Context, cmd CreateOrderCommand) (*domain.Order, error) {
	p, err := o.products.Get(ctx, cmd.Tenant, cmd.Product)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, fmt.Errorf("%w: product %s does not exist", domain.ErrProductUnavailable, cmd.Product)
	} else if err != nil {
		return nil, err
	}
	id, err := domain.ParsePaymentID(newPaymentID(o.ids))
	if err != nil {
		return nil, err
	}
	gateway := cmd.Gateway
	if gateway == "" {
		gateway = o.cfg.DefaultGateway
	}
	if _, ok := o.gateways[gateway]; !ok {
		return nil, fmt.Errorf("%w: creditd does not sell through PortOne %s", domain.ErrGatewayNotConfigured, gateway)
	}
	return domain.NewOrder(cmd.Tenant, id, cmd.Account, p, gateway, o.clock.Now())
}

// newPaymentID is "ord-" and a UUIDv7: unique, sortable, safe in any URL.
func newPaymentID(ids IDGenerator) string {
	b := ids.NewID()
	return fmt.Sprintf("ord-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Get reads one of the tenant's orders.
func (o *Orders) Get(ctx context.Context, tenant domain.TenantID, id domain.PaymentID) (*domain.Order, error) {
	order, err := o.queries.Orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if order.Tenant() != tenant { // another tenant's order does not exist for this one
		return nil, fmt.Errorf("order %s: %w", id, domain.ErrNotFound)
	}
	return order, nil
}

// OrderPage is one page of orders.
type OrderPage struct {
	Items []*domain.Order
	Next  *OrderCursor // nil on the last page
}

// List pages through the tenant's orders, least recently updated first, so
// a backend polling with updatedSince sees every change.
func (o *Orders) List(ctx context.Context, f OrderFilter, limit int) (OrderPage, error) {
	if limit < 1 || limit > MaxPageSize {
		return OrderPage{}, fmt.Errorf("%w: limit must be between 1 and %d", domain.ErrInvalidInput, MaxPageSize)
	}
	items, err := o.queries.Orders.List(ctx, f, limit+1)
	if err != nil {
		return OrderPage{}, err
	}
	page := OrderPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := items[limit-1]
		page.Next = &OrderCursor{UpdatedAt: last.UpdatedAt(), Payment: last.PaymentID()}
	}
	return page, nil
}

// Complete is the buyer's backend saying a payment is done: the order is
// converged with the gateway (the browser's word is never taken) and returned.
//
// transaction, when set, is the attempt the browser reported (V1's
// imp_uid): only a hint of where to look. The payment it names is read from
// the gateway, and refused (ErrPaymentMismatch) unless it is the order's;
// without it, the payment is found by the order's id.
func (o *Orders) Complete(ctx context.Context, tenant domain.TenantID, id domain.PaymentID, transaction string) (*domain.Order, error) {
	known, err := o.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if transaction == "" || known.Status() == domain.OrderRefunded {
		return o.converge(ctx, known)
	}
	if known.Gateway() != domain.GatewayPortOneV1 { // V2's browser SDK reports the paymentId itself
		return nil, fmt.Errorf("%w: PortOne %s orders are completed without an impUid", domain.ErrInvalidInput, known.Gateway())
	}
	gw, err := o.gateway(known)
	if err != nil {
		return nil, err
	}
	reader, ok := gw.(TransactionReader)
	if !ok {
		return nil, fmt.Errorf("the PortOne %s client cannot read a payment by its transaction id", known.Gateway())
	}
	payment, err := reader.GetPaymentByTransaction(ctx, transaction)
	if errors.Is(err, ErrPaymentNotFound) {
		return nil, fmt.Errorf("%w: the gateway has no payment %q", domain.ErrPaymentMismatch, transaction)
	} else if err != nil {
		return nil, fmt.Errorf("read payment %q: %w", transaction, err)
	}
	if payment.ID != known.PaymentID() {
		return nil, fmt.Errorf("%w: payment %q pays for another order", domain.ErrPaymentMismatch, transaction)
	}
	return o.apply(ctx, known, payment)
}

// Sync converges the order of a payment (see SyncOrder).
func (o *Orders) Sync(ctx context.Context, id domain.PaymentID) error {
	_, err := o.SyncOrder(ctx, id)
	return err
}

// ErrCancelFailed means a rejected order's payment could not be cancelled
// at the gateway yet; the next sync tries again.
var ErrCancelFailed = errors.New("cancelling the rejected payment at the gateway failed")

// SyncOrder is the one path by which an order changes after it is created:
// the complete call, webhooks and reconciliation all come here. It reads
// the payment from the gateway (outside any transaction), then, in one unit
// of work that locks the order and its wallet, converges the order and
// writes what that implies: a paid order's grant goes into the same
// transaction as its change to PAID, and the database's unique index on an
// order's lots makes a second grant fail rather than happen. Concurrent
// syncs of one order queue on its lock; the second finds the work done.
//
// A rejected order's payment is cancelled at the gateway after the commit;
// if that fails, the order is returned with ErrCancelFailed, and a later
// sync cancels it (the cancel carries one idempotency key per order).
func (o *Orders) SyncOrder(ctx context.Context, id domain.PaymentID) (*domain.Order, error) {
	known, err := o.queries.Orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return o.converge(ctx, known)
}

// converge is SyncOrder given the order as last read, which names its wallet.
func (o *Orders) converge(ctx context.Context, known *domain.Order) (*domain.Order, error) {
	id := known.PaymentID()
	if known.Status() == domain.OrderRefunded {
		return known, nil // final: nothing the gateway says can change it
	}
	gw, err := o.gateway(known)
	if err != nil {
		return nil, err
	}
	payment, err := gw.GetPayment(ctx, id)
	if errors.Is(err, ErrPaymentNotFound) {
		return known, nil // nobody has paid yet
	} else if err != nil {
		return nil, fmt.Errorf("read payment %s: %w", id, err)
	}
	return o.apply(ctx, known, payment)
}

// apply converges the order with its payment, as read from the gateway just now.
func (o *Orders) apply(ctx context.Context, known *domain.Order, payment domain.Payment) (*domain.Order, error) {
	id := known.PaymentID()
	var order *domain.Order
	var conv domain.Convergence
	var from domain.OrderStatus
	scope := Scope{Orders: []domain.PaymentID{id}, Wallets: []WalletRef{{Tenant: known.Tenant(), Account: known.Account()}}}
	err := o.uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		var err error
		if order, err = r.Orders.Get(ctx, id); err != nil {
			return err
		}
		now := o.clock.Now()
		from = order.Status()
		if conv = order.Converge(payment, o.Checkout(order.Gateway()).StoreID, now); !conv.Changed {
			return nil
		}
		if err := o.applyToLedger(ctx, r, order, conv, now); err != nil {
			return err
		}
		return r.Orders.Save(ctx, order)
	})
	if err != nil {
		return nil, err
	}
	if conv.Changed && o.cfg.Observer != nil {
		o.cfg.Observer.OrderChanged(order, from)
	}
	if conv.CancelAtGateway && o.cfg.CancelRejected {
		if err := o.cancelRejected(ctx, order, payment); err != nil {
			return order, fmt.Errorf("%w: %w", ErrCancelFailed, err)
		}
	}
	return order, nil
}

// applyToLedger writes the credits a convergence moves, in the order's unit of work.
func (o *Orders) applyToLedger(ctx context.Context, r Repos, order *domain.Order, conv domain.Convergence, now time.Time) error {
	if !conv.Grant && conv.Clawback.IsZero() && conv.ReleaseHold == nil {
		return nil
	}
	fresh := domain.NewWallet(domain.WalletID(o.ids.NewID()), order.Tenant(), order.Account(), now)
	w, err := r.Wallets.LockOrCreate(ctx, fresh)
	if err != nil {
		return err
	}
	settled, err := settle(ctx, r, w, o.ids, now)
	if err != nil {
		return err
	}
	var txs []domain.Transaction
	var released []*domain.Hold
	if conv.ReleaseHold != nil {
		h, err := releaseRefundHold(ctx, r, w, order, *conv.ReleaseHold, now)
		if err != nil {
			return err
		}
		released = append(released, h...)
	}
	if conv.Grant {
		for _, g := range order.Grants(now, o.ids.NewID) {
			t, err := w.Grant(g, now)
			if err != nil {
				return err
			}
			txs = append(txs, t)
		}
	}
	if conv.Clawback.IsPositive() {
		t, _, err := w.Clawback(domain.Clawback{Transaction: domain.TransactionID(o.ids.NewID()), Funding: order.Funding(),
			Amount: conv.Clawback, Policy: o.cfg.Shortfall, Memo: order.ClawbackMemo()}, now)
		if err != nil {
			return err
		}
		txs = append(txs, t)
	}
	return settled.store(ctx, r, w, released, txs...)
}

// releaseRefundHold frees a refund's reservation if it still holds credits
// (it may have expired, and been settled, meanwhile).
func releaseRefundHold(ctx context.Context, r Repos, w *domain.Wallet, order *domain.Order, id domain.HoldID, now time.Time) ([]*domain.Hold, error) {
	h, err := r.Holds.Get(ctx, order.Tenant(), id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if h.StatusAt(now) != domain.HoldActive && h.StatusAt(now) != domain.HoldPartiallyCaptured {
		return nil, nil
	}
	if err := w.ReleaseHold(h, now); err != nil {
		return nil, err
	}
	return []*domain.Hold{h}, nil
}

func (o *Orders) cancelRejected(ctx context.Context, order *domain.Order, p domain.Payment) error {
	gw, err := o.gateway(order)
	if err != nil {
		return err
	}
	_, err = gw.Cancel(ctx, CancelRequest{
		Payment:           order.PaymentID(),
		Transaction:       p.TransactionID,
		CancellableBefore: p.Total - p.Cancelled,
		Reason:            fmt.Sprintf("creditd: the payment does not match its order (%s)", order.Rejection()),
		IdempotencyKey:    "creditd-reject-" + order.PaymentID().String(),
	})
	if IsGatewayError(err, GatewayErrAlreadyCancelled) {
		return nil
	}
	return err
}
