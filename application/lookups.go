package application

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/creditd/creditd/domain"
)

// LookupQueries answer a tenant's lookups. Every listing is ordered by a key
// that never changes for a row (an account id, a time-ordered id, a lot's
// expiry and id), so a client paging with "strictly after the last key"
// sees every row that existed when it started exactly once, whatever is
// written meanwhile. Each call reads one snapshot.
type LookupQueries interface {
	// Wallets lists up to limit of the tenant's wallets in account id order
	// (bytewise), strictly after after when it is set, each with its open
	// lots and open holds.
	Wallets(ctx context.Context, tenant domain.TenantID, after *domain.AccountID, limit int) ([]WalletWithHolds, error)
	// History lists up to limit transactions of a wallet matching f, newest
	// (highest id) first.
	History(ctx context.Context, f HistoryFilter, limit int) ([]domain.Transaction, error)
	// Holds lists up to limit holds of a wallet matching f, newest (highest id) first.
	// Holds reads the holds with their captures in one snapshot, so each
	// hold's captured amount and its captures agree.
	Holds(ctx context.Context, f HoldFilter, limit int) ([]HoldView, error)
	// Lots lists up to limit of the tenant's lots with credits left that
	// expire after f.Now and before f.Before, by (expiry, lot id).
	Lots(ctx context.Context, f LotFilter, limit int) ([]LotOfAccount, error)
}

// WalletWithHolds is a wallet with its open lots and open holds, read together.
type WalletWithHolds struct {
	Wallet *domain.Wallet
	Open   []*domain.Hold
}

// HistoryFilter selects a wallet's transactions.
type HistoryFilter struct {
	Wallet domain.WalletID
	Types  []domain.TransactionType // empty: every type
	From   *time.Time               // created at or after
	To     *time.Time               // created before
	Before *domain.TransactionID    // strictly older than this one
}

// HoldFilter selects a wallet's holds by their status as of Now: an open
// hold past its expiry is EXPIRED, as GET /v1/holds/{id} shows it.
type HoldFilter struct {
	Wallet   domain.WalletID
	Statuses []domain.HoldStatus // empty: every status
	Now      time.Time
	Before   *domain.HoldID // strictly older than this one
}

// LotFilter selects a tenant's lots that still have credits to expire.
type LotFilter struct {
	Tenant domain.TenantID
	Now    time.Time // lots expiring at or before Now have expired already and are left out
	Before time.Time // expiring strictly before
	After  *LotCursor
}

// LotCursor is the position after a lot in a listing by expiry.
type LotCursor struct {
	ExpiresAt time.Time
	Lot       domain.LotID
}

// LotOfAccount is a lot with the account whose wallet holds it.
type LotOfAccount struct {
	Account domain.AccountID
	Lot     *domain.Lot
}

// checkLimit refuses a page size outside 1..MaxPageSize.
func checkLimit(limit int) error {
	if limit < 1 || limit > MaxPageSize {
		return fmt.Errorf("%w: limit must be between 1 and %d", domain.ErrInvalidInput, MaxPageSize)
	}
	return nil
}

// viewAt is a wallet as a change made at now would see it: expired lots and
// due holds are settled on w (a copy that is never stored).
func viewAt(w *domain.Wallet, open []*domain.Hold, ids IDGenerator, now time.Time) (AccountView, error) {
	if _, err := settleWith(w, open, ids, now); err != nil {
		return AccountView{}, err
	}
	w.ForgetChanges()
	return AccountView{Account: w.AccountID(), Balance: w.Balance(), Held: w.Held(), Available: w.Available(), Debt: w.Debt(), Lots: w.Lots(),
		LowBalanceThreshold: w.LowBalanceThreshold()}, nil
}

// AccountsPage is one page of a tenant's accounts, in account id order.
type AccountsPage struct {
	Items []AccountView
	// Next is the position of the following page; nil on the last page.
	Next *domain.AccountID
}

// ListAccounts pages through the tenant's accounts with their balances as
// of now, as GetAccount reports each.
func (c *Accounts) ListAccounts(ctx context.Context, tenant domain.TenantID, after *domain.AccountID, limit int) (AccountsPage, error) {
	if err := checkLimit(limit); err != nil {
		return AccountsPage{}, err
	}
	now := c.clock.Now()
	ws, err := c.queries.Lookups.Wallets(ctx, tenant, after, limit+1)
	if err != nil {
		return AccountsPage{}, err
	}
	var page AccountsPage
	if len(ws) > limit {
		ws = ws[:limit]
		next := ws[limit-1].Wallet.AccountID()
		page.Next = &next
	}
	page.Items = make([]AccountView, 0, len(ws))
	for _, w := range ws {
		v, err := viewAt(w.Wallet, w.Open, c.ids, now)
		if err != nil {
			return AccountsPage{}, err
		}
		page.Items = append(page.Items, v)
	}
	return page, nil
}

// HistoryQuery selects a page of an account's history.
type HistoryQuery struct {
	Tenant  domain.TenantID
	Account domain.AccountID
	Types   []domain.TransactionType
	From    *time.Time // created at or after
	To      *time.Time // created before
	Before  *domain.TransactionID
	Limit   int
}

