package memory

import (
	"maps"
	"slices"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Records are plain values, the in-memory counterpart of table rows. They are
// built from domain objects by copying and turned back into fresh domain
// objects on every load, so no caller ever shares state with the store.

type walletKey struct {
	tenant  domain.TenantID
	account domain.AccountID
}

type walletRecord struct {
	id        domain.WalletID
	tenant    domain.TenantID
	account   domain.AccountID
	balance   domain.Credits // net: lots' remaining less debt
	held      domain.Credits
	debt      domain.Credits
	createdAt time.Time
	lots      []lotRecord // every lot ever granted, emptied ones included
	holdsDue  *time.Time
	// lowBalance is the account's own threshold; zero when it has none.
	lowBalance domain.Credits
}

type lotRecord struct {
	id        domain.LotID
	source    domain.LotSource
	amount    domain.Credits
	remaining domain.Credits
	held      domain.Credits
	priority  int
	expires   bool
	expiresAt time.Time
	createdAt time.Time
	funding   domain.Funding
}

func newWalletRecord(w *domain.Wallet) walletRecord {
	rec := walletRecord{id: w.ID(), tenant: w.Tenant(), account: w.AccountID(), createdAt: w.CreatedAt()}
	return rec.with(w, w.Lots())
}

// with returns a copy of rec holding w's caches and the given lots, added or
// replaced by id.
func (rec walletRecord) with(w *domain.Wallet, changed []*domain.Lot) walletRecord {
	rec.balance, rec.held, rec.debt, rec.lowBalance = w.Balance(), w.Held(), w.Debt(), w.LowBalanceThreshold()
	if at := w.HoldsDueAt(); at != nil {
		due := *at // a copy: the record must not share the wallet's time
		rec.holdsDue = &due
	} else {
		rec.holdsDue = nil
	}
	lots := slices.Clone(rec.lots) // never write into a slice another record shares
	for _, l := range changed {
		lr := newLotRecord(l)
		if i := slices.IndexFunc(lots, func(o lotRecord) bool { return o.id == lr.id }); i >= 0 {
			lots[i] = lr
		} else {
			lots = append(lots, lr)
		}
	}
	rec.lots = lots
	return rec
}

func newLotRecord(l *domain.Lot) lotRecord {
	lr := lotRecord{id: l.ID(), source: l.Source(), amount: l.Amount(), remaining: l.Remaining(), held: l.Held(),
		priority: l.Priority(), createdAt: l.CreatedAt(), funding: l.Funding()}
	if at := l.ExpiresAt(); at != nil {
		lr.expires, lr.expiresAt = true, *at
	}
	return lr
}

// toDomain rebuilds the wallet with its open lots: emptied lots stay stored
// but are no longer part of the wallet.
func (rec walletRecord) toDomain() *domain.Wallet {
	var open []*domain.Lot
	for _, l := range rec.lots {
		if l.remaining.IsPositive() {
			open = append(open, l.toDomain())
		}
	}
	var holdsDue *time.Time
	if rec.holdsDue != nil {
		due := *rec.holdsDue
		holdsDue = &due
	}
	w := domain.RehydrateWallet(rec.id, rec.tenant, rec.account, rec.balance, rec.held, rec.debt, rec.createdAt, open, holdsDue)
	_ = w.SetLowBalanceThreshold(rec.lowBalance) // stored from a wallet that held it, so never negative
	return w
}

func (l lotRecord) toDomain() *domain.Lot {
	var expiresAt *time.Time
	if l.expires {
		at := l.expiresAt
		expiresAt = &at
	}
	return domain.RehydrateLot(l.id, l.source, l.amount, l.remaining, l.held, l.priority, expiresAt, l.createdAt, l.funding)
}

// isDue reports whether the lot has expired credits that no hold pins.
func (l lotRecord) isDue(now time.Time) bool {
	return l.expires && !now.Before(l.expiresAt) && l.remaining.Sub(l.held).IsPositive()
}

type holdRecord struct {
	id          domain.HoldID
	tenant      domain.TenantID
	wallet      domain.WalletID
	account     domain.AccountID
	amount      domain.Credits
	captured    domain.Credits
	status      domain.HoldStatus
	memo        domain.Memo
	expiresAt   time.Time
	createdAt   time.Time
	allocations []domain.HoldAllocation
}

func newHoldRecord(h *domain.Hold) holdRecord {
	return holdRecord{id: h.ID(), tenant: h.Tenant(), wallet: h.Wallet(), account: h.AccountID(), amount: h.Amount(),
		captured: h.Captured(), status: h.Status(), memo: cloneMemo(h.Memo()), expiresAt: h.ExpiresAt(),
		createdAt: h.CreatedAt(), allocations: h.Allocations()} // Allocations returns a copy
}

func (h holdRecord) toDomain() *domain.Hold {
	// The domain changes allocations in place when it captures, so it gets its own slice.
	return domain.RehydrateHold(h.id, h.tenant, h.wallet, h.account, h.amount, h.captured, h.status,
		cloneMemo(h.memo), h.expiresAt, h.createdAt, slices.Clone(h.allocations))
}

// remaining is what an open hold still reserves.
func (h holdRecord) remaining() domain.Credits {
	sum := domain.ZeroCredits
	for _, a := range h.allocations {
		sum = sum.Add(a.Amount)
	}
	return sum
}

type txRecord struct {
	id           domain.TransactionID
	tenant       domain.TenantID
	typ          domain.TransactionType
	wallet       domain.WalletID
	account      domain.AccountID
	amount       domain.Credits
	balanceAfter domain.Credits
	hasHold      bool
	hold         domain.HoldID
	memo         domain.Memo
	createdAt    time.Time
	postings     []domain.Posting
	reversalOf   *domain.TransactionID // set on reversals only
}

func newTxRecord(t domain.Transaction) txRecord {
	rec := txRecord{id: t.ID(), tenant: t.Tenant(), typ: t.Type(), wallet: t.Wallet(), account: t.AccountID(),
		amount: t.Amount(), balanceAfter: t.BalanceAfter(), memo: cloneMemo(t.Memo()), createdAt: t.CreatedAt(),
		postings: t.Postings()} // Postings returns a copy
	if h := t.Hold(); h != nil {
		rec.hasHold, rec.hold = true, *h
	}
	rec.reversalOf = t.ReversalOf() // a copy
	return rec
}

func (t txRecord) toDomain() (domain.Transaction, error) {
	var hold *domain.HoldID
	if t.hasHold {
		h := t.hold
		hold = &h
	}
	tx, err := domain.RehydrateTransaction(t.id, t.tenant, t.typ, t.wallet, t.account, t.amount, t.balanceAfter, hold,
		cloneMemo(t.memo), t.createdAt, slices.Clone(t.postings))
	if err != nil || t.reversalOf == nil {
		return tx, err
	}
	return domain.RehydrateReversal(tx, *t.reversalOf)
}

type idempotencyKey struct {
	tenant domain.TenantID
	key    string
}

type idempotencyRecord struct{ application.IdempotencyRecord }

func newIdempotencyRecord(r application.IdempotencyRecord) idempotencyRecord {
	r.Fingerprint = slices.Clone(r.Fingerprint)
	r.Receipt.Body = slices.Clone(r.Receipt.Body)
	return idempotencyRecord{r}
}

func (r idempotencyRecord) toApplication() application.IdempotencyRecord {
	return newIdempotencyRecord(r.IdempotencyRecord).IdempotencyRecord
}

func cloneMemo(m domain.Memo) domain.Memo {
	return domain.Memo{Reason: m.Reason, Metadata: maps.Clone(m.Metadata)}
}
