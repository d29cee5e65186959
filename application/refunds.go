package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/creditd/creditd/domain"
)

// RefundQuote says what a refund of the order may give back now.
func (o *Orders) RefundQuote(ctx context.Context, tenant domain.TenantID, id domain.PaymentID) (*domain.Order, domain.RefundQuote, error) {
	order, err := o.Get(ctx, tenant, id)
	if err != nil {
		return nil, domain.RefundQuote{}, err
	}
	w, err := o.queries.Wallets.Get(ctx, tenant, order.Account())
	if errors.Is(err, domain.ErrNotFound) {
		return order, order.RefundQuote(nil, o.clock.Now()), nil
	} else if err != nil {
		return nil, domain.RefundQuote{}, err
	}
	return order, order.RefundQuote(w, o.clock.Now()), nil
}

// RefundCommand gives back part (Amount, minor units) or all (nil) of what
// an order's unspent credits are worth.
type RefundCommand struct {
	Tenant  domain.TenantID
	Payment domain.PaymentID
	Amount  *int64
	Reason  string
}

// Refund gives money back for the order's unspent credits and takes those
// credits back, in three steps, each safe to interrupt:
//
//  1. reserve: in one unit of work, a hold on the order's own lots reserves
//     the credits the refund will take back, and the order records the
//     pending refund (with the request's idempotency key);
//  2. cancel: the gateway is asked to cancel the amount, naming what was
//     cancellable before (so two refunds can never both pass on one belief)
//     and an idempotency key of its own (so asking again is harmless);
//  3. converge: the sync sees the cancellation, releases the hold and takes
//     the credits back in one unit of work.
//
// A crash or a timeout after step 1 leaves the refund pending: a retry with
// the same key resumes at step 2, and any sync (a webhook, reconciliation)
// that sees the cancellation finishes step 3 exactly once, as the order
// records how much of the payment its clawbacks cover. A reservation that
// is never used lapses after domain.RefundHoldDuration.
func (o *Orders) Refund(ctx context.Context, cmd RefundCommand, idem *Idempotency[*domain.Order]) (*domain.Order, *Receipt, error) {
	if r, err := storedReceipt(ctx, o.queries, cmd.Tenant, idem.Key, idem.Fingerprint); r != nil || err != nil {
		return nil, r, err
	}
	known, err := o.Get(ctx, cmd.Tenant, cmd.Payment)
	if err != nil {
		return o.settleRefund(ctx, cmd, idem, nil, err)
	}
	pending, resumed, done, err := o.reserveRefund(ctx, cmd, idem.Key, known)
	if err != nil {
		return o.settleRefund(ctx, cmd, idem, nil, err)
	}
	if !done {
		if err := o.cancelAtGateway(ctx, known, pending, resumed); err != nil {
			return o.settleRefund(ctx, cmd, idem, nil, err)
		}
	}
	order, err := o.converge(ctx, known)
	if err != nil {
		return nil, nil, err // the refund is pending: a retry or any later sync finishes it
	}
	return o.settleRefund(ctx, cmd, idem, order, nil)
}

// reserveRefund is step 1. It resumes a refund pending under the same key
// (resumed), and reports done for one already seen done (a retry after a
// crash).
func (o *Orders) reserveRefund(ctx context.Context, cmd RefundCommand, key string, known *domain.Order) (pending domain.PendingRefund, resumed, done bool, err error) {
	scope := Scope{Orders: []domain.PaymentID{cmd.Payment}, Wallets: []WalletRef{{Tenant: known.Tenant(), Account: known.Account()}}}
	err = o.uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		order, err := r.Orders.Get(ctx, cmd.Payment)
		if err != nil {
			return err
		}
		if p := order.PendingRefund(); p != nil && p.Key == key {
			pending, resumed = *p, true
			return nil
		}
		if order.LastRefundKey() == key {
			done = true
			return nil
		}
		now := o.clock.Now()
		w, err := r.Wallets.Lock(ctx, order.Tenant(), order.Account())
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("%w: order %s granted nothing", domain.ErrOrderNotRefundable, order.PaymentID())
		} else if err != nil {
			return err
		}
		settled, err := settle(ctx, r, w, o.ids, now)
		if err != nil {
			return err
		}
		hold, err := order.StartRefund(domain.RefundRequest{Key: key, Amount: cmd.Amount, Reason: cmd.Reason,
			Hold: domain.HoldID(o.ids.NewID())}, w, now)
		if err != nil {
			return err
		}
		pending = *order.PendingRefund()
		if err := settled.store(ctx, r, w, []*domain.Hold{hold}); err != nil {
			return err
		}
		return r.Orders.Save(ctx, order)
	})
	return pending, resumed, done, err
}

