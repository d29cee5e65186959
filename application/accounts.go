package application

import (
	"context"
	"time"

	"github.com/creditd/creditd/domain"
)

// Accounts grants, spends and reports credits on users' wallets.
type Accounts struct {
	uow     UnitOfWork
	queries Queries // reads outside any transaction, and idempotent replays
	clock   Clock
	ids     IDGenerator
}

// NewAccounts builds the account use cases.
func NewAccounts(uow UnitOfWork, queries Queries, clock Clock, ids IDGenerator) *Accounts {
	return &Accounts{uow: uow, queries: queries, clock: clock, ids: ids}
}

// GrantCommand adds credits to an account, opening its wallet on first grant.
type GrantCommand struct {
	Tenant    domain.TenantID
	Account   domain.AccountID
	Amount    domain.Credits
	Source    domain.LotSource
	Priority  int
	ExpiresAt *time.Time
	Memo      domain.Memo
	Funding   domain.Funding // what paid for the credits, if known
}

// Grant adds a lot of credits to the account's wallet.
func (c *Accounts) Grant(ctx context.Context, cmd GrantCommand, idem *Idempotency[domain.Transaction]) (domain.Transaction, *Receipt, error) {
	scope := WalletScope(cmd.Tenant, cmd.Account)
	return runOnce(ctx, c.uow, c.queries, c.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (domain.Transaction, error) {
		now := c.clock.Now()
		w, err := r.Wallets.LockOrCreate(ctx, domain.NewWallet(domain.WalletID(c.ids.NewID()), cmd.Tenant, cmd.Account, now))
		if err != nil {
			return domain.Transaction{}, err
		}
		return c.change(ctx, r, w, now, func() (domain.Transaction, error) {
			return w.Grant(domain.Grant{Transaction: domain.TransactionID(c.ids.NewID()), Lot: domain.LotID(c.ids.NewID()),
				Amount: cmd.Amount, Source: cmd.Source, Priority: cmd.Priority, ExpiresAt: cmd.ExpiresAt, Memo: cmd.Memo, Funding: cmd.Funding}, now)
		})
	})
}

// SpendCommand takes credits from an account's free, unexpired lots.
type SpendCommand struct {
	Tenant  domain.TenantID
	Account domain.AccountID
	Amount  domain.Credits
	Memo    domain.Memo
}

// Spend moves credits to consumption, or fails with domain.ErrInsufficientCredits.
func (c *Accounts) Spend(ctx context.Context, cmd SpendCommand, idem *Idempotency[domain.Transaction]) (domain.Transaction, *Receipt, error) {
	scope := WalletScope(cmd.Tenant, cmd.Account)
	return runOnce(ctx, c.uow, c.queries, c.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (domain.Transaction, error) {
		now := c.clock.Now()
		w, err := r.Wallets.Lock(ctx, cmd.Tenant, cmd.Account)
		if err != nil {
			return domain.Transaction{}, err
		}
		return c.change(ctx, r, w, now, func() (domain.Transaction, error) {
			return w.Spend(domain.TransactionID(c.ids.NewID()), cmd.Amount, cmd.Memo, now)
		})
	})
}

// ClawbackCommand takes back the credits a payment (or another funding) paid for.
type ClawbackCommand struct {
	Tenant  domain.TenantID
	Account domain.AccountID
	Funding domain.Funding
	Amount  domain.Credits
	Policy  domain.ShortfallPolicy
	Memo    domain.Memo
}

// ClawbackOutcome is a clawback's transaction and where its credits came from.
type ClawbackOutcome struct {
	Transaction domain.Transaction
	Result      domain.ClawbackResult
}

// Clawback takes credits back from the account's wallet (see
// domain.Wallet.Clawback), after settling it: lots already expired are swept
// to breakage first, so their credits are no longer the payment's to take.
// domain.ErrNotFound when the account has no wallet.
func (c *Accounts) Clawback(ctx context.Context, cmd ClawbackCommand, idem *Idempotency[ClawbackOutcome]) (ClawbackOutcome, *Receipt, error) {
	scope := WalletScope(cmd.Tenant, cmd.Account)
	return runOnce(ctx, c.uow, c.queries, c.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (ClawbackOutcome, error) {
		now := c.clock.Now()
		w, err := r.Wallets.Lock(ctx, cmd.Tenant, cmd.Account)
		if err != nil {
			return ClawbackOutcome{}, err
		}
		var res domain.ClawbackResult
		t, err := c.change(ctx, r, w, now, func() (t domain.Transaction, err error) {
			t, res, err = w.Clawback(domain.Clawback{Transaction: domain.TransactionID(c.ids.NewID()), Funding: cmd.Funding,
				Amount: cmd.Amount, Policy: cmd.Policy, Memo: cmd.Memo}, now)
			return t, err
		})
		return ClawbackOutcome{Transaction: t, Result: res}, err
	})
}

// change applies one movement to a locked wallet after settling it, so a
// movement never sees credits that have expired or an expired hold still
// reserves, then stores everything.
func (c *Accounts) change(ctx context.Context, r Repos, w *domain.Wallet, now time.Time, move func() (domain.Transaction, error)) (domain.Transaction, error) {
	settled, err := settle(ctx, r, w, c.ids, now)
	if err != nil {
		return domain.Transaction{}, err
	}
	t, err := move()
	if err != nil {
		return domain.Transaction{}, err
	}
	return t, settled.store(ctx, r, w, nil, t)
}

