package domain

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// OrderStatus is where a purchase order stands. Statuses are ranked, and an
// order only ever moves to a higher rank: an old or repeated event can never
// move it back. FAILED ranks below PAID because a buyer may pay after a
// failed attempt (PortOne keeps one paymentId across attempts), and REJECTED
// is final.
type OrderStatus struct {
	slug string
	rank int
}

var (
	OrderPending           = OrderStatus{"PENDING", 0}
	OrderAwaitingDeposit   = OrderStatus{"AWAITING_DEPOSIT", 1}
	OrderFailed            = OrderStatus{"FAILED", 2}
	OrderPaid              = OrderStatus{"PAID", 3}
	OrderPartiallyRefunded = OrderStatus{"PARTIALLY_REFUNDED", 4}
	OrderRefunded          = OrderStatus{"REFUNDED", 5}
	OrderRejected          = OrderStatus{"REJECTED", 6}
)

// OrderStatuses lists every status, in rank order.
var OrderStatuses = []OrderStatus{OrderPending, OrderAwaitingDeposit, OrderFailed, OrderPaid,
	OrderPartiallyRefunded, OrderRefunded, OrderRejected}

// OrderStatusFromString parses a status name.
func OrderStatusFromString(s string) (OrderStatus, error) {
	for _, st := range OrderStatuses {
		if st.slug == s {
			return st, nil
		}
	}
	return OrderStatus{}, fmt.Errorf("%w: unknown order status %q", ErrInvalidInput, s)
}

func (s OrderStatus) String() string { return s.slug }

// IsPaid reports whether the order's credits were granted (whatever was refunded since).
func (s OrderStatus) IsPaid() bool { return s.rank >= OrderPaid.rank && s != OrderRejected }

// Rejection reasons: what about a payment did not match its order. A closed
// set, so metrics can count them.
type RejectionReason string

const (
	RejectedStore      RejectionReason = "store"
	RejectedAmount     RejectionReason = "amount"
	RejectedCurrency   RejectionReason = "currency"
	RejectedOrderName  RejectionReason = "order_name"
	RejectedCustomData RejectionReason = "custom_data"
	// RejectedPaymentID: the payment is another order's (V1's merchant_uid).
	RejectedPaymentID RejectionReason = "payment_id"
)

// RejectionReasons lists every reason.
var RejectionReasons = []RejectionReason{RejectedStore, RejectedAmount, RejectedCurrency, RejectedOrderName, RejectedCustomData, RejectedPaymentID}

// Order is one purchase of a credit pack, named by its payment id. It keeps
// the pack as it was sold, so later catalog changes never change what a
// payment buys.
type Order struct {
	tenant         TenantID
	payment        PaymentID
	account        AccountID
	product        ProductID
	spec           ProductSpec
	gateway        Gateway
	customData     string
	status         OrderStatus
	transaction    string // the gateway's id of the attempt that paid (V2 transactionId, V1 imp_uid)
	virtualAccount *VirtualAccount
	cancelled      int64 // money the ledger has taken credits back for, in minor units
	rejection      RejectionReason
	refund         *PendingRefund
	lastRefundKey  string
	paidAt         *time.Time
	createdAt      time.Time
	updatedAt      time.Time
}

// NewOrder starts a PENDING order for an active product, paid through gateway.
func NewOrder(tenant TenantID, id PaymentID, account AccountID, p *Product, gateway Gateway, now time.Time) (*Order, error) {
	if !p.Active() {
		return nil, fmt.Errorf("%w: product %s is archived", ErrProductUnavailable, p.ID())
	}
	// A payment id needs no escaping (see ParsePaymentID).
	custom := `{"` + customDataOrderKey + `":"` + id.String() + `"}`
	if _, err := ParseGateway(string(gateway)); err != nil {
		return nil, err
	}
	if gateway == GatewayPortOneV1 && p.Spec().Price.Currency().MinorDigits() != 0 {
		// V1 takes amounts in major units; creditd sells through it in whole ones only.
		return nil, fmt.Errorf("%w: product %s is priced in %s, which creditd sells through PortOne V1 only in whole units (KRW, JPY)",
			ErrProductUnavailable, p.ID(), p.Spec().Price.Currency())
	}
	return &Order{tenant: tenant, payment: id, account: account, product: p.ID(), spec: p.Spec(), gateway: gateway,
		customData: custom, status: OrderPending, createdAt: now, updatedAt: now}, nil
}

// customDataOrderKey names the order in the custom data creditd asks the
// browser to attach to a payment, so a payment says which order it pays for.
const customDataOrderKey = "creditdOrder"

