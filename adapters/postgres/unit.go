package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// unit is one unit of work inside a batch: what it may lock and claim, and
// its drafts of the batch's staged tables.
type unit struct {
	b         *batch
	lockable  map[walletKey]bool
	claimable map[application.IdempotencyKey]bool
	orders    map[string]bool // the orders the unit may read and write

	drafts    []committer
	wallets   draft[walletKey, walletState, walletRow]
	lots      draft[uuid.UUID, lotRow, lotRow]
	txs       draft[uuid.UUID, transactionRow, transactionRow]
	postings  draft[postingKey, postingRow, postingRow]
	reversals draft[uuid.UUID, reversalRow, reversalRow]
	holds     draft[uuid.UUID, holdRow, holdRow]
	records   draft[application.IdempotencyKey, idempotencyRow, idempotencyRow]
	orderRows draft[string, orderRow, orderRow]
	events    draft[uuid.UUID, eventRow, eventRow]
}

// unit starts a unit of work of the given scope; a hold names its wallet.
func (b *batch) unit(scope application.Scope) *unit {
	u := &unit{b: b, lockable: map[walletKey]bool{}, claimable: map[application.IdempotencyKey]bool{},
		drafts: make([]committer, 0, len(b.tables))}
	draftOf(u, &u.wallets, b.wallets)
	draftOf(u, &u.lots, b.lots)
	draftOf(u, &u.txs, b.txs)
	draftOf(u, &u.postings, b.postings)
	draftOf(u, &u.reversals, b.reversals)
	draftOf(u, &u.holds, b.holds)
	draftOf(u, &u.records, b.records)
	draftOf(u, &u.orderRows, b.orders)
	draftOf(u, &u.events, b.events)
	for _, w := range scope.Wallets {
		u.lockable[keyOf(w.Tenant, w.Account)] = true
	}
	for _, h := range scope.Holds {
		if hs, ok := b.holds.get(uuid.UUID(h.Hold)); ok && hs.TenantID == uuid.UUID(h.Tenant) {
			u.lockable[walletKey{hs.TenantID, hs.AccountID}] = true
		}
	}
	for _, k := range scope.Keys {
		u.claimable[k] = true
	}
	if len(scope.Orders) > 0 { // most units touch no order: no map for them
		u.orders = make(map[string]bool, len(scope.Orders))
		for _, o := range scope.Orders {
			u.orders[o.String()] = true
		}
	}
	return u
}

// commit keeps the unit's writes in the batch.
func (u *unit) commit() {
	for _, d := range u.drafts {
		d.commit()
	}
}

func (u *unit) repos() application.Repos {
	return application.Repos{Wallets: unitWallets{u}, Ledger: unitLedger{u}, Holds: unitHolds{u}, Idempotency: unitIdempotency{u},
		Orders: unitOrders{u}, Reversals: unitReversals{u}, Events: unitEvents{u}}
}

var (
	_ application.WalletRepository      = unitWallets{}
	_ application.LedgerRepository      = unitLedger{}
	_ application.ReversalRepository    = unitReversals{}
	_ application.HoldRepository        = unitHolds{}
	_ application.IdempotencyRepository = unitIdempotency{}
	_ application.EventRepository       = unitEvents{}
)

type unitWallets struct{ u *unit }

func (r unitWallets) lockable(tenant domain.TenantID, account domain.AccountID) (walletKey, error) {
	k := keyOf(tenant, account)
	if !r.u.lockable[k] {
		return k, fmt.Errorf("lock wallet of %q: %w", account, application.ErrOutOfScope)
	}
	return k, nil
}

func (r unitWallets) Lock(_ context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	k, err := r.lockable(tenant, account)
	if err != nil {
		return nil, err
	}
	w, ok := r.u.wallets.get(k)
	if !ok {
		return nil, fmt.Errorf("wallet of %q: %w", account, domain.ErrNotFound)
	}
	return r.toDomain(w)
}

// LockOrCreate creates a missing wallet in the batch; should another
// transaction create it first, the batch's write fails and the batch runs
// again, then finding the wallet.
func (r unitWallets) LockOrCreate(_ context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	k, err := r.lockable(fresh.Tenant(), fresh.AccountID())
	if err != nil {
		return nil, err
	}
	w, ok := r.u.wallets.get(k)
	if !ok {
		w = walletState{row: toWalletRow(fresh, fresh.CreatedAt())}
		r.u.wallets.put(k, w)
	}
	return r.toDomain(w)
}

// toDomain rebuilds the wallet with its open lots as the unit sees them.
func (r unitWallets) toDomain(w walletState) (*domain.Wallet, error) {
	lots := make([]lotRow, 0, len(w.lots))
	for _, id := range w.lots {
		if l, _ := r.u.lots.get(id); l.Remaining.IsPositive() {
			lots = append(lots, l)
		}
	}
	return walletFromRows(w.row, lots)
}

