package application

import (
	"context"
	"errors"
	"time"

	"github.com/creditd/creditd/domain"
)

// Clock tells the time; use cases never call time.Now.
type Clock interface{ Now() time.Time }

// IDGenerator makes new identifiers. They must be time-ordered (UUIDv7) so
// history sorts by id.
type IDGenerator interface{ NewID() [16]byte }

// The ports come in two kinds, so that using one where the other belongs
// does not compile:
//   - Repos: the repositories one unit of work sees. Their reads and writes
//     happen inside its transaction, under the locks its Scope declared.
//   - Queries: reads of committed state outside any unit of work, each of one
//     consistent snapshot. They never lock and never write.

// Repos are the repositories one unit of work sees.
type Repos struct {
	Wallets     WalletRepository
	Ledger      LedgerRepository
	Holds       HoldRepository
	Idempotency IdempotencyRepository
	Orders      OrderRepository
	Reversals   ReversalRepository
	Events      EventRepository
}

// WalletRepository stores wallets with their open lots.
type WalletRepository interface {
	// Lock loads the account's wallet and locks it until the unit of work
	// ends; every change to a wallet, its lots or its holds happens under this
	// lock. domain.ErrNotFound when the account has no wallet.
	Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error)
	// LockOrCreate is Lock, storing fresh first when the account has no wallet yet.
	LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error)
	// Save stores the balance caches and the lots the wallet reports as changed.
	Save(ctx context.Context, w *domain.Wallet) error
}

// LedgerRepository stores the append-only transactions.
type LedgerRepository interface {
	Append(ctx context.Context, txs ...domain.Transaction) error
}

// HoldRepository stores holds with what they reserve.
type HoldRepository interface {
	// Get reads a hold; domain.ErrNotFound when the tenant has no such hold.
	Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error)
	// Save inserts or updates the hold and its allocations.
	Save(ctx context.Context, h *domain.Hold) error
	// ListOpen reads every open hold of a wallet the unit of work has locked, in id order.
	ListOpen(ctx context.Context, wallet domain.WalletID) ([]*domain.Hold, error)
	// Captures reads the captures (CAPTURE transactions) of a hold whose
	// wallet the unit of work has locked, those it appended included, oldest first.
	Captures(ctx context.Context, hold domain.HoldID) ([]domain.HoldCapture, error)
}

// OrderRepository stores purchase orders. An order is read, and changed,
// only when the unit of work's Scope names it.
type OrderRepository interface {
	// Get reads an order, locked until the unit of work ends; domain.ErrNotFound when there is none.
	Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error)
	// Save inserts or updates the order.
	Save(ctx context.Context, o *domain.Order) error
}

// IdempotencyRepository claims idempotency keys and stores their receipts.
type IdempotencyRepository interface {
	// Claim stores a record for a key not seen before, or fails with
	// ErrIdempotencyKeyTaken. Of two units of work claiming one key at the same
	// time, one commits and the other's WithinTx fails with
	// ErrIdempotencyKeyTaken only after that commit, so the loser can read the
	// winner's record at once.
	Claim(ctx context.Context, r IdempotencyRecord) error
	// Complete stores the receipt of a key claimed in the same unit of work;
	// for a key not claimed there, it fails (a programming error).
	Complete(ctx context.Context, tenant domain.TenantID, key string, receipt Receipt) error
}

// ErrIdempotencyKeyTaken is returned by IdempotencyRepository.Claim when the key is taken already.
var ErrIdempotencyKeyTaken = errors.New("idempotency key already recorded")

// Queries read committed state outside any unit of work. Like WithinTx, a
// query returns soon after its ctx ends.
type Queries struct {
	Wallets     WalletQueries
	Ledger      LedgerQueries
	Holds       HoldQueries
	Idempotency IdempotencyQueries
	Orders      OrderQueries
	Reports     ReportQueries
	Lookups     LookupQueries
}