// namesOrder reports whether a payment's custom data names the order: a JSON
// object with the order's key, or a JSON string holding one (when a page
// passed the custom data on as a string).
func namesOrder(customData string, id PaymentID) bool {
	var v any
	if json.Unmarshal([]byte(customData), &v) != nil {
		return false
	}
	if s, ok := v.(string); ok && json.Unmarshal([]byte(s), &v) != nil {
		return false
	}
	obj, ok := v.(map[string]any)
	return ok && obj[customDataOrderKey] == id.String()
}

// StoredOrder is an order as an adapter stored it.
type StoredOrder struct {
	Tenant         TenantID
	Payment        PaymentID
	Account        AccountID
	Product        ProductID
	Spec           ProductSpec
	Gateway        Gateway
	CustomData     string
	Status         OrderStatus
	Transaction    string
	VirtualAccount *VirtualAccount
	Cancelled      int64
	Rejection      RejectionReason
	Refund         *PendingRefund
	LastRefundKey  string
	PaidAt         *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RehydrateOrder rebuilds a stored order; adapters only.
func RehydrateOrder(s StoredOrder) *Order {
	return &Order{tenant: s.Tenant, payment: s.Payment, account: s.Account, product: s.Product, spec: s.Spec, gateway: s.Gateway,
		customData: s.CustomData, status: s.Status, transaction: s.Transaction, virtualAccount: s.VirtualAccount, cancelled: s.Cancelled,
		rejection: s.Rejection, refund: s.Refund, lastRefundKey: s.LastRefundKey, paidAt: s.PaidAt, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt}
}

func (o *Order) Tenant() TenantID                { return o.tenant }
func (o *Order) PaymentID() PaymentID            { return o.payment }
func (o *Order) Account() AccountID              { return o.account }
func (o *Order) Product() ProductID              { return o.product }
func (o *Order) Spec() ProductSpec               { return o.spec }
func (o *Order) Gateway() Gateway                { return o.gateway }
func (o *Order) Transaction() string             { return o.transaction }
func (o *Order) OrderName() string               { return o.spec.Name }
func (o *Order) Price() Money                    { return o.spec.Price }
func (o *Order) CustomData() string              { return o.customData }
func (o *Order) Status() OrderStatus             { return o.status }
func (o *Order) VirtualAccount() *VirtualAccount { return o.virtualAccount }
func (o *Order) Cancelled() int64                { return o.cancelled }
func (o *Order) Rejection() RejectionReason      { return o.rejection }
func (o *Order) PaidAt() *time.Time              { return o.paidAt }
func (o *Order) CreatedAt() time.Time            { return o.createdAt }
func (o *Order) UpdatedAt() time.Time            { return o.updatedAt }

// Funding is what the order's lots carry, so its credits can be found again.
func (o *Order) Funding() Funding { return Funding{kind: FundedByOrder, reference: o.payment.String()} }

// Convergence is what one look at the payment changed about an order.
type Convergence struct {
	Changed bool
	// Grant: the order has just been paid; grant its credits in the same
	// transaction as the order's change.
	Grant bool
	// Rejected: the payment has just been found not to match the order.
	Rejected bool
	// Clawback is the credits newly cancelled payments take back; zero when none.
	Clawback Credits
	// CancelAtGateway: a rejected order's payment still holds money there.
	CancelAtGateway bool
	// ReleaseHold is the reservation of a refund that has ended: release it
	// before the clawback, which then takes what it reserved.
	ReleaseHold *HoldID
}

// Converge moves the order as far as the payment, read from the gateway
// just now, allows, never backwards. A payment that has been paid (even if
// cancelled since) is checked against the order first: store, amount,
// currency, order name, and the custom data that names the order; a mismatch
// rejects the order and grants nothing.
func (o *Order) Converge(p Payment, store string, now time.Time) Convergence {
	var c Convergence
	if o.status == OrderRejected {
		c.CancelAtGateway = p.Status == PaymentPaid || p.Status == PaymentPartialCancelled
		return c
	}
	switch p.Status {
	case PaymentVirtualAccountIssued:
		if o.advance(OrderAwaitingDeposit, now) {
			o.virtualAccount = p.VirtualAccount
			c.Changed = true
		}
	case PaymentFailed:
		c.Changed = o.advance(OrderFailed, now)
	case PaymentPaid, PaymentPartialCancelled, PaymentCancelled:
		if !o.status.IsPaid() {
			if reason, ok := o.mismatch(p, store); !ok {
				o.rejection = reason
				o.advance(OrderRejected, now)
				return Convergence{Changed: true, Rejected: true, CancelAtGateway: p.Status != PaymentCancelled}
			}
			at := now
			if p.PaidAt != nil {
				at = *p.PaidAt
			}
			o.paidAt = &at
			o.transaction = p.TransactionID
			o.virtualAccount = nil
			o.advance(OrderPaid, now)
			c.Changed, c.Grant = true, true
		}
		if p.Cancelled > o.cancelled {
			if o.refund != nil { // done, whoever's cancellation this is: ours then fails its check
				c.ReleaseHold = &o.refund.Hold
				o.lastRefundKey, o.refund = o.refund.Key, nil
			}
			c.Clawback = o.creditsFor(min(p.Cancelled, o.spec.Price.amount)).Sub(o.creditsFor(o.cancelled))
			o.cancelled = min(p.Cancelled, o.spec.Price.amount)
			next := OrderPartiallyRefunded
			if o.cancelled >= o.spec.Price.amount {
				next = OrderRefunded
			}
			o.advance(next, now)
			o.updatedAt = now
			c.Changed = true
		}
	}
	if o.refund != nil && !now.Before(o.refund.RequestedAt.Add(RefundHoldDuration)) {
		// The reservation has lapsed (it expires by itself): the refund is
		// forgotten, and a cancellation seen later is taken back all the same.
		o.refund, o.updatedAt, c.Changed = nil, now, true
	}
	return c
}

// advance moves the order to a higher-ranked status; false when it would not be higher.
func (o *Order) advance(to OrderStatus, now time.Time) bool {
	if to.rank <= o.status.rank {
		return false
	}
	o.status, o.updatedAt = to, now
	return true
}

// mismatch compares a paid payment with the order. A V1 payment is found
// by the order's merchant_uid, which creditd made for the order alone, so it
// needs no custom data to say which order it pays for (and V1 merchants'
// pages seldom send any).
func (o *Order) mismatch(p Payment, store string) (RejectionReason, bool) {
	switch {
	case p.ID != o.payment:
		return RejectedPaymentID, false
	case p.StoreID != store:
		return RejectedStore, false
	case p.Total != o.spec.Price.amount:
		return RejectedAmount, false
	case p.Currency != o.spec.Price.currency.code:
		return RejectedCurrency, false
	case p.OrderName != o.spec.Name:
		return RejectedOrderName, false
	case o.gateway != GatewayPortOneV1 && !namesOrder(p.CustomData, o.payment):
		return RejectedCustomData, false
	}
	return "", true
}

// Credits is what the order grants: the pack's credits and its bonus.
func (o *Order) Credits() Credits { return o.spec.Credits.Add(o.spec.BonusCredits) }

// creditsFor is the share of the order's credits that money pays for, pro
// rata, rounded down to the ledger's scale; for the whole price it is
// exactly the order's credits. Refunds compute it from cumulative amounts,
// so rounding never accumulates.
func (o *Order) creditsFor(money int64) Credits {
	// QuoRem truncates exactly (Div would round at 16 places first), as
	// PostgreSQL's trunc does in creditd verify.
	share, _ := o.Credits().d.Mul(decimal.NewFromInt(money)).QuoRem(decimal.NewFromInt(o.spec.Price.amount), CreditScale)
	return Credits{d: share}
}

// CreditsTakenBack is what the cancellations recorded so far take back in
// all: the share of the order's credits the cancelled money paid for
// (creditsFor). The CLAWBACK transactions of a sound ledger add up to it,
// which is how verify checks them.
func (o *Order) CreditsTakenBack() Credits { return o.creditsFor(o.cancelled) }

// ClawbackMemo says why a cancellation took credits back.
func (o *Order) ClawbackMemo() Memo {
	return Memo{Reason: "payment cancelled " + o.payment.String(), Metadata: Metadata{"paymentId": o.payment.String()}}
}

// Grants are the lots a paid order creates: the pack's credits, and its
// bonus if it has one, funded by the order and expiring after the pack's
// validity if it has one.
func (o *Order) Grants(now time.Time, ids func() [16]byte) []Grant {
	var expires *time.Time
	if d := o.spec.CreditValidityDays; d != nil {
		at := now.AddDate(0, 0, *d)
		expires = &at
	}
	memo := Memo{Reason: "purchase " + o.payment.String(), Metadata: Metadata{"paymentId": o.payment.String(), "productId": o.product.String()}}
	grants := []Grant{{Transaction: TransactionID(ids()), Lot: LotID(ids()), Amount: o.spec.Credits, Source: LotPaid,
		Priority: DefaultLotPriority, ExpiresAt: expires, Memo: memo, Funding: o.Funding()}}
	if o.spec.BonusCredits.IsPositive() {
		grants = append(grants, Grant{Transaction: TransactionID(ids()), Lot: LotID(ids()), Amount: o.spec.BonusCredits,
			Source: LotBonus, Priority: DefaultLotPriority, ExpiresAt: expires, Memo: memo, Funding: o.Funding()})
	}
	return grants
}
