package application

import (
	"context"
	"time"

	"github.com/creditd/creditd/domain"
)

// Event is something that happened to one of a tenant's accounts, told to
// the tenant's webhook endpoints. It is written to the outbox by the unit of
// work that made the change, so it exists if and only if the change
// committed; delivery happens afterwards, outside any unit of work.
type Event struct {
	ID         [16]byte // a UUIDv7: what receivers deduplicate on (webhook-id)
	Type       domain.EventType
	Tenant     domain.TenantID
	Account    domain.AccountID
	OccurredAt time.Time
	// Data is the event's payload as receivers get it: one of the *Data
	// types below, which marshal to JSON. It carries ids and the new state;
	// the API has the rest.
	Data any
}

// EventRepository is the outbox a unit of work writes its events to.
type EventRepository interface {
	Append(ctx context.Context, events ...Event) error
}

// The payloads. They are a contract with receivers (documented in the
// OpenAPI file), so their JSON names are fixed here, once, for every adapter.
// Amounts are decimal strings and times RFC 3339, as in the API.

// TransactionData is the payload of transaction.created.
type TransactionData struct {
	TransactionID string    `json:"transactionId"`
	AccountID     string    `json:"accountId"`
	Type          string    `json:"type"`
	Amount        string    `json:"amount"`
	BalanceAfter  string    `json:"balanceAfter"`
	HoldID        *string   `json:"holdId,omitempty"`
	ReversalOf    *string   `json:"reversalOf,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
}

// BalanceData is the payload of balance.low and balance.depleted: the
// account's balances after the change that crossed the threshold.
type BalanceData struct {
	AccountID string `json:"accountId"`
	Balance   string `json:"balance"`
	Held      string `json:"held"`
	Available string `json:"available"`
	// Threshold is what available fell below (balance.low only).
	Threshold string `json:"threshold,omitempty"`
	// TransactionID is the change that crossed it, when it was a transaction.
	TransactionID *string `json:"transactionId,omitempty"`
}

// HoldData is the payload of hold.expired.
type HoldData struct {
	HoldID    string    `json:"holdId"`
	AccountID string    `json:"accountId"`
	Status    string    `json:"status"`
	Amount    string    `json:"amount"`
	Captured  string    `json:"captured"`
	Released  string    `json:"released"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// OrderData is the payload of the order.* events.
type OrderData struct {
	PaymentID      string              `json:"paymentId"`
	AccountID      string              `json:"accountId"`
	ProductID      string              `json:"productId"`
	Status         string              `json:"status"`
	Gateway        string              `json:"gateway"` // v2 or v1: the PortOne API the order is paid through
	TotalAmount    int64               `json:"totalAmount"`
	Currency       string              `json:"currency"`
	Credits        string              `json:"credits"` // paid and bonus credits the order grants
	RefundedAmount int64               `json:"refundedAmount"`
	VirtualAccount *VirtualAccountData `json:"virtualAccount,omitempty"`
	Rejection      string              `json:"rejection,omitempty"`
}

// VirtualAccountData is where the buyer of an order awaiting deposit pays.
type VirtualAccountData struct {
	Bank          string     `json:"bank"`
	AccountNumber string     `json:"accountNumber"`
	Holder        string     `json:"holder"`
	DueAt         *time.Time `json:"dueAt,omitempty"`
}

// LotsData is the payload of lots.expiring: an account's lots that will
// expire soon, each told about once.
type LotsData struct {
	AccountID string        `json:"accountId"`
	Lots      []ExpiringLot `json:"lots"`
}

// ExpiringLot is one lot of a lots.expiring event.
type ExpiringLot struct {
	LotID     string    `json:"lotId"`
	Source    string    `json:"source"` // paid or bonus
	Remaining string    `json:"remaining"`
	ExpiresAt time.Time `json:"expiresAt"`
}
