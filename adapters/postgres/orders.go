package postgres

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Orders join units of work as batch.go's recipe says; their row, write
// declaration, unit repository and queries are kept together here.

type orderRow struct {
	bun.BaseModel `bun:"table:orders"`

	PaymentID          string              `bun:"payment_id,pk"`
	TenantID           uuid.UUID           `bun:"tenant_id,type:uuid"`
	AccountID          string              `bun:"account_id"`
	ProductID          string              `bun:"product_id"`
	OrderName          string              `bun:"order_name"`
	PriceAmount        int64               `bun:"price_amount"`
	Currency           string              `bun:"currency"`
	Credits            decimal.Decimal     `bun:"credits,type:numeric"`
	BonusCredits       decimal.Decimal     `bun:"bonus_credits,type:numeric"`
	CreditValidityDays *int                `bun:"credit_validity_days"`
	Gateway            string              `bun:"gateway"`
	CustomData         string              `bun:"custom_data"`
	Status             string              `bun:"status"`
	TransactionID      *string             `bun:"transaction_id"`
	VirtualAccount     *virtualAccountJSON `bun:"virtual_account,type:jsonb"`
	CancelledAmount    int64               `bun:"cancelled_amount"`
	Rejection          *string             `bun:"rejection"`
	PendingRefund      *pendingRefundJSON  `bun:"pending_refund,type:jsonb"`
	LastRefundKey      *string             `bun:"last_refund_key"`
	PaidAt             *time.Time          `bun:"paid_at"`
	CreatedAt          time.Time           `bun:"created_at"`
	UpdatedAt          time.Time           `bun:"updated_at"`
}

type pendingRefundJSON struct {
	Key               string    `json:"key"`
	Amount            int64     `json:"amount"`
	CancellableBefore int64     `json:"cancellableBefore"`
	Hold              uuid.UUID `json:"hold"`
	Reason            string    `json:"reason"`
	RequestedAt       time.Time `json:"requestedAt"`
}

type virtualAccountJSON struct {
	Bank          string     `json:"bank"`
	AccountNumber string     `json:"accountNumber"`
	Holder        string     `json:"holder"`
	DueAt         *time.Time `json:"dueAt,omitempty"`
}

var ordersTable = table[orderRow]{
	name: "orders",
	key:  []string{"payment_id"},
	columns: []column[orderRow]{
		fixed("payment_id", "text", func(r orderRow) string { return r.PaymentID }),
		fixed("tenant_id", "uuid", func(r orderRow) [16]byte { return r.TenantID }),
		fixed("account_id", "text", func(r orderRow) string { return r.AccountID }),
		fixed("product_id", "text", func(r orderRow) string { return r.ProductID }),
		fixed("order_name", "text", func(r orderRow) string { return r.OrderName }),
		fixed("price_amount", "int8", func(r orderRow) int64 { return r.PriceAmount }),
		fixed("currency", "text", func(r orderRow) string { return r.Currency }),
		fixed("credits", "numeric", func(r orderRow) string { return r.Credits.String() }),
		fixed("bonus_credits", "numeric", func(r orderRow) string { return r.BonusCredits.String() }),
		fixed("credit_validity_days", "int", func(r orderRow) *int { return r.CreditValidityDays }),
		fixed("gateway", "text", func(r orderRow) string { return r.Gateway }),
		fixed("custom_data", "text", func(r orderRow) string { return r.CustomData }),
		updated("status", "text", func(r orderRow) string { return r.Status }),
		updated("transaction_id", "text", func(r orderRow) *string { return r.TransactionID }),
		updated("virtual_account", "jsonb", func(r orderRow) *string { return optionalJSON(r.VirtualAccount) }),
		updated("cancelled_amount", "int8", func(r orderRow) int64 { return r.CancelledAmount }),
		updated("rejection", "text", func(r orderRow) *string { return r.Rejection }),
		updated("pending_refund", "jsonb", func(r orderRow) *string { return optionalJSON(r.PendingRefund) }),
		updated("last_refund_key", "text", func(r orderRow) *string { return r.LastRefundKey }),
		updated("paid_at", "timestamptz", func(r orderRow) *time.Time { return r.PaidAt }),
		fixed("created_at", "timestamptz", func(r orderRow) time.Time { return r.CreatedAt }),
		updated("updated_at", "timestamptz", func(r orderRow) time.Time { return r.UpdatedAt }),
	},
	// Concurrent batches never write one order (its id is in their scopes),
	// but new orders are inserted in one order anyway, like every table.
	order: func(a, b orderRow) int { return cmp.Compare(a.PaymentID, b.PaymentID) },
}

// optionalJSON is a nullable jsonb column's value.
func optionalJSON[T any](v *T) *string {
	if v == nil {
		return nil
	}
	s := jsonText(v)
	return &s
}

func toOrderRow(o *domain.Order) orderRow {
	spec := o.Spec()
	row := orderRow{PaymentID: o.PaymentID().String(), TenantID: uuid.UUID(o.Tenant()), AccountID: o.Account().String(),
		ProductID: o.Product().String(), OrderName: spec.Name, PriceAmount: spec.Price.Amount(), Currency: spec.Price.Currency().String(),
		Credits: spec.Credits.Decimal(), BonusCredits: spec.BonusCredits.Decimal(), CreditValidityDays: spec.CreditValidityDays,
		Gateway: string(o.Gateway()), CustomData: o.CustomData(), Status: o.Status().String(), CancelledAmount: o.Cancelled(),
		PaidAt: utcPtr(o.PaidAt()), CreatedAt: o.CreatedAt(), UpdatedAt: o.UpdatedAt()}
	if va := o.VirtualAccount(); va != nil {
		row.VirtualAccount = &virtualAccountJSON{Bank: va.Bank, AccountNumber: va.AccountNumber, Holder: va.Holder, DueAt: utcPtr(va.DueAt)}
	}
	if r := o.Rejection(); r != "" {
		s := string(r)
		row.Rejection = &s
	}
	if p := o.PendingRefund(); p != nil {
		row.PendingRefund = &pendingRefundJSON{Key: p.Key, Amount: p.Amount, CancellableBefore: p.CancellableBefore,
			Hold: uuid.UUID(p.Hold), Reason: p.Reason, RequestedAt: p.RequestedAt.UTC()}
	}
	if k := o.LastRefundKey(); k != "" {
		row.LastRefundKey = &k
	}
	if t := o.Transaction(); t != "" {
		row.TransactionID = &t
	}
	return row
}