// ListHistory pages through an account's transactions matching q, newest first.
func (c *Accounts) ListHistory(ctx context.Context, q HistoryQuery) (HistoryPage, error) {
	if err := checkLimit(q.Limit); err != nil {
		return HistoryPage{}, err
	}
	if q.From != nil && q.To != nil && !q.From.Before(*q.To) {
		return HistoryPage{}, fmt.Errorf("%w: from must be before to", domain.ErrInvalidInput)
	}
	w, err := c.queries.Wallets.Get(ctx, q.Tenant, q.Account)
	if err != nil {
		return HistoryPage{}, err
	}
	items, err := c.queries.Lookups.History(ctx, HistoryFilter{Wallet: w.ID(), Types: q.Types, From: q.From, To: q.To, Before: q.Before}, q.Limit+1)
	if err != nil {
		return HistoryPage{}, err
	}
	page := HistoryPage{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		next := items[q.Limit-1].ID()
		page.Next = &next
	}
	// What was reversed is read beside the transactions, never stored on
	// them: transactions are append-only.
	ids := make([]domain.TransactionID, len(page.Items))
	for i, t := range page.Items {
		ids[i] = t.ID()
	}
	if page.Reversals, err = c.queries.Ledger.Reversals(ctx, ids); err != nil {
		return HistoryPage{}, err
	}
	return page, nil
}

// TransactionView is a transaction with what reversed it, or what it reverses.
type TransactionView struct {
	domain.Transaction
	Reversals ReversalInfo
}

// GetTransaction reads one of the tenant's transactions.
func (c *Accounts) GetTransaction(ctx context.Context, tenant domain.TenantID, id domain.TransactionID) (TransactionView, error) {
	t, err := c.queries.Ledger.Get(ctx, tenant, id)
	if err != nil {
		return TransactionView{}, err
	}
	info, err := c.queries.Ledger.Reversals(ctx, []domain.TransactionID{id})
	return TransactionView{Transaction: t, Reversals: info[id]}, err
}

// MaxExpiringWindow bounds how far ahead Expiring looks.
const MaxExpiringWindow = 3650 * 24 * time.Hour

// ExpiringView is what an account's credits will expire, and when.
type ExpiringView struct {
	Account domain.AccountID
	AsOf    time.Time
	Until   time.Time
	Total   domain.Credits
	// Lots are the lots with credits left expiring in (AsOf, Until], soonest
	// first (ties by lot id); their remaining credits expire unless spent.
	Lots []*domain.Lot
}

// Expiring reports the account's credits that expire within the window from now.
func (c *Accounts) Expiring(ctx context.Context, tenant domain.TenantID, account domain.AccountID, within time.Duration) (ExpiringView, error) {
	if within <= 0 || within > MaxExpiringWindow {
		return ExpiringView{}, fmt.Errorf("%w: the window must be positive and at most %d days", domain.ErrInvalidInput, MaxExpiringWindow/(24*time.Hour))
	}
	now := c.clock.Now()
	w, err := c.queries.Wallets.Get(ctx, tenant, account)
	if err != nil {
		return ExpiringView{}, err
	}
	v := ExpiringView{Account: account, AsOf: now, Until: now.Add(within), Total: domain.ZeroCredits}
	for _, l := range w.Lots() {
		if at := l.ExpiresAt(); at != nil && at.After(now) && !at.After(v.Until) && l.Remaining().IsPositive() {
			v.Lots = append(v.Lots, l)
			v.Total = v.Total.Add(l.Remaining())
		}
	}
	sortLotsByExpiry(v.Lots)
	return v, nil
}

// LotsPage is one page of a tenant's lots by expiry.
type LotsPage struct {
	Items []LotOfAccount
	Next  *LotCursor // nil on the last page
}

// ListExpiringLots pages through the tenant's lots with credits left that
// expire before before (and have not expired yet), soonest first.
func (c *Accounts) ListExpiringLots(ctx context.Context, tenant domain.TenantID, before time.Time, after *LotCursor, limit int) (LotsPage, error) {
	if err := checkLimit(limit); err != nil {
		return LotsPage{}, err
	}
	items, err := c.queries.Lookups.Lots(ctx, LotFilter{Tenant: tenant, Now: c.clock.Now(), Before: before, After: after}, limit+1)
	if err != nil {
		return LotsPage{}, err
	}
	page := LotsPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := items[limit-1].Lot
		page.Next = &LotCursor{ExpiresAt: *last.ExpiresAt(), Lot: last.ID()}
	}
	return page, nil
}

// HoldsPage is one page of an account's holds, newest first.
type HoldsPage struct {
	Items []HoldView
	Next  *domain.HoldID // nil on the last page
	AsOf  time.Time      // the instant the statuses were read at
}

// HoldsQuery selects a page of an account's holds.
type HoldsQuery struct {
	Tenant   domain.TenantID
	Account  domain.AccountID
	Statuses []domain.HoldStatus // as of now; empty: every status
	Before   *domain.HoldID
	Limit    int
}

// List pages through an account's holds, newest first.
func (h *Holds) List(ctx context.Context, q HoldsQuery) (HoldsPage, error) {
	if err := checkLimit(q.Limit); err != nil {
		return HoldsPage{}, err
	}
	now := h.clock.Now()
	w, err := h.queries.Wallets.Get(ctx, q.Tenant, q.Account)
	if err != nil {
		return HoldsPage{}, err
	}
	items, err := h.queries.Lookups.Holds(ctx, HoldFilter{Wallet: w.ID(), Statuses: q.Statuses, Now: now, Before: q.Before}, q.Limit+1)
	if err != nil {
		return HoldsPage{}, err
	}
	page := HoldsPage{Items: items, AsOf: now}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		next := items[q.Limit-1].Hold.ID()
		page.Next = &next
	}
	return page, nil
}

// sortLotsByExpiry orders lots that expire by expiry, then by id.
func sortLotsByExpiry(lots []*domain.Lot) {
	slices.SortFunc(lots, func(a, b *domain.Lot) int {
		if c := a.ExpiresAt().Compare(*b.ExpiresAt()); c != 0 {
			return c
		}
		x, y := a.ID(), b.ID()
		return bytes.Compare(x[:], y[:])
	})
}