func (r unitWallets) Save(_ context.Context, w *domain.Wallet) error {
	k, err := r.lockable(w.Tenant(), w.AccountID())
	if err != nil {
		return err
	}
	cur, ok := r.u.wallets.get(k)
	if !ok || cur.row.ID != uuid.UUID(w.ID()) {
		return fmt.Errorf("save wallet %s: %w", w.ID(), domain.ErrNotFound)
	}
	// Clipped: appending must never write into the slice the batch holds.
	next := walletState{row: toWalletRow(w, r.u.b.now), lots: slices.Clip(cur.lots)}
	for _, l := range w.ChangedLots() {
		row := toLotRow(w.ID(), l)
		if !slices.Contains(next.lots, row.ID) {
			next.lots = append(next.lots, row.ID)
		}
		r.u.lots.put(row.ID, row)
	}
	r.u.wallets.put(k, next)
	return nil
}

type unitLedger struct{ u *unit }

func (r unitLedger) Append(_ context.Context, txs ...domain.Transaction) error {
	txRows, postingRows := toLedgerRows(txs)
	for _, t := range txRows {
		r.u.txs.put(t.ID, t)
	}
	for _, p := range postingRows {
		r.u.postings.put(postingKey{p.TransactionID, p.Seq}, p)
	}
	for _, l := range toReversalRows(txs) {
		r.u.reversals.put(l.TransactionID, l)
	}
	return nil
}

type unitHolds struct{ u *unit }

// Get reads a hold the batch has not loaded from the database.
func (r unitHolds) Get(_ context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	h, ok := r.u.holds.get(uuid.UUID(id))
	if !ok {
		b := r.u.b
		row, err := selectHold(b.ctx, b.tx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, err
		} else if err != nil {
			return nil, b.fail(err)
		}
		b.holds.load(row.ID, row)
		h = row
	}
	if h.TenantID != uuid.UUID(tenant) {
		return nil, fmt.Errorf("hold %s: %w", id, domain.ErrNotFound)
	}
	return h.toDomain()
}

func (r unitHolds) Save(_ context.Context, h *domain.Hold) error {
	if _, err := unitWallets(r).lockable(h.Tenant(), h.AccountID()); err != nil {
		return fmt.Errorf("save hold %s: %w", h.ID(), err)
	}
	r.u.holds.put(uuid.UUID(h.ID()), toHoldRow(h, r.u.b.now))
	return nil
}

// ListOpen answers from the batch once the wallet's open holds are loaded;
// the first time it loads them, keeping whatever the batch already changed.
func (r unitHolds) ListOpen(_ context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	b, id := r.u.b, uuid.UUID(wallet)
	if !b.openHolds[id] {
		if err := b.loadHolds(nil, []uuid.UUID{id}); err != nil {
			return nil, b.fail(err)
		}
	}
	var rows []holdRow
	for _, h := range r.u.holds.all {
		if h.WalletID == id && h.isOpen() {
			rows = append(rows, h)
		}
	}
	slices.SortFunc(rows, func(a, b holdRow) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return holdsFromRows(rows)
}

// Captures are the hold's stored captures (loaded with the batch, or read
// now for a hold the scopes did not name) and those the batch's units made.
func (r unitHolds) Captures(_ context.Context, hold domain.HoldID) ([]domain.HoldCapture, error) {
	b, id := r.u.b, uuid.UUID(hold)
	if _, ok := b.captures[id]; !ok {
		if err := b.loadCaptures([]uuid.UUID{id}); err != nil {
			return nil, b.fail(err)
		}
	}
	rows := slices.Clone(b.captures[id])
	for _, t := range r.u.txs.all {
		if t.HoldID != nil && *t.HoldID == id && t.Type == domain.TransactionCapture.String() {
			rows = append(rows, t)
		}
	}
	return capturesFromRows(rows)
}

type unitIdempotency struct{ u *unit }

// Claim refuses a key recorded before the batch began or claimed by an
// earlier unit of the batch; a unit that claimed it elsewhere meanwhile is
// caught when the batch writes, and the batch runs again.
func (r unitIdempotency) Claim(_ context.Context, rec application.IdempotencyRecord) error {
	k := application.IdempotencyKey{Tenant: rec.Tenant, Key: rec.Key}
	if !r.u.claimable[k] {
		return fmt.Errorf("claim idempotency key %q: %w", rec.Key, application.ErrOutOfScope)
	}
	if _, taken := r.u.records.get(k); taken {
		return fmt.Errorf("idempotency key %q: %w", rec.Key, application.ErrIdempotencyKeyTaken)
	}
	r.u.records.put(k, toIdempotencyRow(rec))
	return nil
}

func (r unitIdempotency) Complete(_ context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	k := application.IdempotencyKey{Tenant: tenant, Key: key}
	row, mine := r.u.records.own(k)
	if !mine {
		return fmt.Errorf("complete idempotency record %q: the key is not claimed in this unit of work", key)
	}
	row.Status, row.Body = receipt.Status, nonNilBytes(receipt.Body)
	r.u.records.put(k, row)
	return nil
}

type unitEvents struct{ u *unit }

func (r unitEvents) Append(_ context.Context, events ...application.Event) error {
	for _, e := range events {
		r.u.events.put(e.ID, toEventRow(e))
	}
	return nil
}