func (r orderRow) toDomain() (*domain.Order, error) {
	id, err := domain.ParsePaymentID(r.PaymentID)
	if err != nil {
		return nil, err
	}
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return nil, err
	}
	product, err := domain.ParseProductID(r.ProductID)
	if err != nil {
		return nil, err
	}
	spec, err := specOf(r.OrderName, r.PriceAmount, r.Currency, r.Credits, r.BonusCredits, r.CreditValidityDays)
	if err != nil {
		return nil, fmt.Errorf("stored order %s: %w", r.PaymentID, err)
	}
	status, err := domain.OrderStatusFromString(r.Status)
	if err != nil {
		return nil, err
	}
	var va *domain.VirtualAccount
	if v := r.VirtualAccount; v != nil {
		va = &domain.VirtualAccount{Bank: v.Bank, AccountNumber: v.AccountNumber, Holder: v.Holder, DueAt: utcPtr(v.DueAt)}
	}
	var rejection domain.RejectionReason
	if r.Rejection != nil {
		rejection = domain.RejectionReason(*r.Rejection)
	}
	var refund *domain.PendingRefund
	if p := r.PendingRefund; p != nil {
		refund = &domain.PendingRefund{Key: p.Key, Amount: p.Amount, CancellableBefore: p.CancellableBefore,
			Hold: domain.HoldID(p.Hold), Reason: p.Reason, RequestedAt: p.RequestedAt.UTC()}
	}
	gateway, err := domain.ParseGateway(r.Gateway)
	if err != nil {
		return nil, fmt.Errorf("stored order %s: %w", r.PaymentID, err)
	}
	return domain.RehydrateOrder(domain.StoredOrder{Tenant: domain.TenantID(r.TenantID), Payment: id, Account: account, Product: product,
		Spec: spec, Gateway: gateway, CustomData: r.CustomData, Status: status, Transaction: deref(r.TransactionID), VirtualAccount: va,
		Cancelled: r.CancelledAmount, Rejection: rejection, Refund: refund, LastRefundKey: deref(r.LastRefundKey),
		PaidAt: utcPtr(r.PaidAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}), nil
}

// lockOrders locks orders in payment id order (after the batch's wallets:
// every locker takes wallets first, then orders).
func lockOrders(ctx context.Context, db bun.IDB, ids []string) ([]orderRow, error) {
	var rows []orderRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT o.* FROM (SELECT DISTINCT id FROM unnest($1::text[]) AS k(id) ORDER BY id) ids
		CROSS JOIN LATERAL (SELECT * FROM orders WHERE payment_id = ids.id FOR UPDATE) o`, ids)
	return rows, translate(err, "lock orders")
}

type unitOrders struct{ u *unit }

var _ application.OrderRepository = unitOrders{}

func (r unitOrders) lockable(id domain.PaymentID) error {
	if !r.u.orders[id.String()] {
		return fmt.Errorf("order %s: %w", id, application.ErrOutOfScope)
	}
	return nil
}

func (r unitOrders) Get(_ context.Context, id domain.PaymentID) (*domain.Order, error) {
	if err := r.lockable(id); err != nil {
		return nil, err
	}
	row, ok := r.u.orderRows.get(id.String())
	if !ok {
		return nil, fmt.Errorf("order %s: %w", id, domain.ErrNotFound)
	}
	return row.toDomain()
}

func (r unitOrders) Save(_ context.Context, o *domain.Order) error {
	if err := r.lockable(o.PaymentID()); err != nil {
		return err
	}
	r.u.orderRows.put(o.PaymentID().String(), toOrderRow(o))
	return nil
}

type orderQueries struct{ db bun.IDB }

func (q orderQueries) Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error) {
	var row orderRow
	if err := q.db.NewSelect().Model(&row).Where("payment_id = ?", id.String()).Scan(ctx); err != nil {
		return nil, translate(err, "read order")
	}
	return row.toDomain()
}

func (q orderQueries) List(ctx context.Context, f application.OrderFilter, limit int) ([]*domain.Order, error) {
	var rows []orderRow
	sel := q.db.NewSelect().Model(&rows).Where("tenant_id = ?", uuid.UUID(f.Tenant)).
		OrderExpr("updated_at, payment_id").Limit(int64(limit))
	if f.Account != nil {
		sel.Where("account_id = ?", f.Account.String())
	}
	if f.Status != nil {
		sel.Where("status = ?", f.Status.String())
	}
	if f.UpdatedSince != nil {
		sel.Where("updated_at >= ?", *f.UpdatedSince)
	}
	if f.After != nil {
		sel.Where("(updated_at, payment_id) > (?, ?)", f.After.UpdatedAt, f.After.Payment.String())
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, translate(err, "list orders")
	}
	out := make([]*domain.Order, len(rows))
	for i, r := range rows {
		o, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}