// settlement is what bringing a wallet up to date produced.
type settlement struct {
	expiredHolds []*domain.Hold
	expirations  []domain.Transaction
}

// settle brings a locked wallet up to now: it frees the holds whose time is
// up, then expires the lots whose time is up (including credits those holds
// had pinned on expired lots). Both are cheap checks when nothing is due.
func settle(ctx context.Context, r Repos, w *domain.Wallet, ids IDGenerator, now time.Time) (settlement, error) {
	var open []*domain.Hold
	if w.HoldsDue(now) {
		var err error
		if open, err = r.Holds.ListOpen(ctx, w.ID()); err != nil {
			return settlement{}, err
		}
	}
	return settleWith(w, open, ids, now)
}

// settleWith is settle given the wallet's open holds, which it needs only
// when w.HoldsDue(now).
func settleWith(w *domain.Wallet, open []*domain.Hold, ids IDGenerator, now time.Time) (settlement, error) {
	var s settlement
	if w.HoldsDue(now) {
		var err error
		if s.expiredHolds, err = w.ExpireDueHolds(open, now); err != nil {
			return settlement{}, err
		}
	}
	if !w.HasExpiredCredits(now) { // ask first: an id is drawn only for a transaction that will exist
		return s, nil
	}
	t, _, err := w.ExpireDue(domain.TransactionID(ids.NewID()), now)
	if err != nil {
		return settlement{}, err
	}
	s.expirations = append(s.expirations, t)
	return s, nil
}

// store saves the wallet with its lots, then the transactions (whose postings
// refer to the lots), then the holds that changed.
func (s settlement) store(ctx context.Context, r Repos, w *domain.Wallet, changed []*domain.Hold, txs ...domain.Transaction) error {
	if err := r.Wallets.Save(ctx, w); err != nil {
		return err
	}
	w.ForgetChanges()
	if all := append(s.expirations, txs...); len(all) > 0 {
		if err := r.Ledger.Append(ctx, all...); err != nil {
			return err
		}
	}
	for _, h := range append(s.expiredHolds, changed...) {
		if err := r.Holds.Save(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// AccountView is a wallet as a client sees it at one instant.
type AccountView struct {
	Account   domain.AccountID
	Balance   domain.Credits // net of Debt: negative only while in debt
	Held      domain.Credits
	Available domain.Credits // Balance − Held: negative when in debt
	Debt      domain.Credits
	Lots      []*domain.Lot // open lots in consumption order
	// LowBalanceThreshold is the account's own (zero: none, the tenant's applies).
	LowBalanceThreshold domain.Credits
}

// GetAccount reports the account's balance as of now: expired lots and
// expired holds that have not been swept yet are already left out, as a spend
// would leave them out.
func (c *Accounts) GetAccount(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (AccountView, error) {
	now := c.clock.Now()
	w, err := c.queries.Wallets.Get(ctx, tenant, account)
	if err != nil {
		return AccountView{}, err
	}
	var open []*domain.Hold
	if w.HoldsDue(now) {
		// Due holds are freed from the view, so the wallet is read again with
		// its open holds, from one snapshot: a hold placed in between would
		// reserve a lot the first copy does not have.
		if w, open, err = c.queries.Wallets.GetWithOpenHolds(ctx, tenant, account); err != nil {
			return AccountView{}, err
		}
	}
	return viewAt(w, open, c.ids, now)
}

// MaxPageSize bounds one page of history.
const MaxPageSize = 200

// HistoryPage is one page of an account's transactions, newest first.
type HistoryPage struct {
	Items []domain.Transaction
	// Next is the cursor of the following page; nil on the last page.
	Next *domain.TransactionID
	// Reversals links the page's reversals and reversed transactions to
	// each other, as of the read.
	Reversals map[domain.TransactionID]ReversalInfo
}

// ListTransactions pages through an account's history, newest first.
func (c *Accounts) ListTransactions(ctx context.Context, tenant domain.TenantID, account domain.AccountID, limit int, before *domain.TransactionID) (HistoryPage, error) {
	return c.ListHistory(ctx, HistoryQuery{Tenant: tenant, Account: account, Before: before, Limit: limit})
}

// SetLowBalanceThreshold sets the account's own threshold for balance.low
// (zero removes it, and the tenant's applies), opening its wallet if it has
// none: the threshold is changed under the wallet's lock, so it never
// changes in the middle of a spend that judges it.
func (c *Accounts) SetLowBalanceThreshold(ctx context.Context, tenant domain.TenantID, account domain.AccountID, threshold domain.Credits) error {
	return c.uow.WithinTx(ctx, WalletScope(tenant, account), func(ctx context.Context, r Repos) error {
		now := c.clock.Now()
		w, err := r.Wallets.LockOrCreate(ctx, domain.NewWallet(domain.WalletID(c.ids.NewID()), tenant, account, now))
		if err != nil {
			return err
		}
		if err := w.SetLowBalanceThreshold(threshold); err != nil {
			return err
		}
		return r.Wallets.Save(ctx, w)
	})
}