// WalletQueries read wallets.
type WalletQueries interface {
	// Get reads the wallet and its open lots from one snapshot.
	// domain.ErrNotFound when the account has no wallet.
	Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error)
	// GetWithOpenHolds reads the wallet, its open lots and its open holds (in
	// id order) from one snapshot, so every hold reserves lots the wallet holds.
	GetWithOpenHolds(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, []*domain.Hold, error)
	// DueForExpiry lists up to limit wallets holding lots expired at now with
	// credits to expire, the longest overdue first.
	DueForExpiry(ctx context.Context, now time.Time, limit int) ([]DueWallet, error)
}

// WalletRef names a wallet for background work.
type WalletRef struct {
	Tenant  domain.TenantID
	Account domain.AccountID
}

// DueWallet is a wallet with credits to expire since DueAt.
type DueWallet struct {
	WalletRef
	DueAt time.Time // the earliest expiry among its lots with credits to expire
}

// LedgerQueries read the ledger.
type LedgerQueries interface {
	// Get reads one of the tenant's transactions (a reversal knows what it
	// reverses); domain.ErrNotFound when the tenant has none with this id.
	Get(ctx context.Context, tenant domain.TenantID, id domain.TransactionID) (domain.Transaction, error)
	// Reversals says, of each transaction named, what it reverses and what
	// reversed it; transactions without either are left out.
	Reversals(ctx context.Context, ids []domain.TransactionID) (map[domain.TransactionID]ReversalInfo, error)
}

// HoldQueries read holds.
type HoldQueries interface {
	// Get reads a hold; domain.ErrNotFound when the tenant has no such hold.
	Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error)
	// GetWithCaptures reads a hold and its captures, oldest first, from one
	// snapshot; domain.ErrNotFound when the tenant has no such hold.
	GetWithCaptures(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, []domain.HoldCapture, error)
	// Due lists up to limit open holds whose expiry is at or before now, the
	// longest overdue first.
	Due(ctx context.Context, now time.Time, limit int) ([]HoldRef, error)
}

// HoldRef names a hold for background work.
type HoldRef struct {
	Tenant    domain.TenantID
	Account   domain.AccountID // the hold's wallet, so a sweep need not read the hold to lock it
	Hold      domain.HoldID
	ExpiresAt time.Time
}

// OrderQueries read orders.
type OrderQueries interface {
	// Get reads an order by its payment id, whatever its tenant (a webhook
	// names only the payment); domain.ErrNotFound when there is none.
	Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error)
	// List returns up to limit of the tenant's orders matching the filter,
	// by (updatedAt, paymentId) ascending, strictly after the filter's cursor.
	List(ctx context.Context, f OrderFilter, limit int) ([]*domain.Order, error)
}

// OrderFilter selects a tenant's orders.
type OrderFilter struct {
	Tenant       domain.TenantID
	Account      *domain.AccountID
	Status       *domain.OrderStatus
	UpdatedSince *time.Time // updated at or after
	After        *OrderCursor
}

// OrderCursor is the position after an order in a listing.
type OrderCursor struct {
	UpdatedAt time.Time
	Payment   domain.PaymentID
}

// IdempotencyQueries read stored outcomes.
type IdempotencyQueries interface {
	// Get reads a record; domain.ErrNotFound when there is none.
	Get(ctx context.Context, tenant domain.TenantID, key string) (IdempotencyRecord, error)
}

// IdempotencyCleaner forgets old idempotency records, outside any unit of work.
type IdempotencyCleaner interface {
	// DeleteBefore forgets records created before cutoff and says how many.
	DeleteBefore(ctx context.Context, cutoff time.Time) (int, error)
}

// UnitOfWork runs fn as one transaction: all of fn's writes commit together
// or not at all, and WithinTx returns once they are durable.
//
// scope declares up front what fn will lock and claim. Implementations may
// run fn again after a serialization failure or deadlock, and may run several
// concurrent calls in one database transaction (group commit) in which each
// fn still commits or rolls back on its own; so fn must not have effects
// outside Repos, and should not wait on anything, as others in its
// transaction wait for it.
//
// WithinTx returns soon after ctx ends, whatever the database does: with
// ErrUnavailable when ctx's deadline passed (fn may still commit: the
// outcome is unknown, and a retry must carry the same idempotency key), or
// with ctx's error when it was cancelled.
type UnitOfWork interface {
	WithinTx(ctx context.Context, scope Scope, fn func(ctx context.Context, r Repos) error) error
}

