package application

import (
	"context"
	"slices"

	"github.com/creditd/creditd/domain"
)

// ReversalRepository is what a reversal reads inside its unit of work.
type ReversalRepository interface {
	// Reversed is how much reversals of the transaction have taken back, as
	// the unit of work sees it (its own writes and those committed before it
	// included). Every reversal locks the wallet of the transaction it
	// reverses, so under that lock the sum cannot change until the unit of
	// work ends.
	Reversed(ctx context.Context, original domain.TransactionID) (domain.Credits, error)
	// Lots reads lots of a wallet the unit of work has locked, emptied ones
	// included (a reversal gives credits back to them); ids not of the wallet
	// are left out.
	Lots(ctx context.Context, wallet domain.WalletID, ids []domain.LotID) ([]*domain.Lot, error)
}

// ReversalInfo links a transaction with reversals.
type ReversalInfo struct {
	// Of is, for a reversal, the transaction it reverses.
	Of *domain.TransactionID
	// Reversed is how much of the transaction its reversals took back.
	Reversed domain.Credits
	// By lists its reversals, oldest first.
	By []domain.TransactionID
}

// ReversalsConfig tunes reversals.
type ReversalsConfig struct {
	// Shortfall decides what reversing a grant takes when the user has
	// already spent part of it: the same policy as a cancelled payment's.
	Shortfall domain.ShortfallPolicy
}

// Reversals undoes mistaken spends, captures and grants with new, reversing
// transactions.
type Reversals struct {
	uow     UnitOfWork
	queries Queries
	clock   Clock
	ids     IDGenerator
	cfg     ReversalsConfig
}

// NewReversals builds the reversal use case.
func NewReversals(uow UnitOfWork, queries Queries, clock Clock, ids IDGenerator, cfg ReversalsConfig) *Reversals {
	return &Reversals{uow: uow, queries: queries, clock: clock, ids: ids, cfg: cfg}
}

// ReverseCommand reverses part (Amount) or all that is left (nil) of a transaction.
type ReverseCommand struct {
	Tenant      domain.TenantID
	Transaction domain.TransactionID
	Amount      *domain.Credits
	Memo        domain.Memo
}

// Reverse posts a reversal of the transaction (see domain.Wallet.Reverse):
// domain.ErrNotFound for a transaction the tenant does not have,
// domain.ErrNotReversible or domain.ErrReversalExceedsOriginal when it may
// not be reversed (so much).
func (s *Reversals) Reverse(ctx context.Context, cmd ReverseCommand, idem *Idempotency[domain.Transaction]) (domain.Transaction, *Receipt, error) {
	// The transaction names the wallet to lock; it never changes, so it is
	// read before the unit of work, whose scope must name the wallet.
	original, err := s.queries.Ledger.Get(ctx, cmd.Tenant, cmd.Transaction)
	if err != nil {
		if !domain.IsRejection(err) {
			return domain.Transaction{}, nil, err
		}
		// Recorded under the key as any rejection is.
		return runOnce(ctx, s.uow, s.queries, s.clock, cmd.Tenant, idem, Scope{}, func(context.Context, Repos) (domain.Transaction, error) {
			return domain.Transaction{}, err
		})
	}
	scope := WalletScope(cmd.Tenant, original.AccountID())
	return runOnce(ctx, s.uow, s.queries, s.clock, cmd.Tenant, idem, scope, func(ctx context.Context, r Repos) (domain.Transaction, error) {
		if err := domain.CheckReversible(original); err != nil {
			return domain.Transaction{}, err // before any read
		}
		now := s.clock.Now()
		w, err := r.Wallets.Lock(ctx, cmd.Tenant, original.AccountID())
		if err != nil {
			return domain.Transaction{}, err
		}
		settled, err := settle(ctx, r, w, s.ids, now)
		if err != nil {
			return domain.Transaction{}, err
		}
		reversed, err := r.Reversals.Reversed(ctx, original.ID())
		if err != nil {
			return domain.Transaction{}, err
		}
		lots, err := r.Reversals.Lots(ctx, w.ID(), closedLots(w, original))
		if err != nil {
			return domain.Transaction{}, err
		}
		t, err := w.Reverse(domain.Reversal{Transaction: domain.TransactionID(s.ids.NewID()), Original: original, Reversed: reversed,
			Amount: cmd.Amount, Policy: s.cfg.Shortfall, Lots: lots, Memo: cmd.Memo}, now)
		if err != nil {
			return domain.Transaction{}, err
		}
		return t, settled.store(ctx, r, w, nil, t)
	})
}

// closedLots are the lots t's postings name that w no longer holds open.
func closedLots(w *domain.Wallet, t domain.Transaction) []domain.LotID {
	open := map[domain.LotID]bool{}
	for _, l := range w.Lots() {
		open[l.ID()] = true
	}
	var ids []domain.LotID
	for _, p := range t.Postings() {
		if !p.IsSystem() && !p.IsDebt() && !open[p.Lot] && !slices.Contains(ids, p.Lot) {
			ids = append(ids, p.Lot)
		}
	}
	return ids
}