// cancelAtGateway is step 2. A refusal (the payment changed meanwhile, say)
// ends the refund: its reservation is released and the client told why.
// resumed says an earlier try of this refund may have reached the gateway.
func (o *Orders) cancelAtGateway(ctx context.Context, order *domain.Order, p domain.PendingRefund, resumed bool) error {
	gw, err := o.gateway(order)
	if err != nil {
		return err
	}
	amount := p.Amount
	_, err = gw.Cancel(ctx, CancelRequest{Payment: order.PaymentID(), Transaction: order.Transaction(), Amount: &amount,
		CancellableBefore: p.CancellableBefore, Reason: p.Reason, IdempotencyKey: "creditd-refund-" + p.Hold.String()})
	var refused *GatewayError
	if err == nil || !errors.As(err, &refused) || refused.Status >= 500 || refused.Type == GatewayErrOutstanding {
		return err // done, or unknown: the refund stays pending and a retry asks again
	}
	// A retry of a cancel whose answer was lost is refused when the gateway
	// keeps no idempotency key (V1): what was cancellable has changed. The
	// payment tells: if what is left dropped by exactly this refund's amount,
	// the earlier try happened, and step 3 takes its credits back.
	if resumed {
		if payment, err := gw.GetPayment(ctx, order.PaymentID()); err != nil {
			return err // unknown: the refund stays pending and a retry asks again
		} else if payment.Total-payment.Cancelled == p.CancellableBefore-p.Amount {
			return nil
		}
	}
	if abandonErr := o.abandonRefund(ctx, order, p.Key); abandonErr != nil {
		return abandonErr
	}
	return fmt.Errorf("%w: %s", domain.ErrRefundRefused, refused.Type)
}

// abandonRefund forgets a pending refund the gateway refused and releases
// its reservation.
func (o *Orders) abandonRefund(ctx context.Context, known *domain.Order, key string) error {
	scope := Scope{Orders: []domain.PaymentID{known.PaymentID()}, Wallets: []WalletRef{{Tenant: known.Tenant(), Account: known.Account()}}}
	return o.uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		order, err := r.Orders.Get(ctx, known.PaymentID())
		if err != nil {
			return err
		}
		if p := order.PendingRefund(); p == nil || p.Key != key {
			return nil
		}
		now := o.clock.Now()
		holdID, _ := order.AbandonRefund(now)
		w, err := r.Wallets.Lock(ctx, order.Tenant(), order.Account())
		if err != nil {
			return err
		}
		settled, err := settle(ctx, r, w, o.ids, now)
		if err != nil {
			return err
		}
		released, err := releaseRefundHold(ctx, r, w, order, holdID, now)
		if err != nil {
			return err
		}
		if err := settled.store(ctx, r, w, released); err != nil {
			return err
		}
		return r.Orders.Save(ctx, order)
	})
}

// settleRefund records the outcome under the idempotency key: the order
// once the refund is done, or the rejection; other errors are returned as is.
func (o *Orders) settleRefund(ctx context.Context, cmd RefundCommand, idem *Idempotency[*domain.Order], order *domain.Order, failure error) (*domain.Order, *Receipt, error) {
	if failure != nil && !domain.IsRejection(failure) {
		return nil, nil, failure
	}
	return runOnce(ctx, o.uow, o.queries, o.clock, cmd.Tenant, idem, Scope{}, func(context.Context, Repos) (*domain.Order, error) {
		return order, failure
	})
}