// Scope is what a unit of work will lock and claim, declared before it
// starts: wallets named by account or by one of their holds, idempotency
// keys, and orders (locked after wallets, in payment id order). Knowing it, an implementation can lock every wallet up front in one
// global order, so units of work never deadlock one another, and can read
// everything they need for many of them at once. Locking a wallet or claiming
// a key outside the scope fails with ErrOutOfScope: a programming error.
type Scope struct {
	Wallets []WalletRef
	Holds   []HoldKey
	Keys    []IdempotencyKey
	Orders  []domain.PaymentID
}

// WalletScope is the scope of work on one account's wallet.
func WalletScope(tenant domain.TenantID, account domain.AccountID) Scope {
	return Scope{Wallets: []WalletRef{{Tenant: tenant, Account: account}}}
}

// HoldScope is the scope of work on a hold and its wallet.
func HoldScope(tenant domain.TenantID, hold domain.HoldID) Scope {
	return Scope{Holds: []HoldKey{{Tenant: tenant, Hold: hold}}}
}

// HoldKey names a tenant's hold.
type HoldKey struct {
	Tenant domain.TenantID
	Hold   domain.HoldID
}

// IdempotencyKey names a tenant's idempotency key.
type IdempotencyKey struct {
	Tenant domain.TenantID
	Key    string
}

// ErrUnavailable means a dependency (the database) could not be reached or
// did not answer in time: nothing is known to have changed, and the same
// request, sent again with the same Idempotency-Key, may succeed later.
var ErrUnavailable = errors.New("a dependency is unavailable")

// ErrOutOfScope means a unit of work locked a wallet or claimed a key that
// its Scope does not name.
var ErrOutOfScope = errors.New("outside the unit of work's declared scope")

// Auditor recomputes every cached balance from the postings.
type Auditor interface {
	Audit(ctx context.Context) (AuditReport, error)
}

// AuditReport is what an audit found.
type AuditReport struct {
	Wallets      int      // wallets checked
	Transactions int      // transactions checked
	Drifts       []string // one line per disagreement; empty when the ledger is sound
}

// APIKeyStore stores tenants and their hashed API keys.
type APIKeyStore interface {
	// EnsureTenant returns the tenant with this name, creating it with id fresh if absent.
	EnsureTenant(ctx context.Context, name domain.TenantName, fresh domain.TenantID) (domain.TenantID, error)
	Create(ctx context.Context, k StoredAPIKey) error
	// FindActive returns the unrevoked key with this hash; domain.ErrNotFound otherwise.
	FindActive(ctx context.Context, hash []byte) (StoredAPIKey, error)
	// Revoke marks the key revoked at now; domain.ErrNotFound when there is no such active key.
	Revoke(ctx context.Context, id domain.APIKeyID, now time.Time) error
	// List returns the keys of the named tenant, or of every tenant when
	// tenant is zero, revoked ones included, newest first (ties: higher id
	// first). An unknown tenant has no keys.
	List(ctx context.Context, tenant domain.TenantName) ([]APIKeyInfo, error)
}

// APIKeyInfo describes a key for operators: never its secret or hash.
type APIKeyInfo struct {
	ID         domain.APIKeyID
	Tenant     domain.TenantID
	TenantName domain.TenantName
	Scopes     []domain.Scope
	CreatedAt  time.Time
	// RevokedAt is zero while the key works.
	RevokedAt time.Time
}

// StoredAPIKey is an API key as kept: its secret only as a hash.
type StoredAPIKey struct {
	ID     domain.APIKeyID
	Tenant domain.TenantID
	// TenantName is filled in by reads; Create ignores it.
	TenantName domain.TenantName
	Hash       []byte
	Scopes     []domain.Scope
	CreatedAt  time.Time
}
