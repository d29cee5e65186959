package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// A batch is one database transaction shared by a group of units of work
// (group commit). It costs a fixed number of round trips, however many units
// of work it carries:
//
//  1. lock every wallet the group declared, in id order, in one statement;
//  2. read their open lots, the holds the group named or may need, and which
//     of its idempotency keys are taken;
//  3. run each unit of work in memory on what the ones before it left: a
//     unit's changes go to an overlay that is kept when it succeeds and
//     dropped when it fails, as a transaction of its own would be;
//  4. write everything in one statement (writeRows), and commit.
//
// Reads a unit of work makes beyond what was loaded (rare) go to the database
// inside the same transaction.
type batch struct {
	ctx context.Context
	tx  bun.Tx

	wallets   map[walletKey]*walletState
	holds     map[uuid.UUID]*holdState
	openHolds map[uuid.UUID]bool // wallets whose open holds are all in holds
	taken     map[application.IdempotencyKey]bool

	txs      []transactionRow
	postings []postingRow
	records  []idempotencyRow

	// failed is set when a statement failed: PostgreSQL has aborted the
	// transaction, so nothing else in the batch can succeed.
	failed error
}

// walletKey names a wallet as units of work do: by tenant and account.
type walletKey struct {
	tenant  uuid.UUID
	account string
}

func keyOf(tenant domain.TenantID, account domain.AccountID) walletKey {
	return walletKey{uuid.UUID(tenant), account.String()}
}

// walletState is a locked wallet as the batch's units of work left it.
type walletState struct {
	row   walletRow
	lots  []lotState // open lots as loaded, and those the batch created or emptied
	dirty bool       // the row must be written
}

type lotState struct {
	row   lotRow
	dirty bool
}

type holdState struct {
	row   holdRow
	dirty bool
}

// holdsDueMargin widens which wallets' open holds are loaded up front: those
// with a hold expiring within it, which a unit of work may have to expire.
const holdsDueMargin = 2 * time.Second

func newBatch(ctx context.Context, tx bun.Tx) *batch {
	return &batch{ctx: ctx, tx: tx, wallets: map[walletKey]*walletState{}, holds: map[uuid.UUID]*holdState{},
		openHolds: map[uuid.UUID]bool{}, taken: map[application.IdempotencyKey]bool{}}
}

// load locks and reads what the scopes name.
func (b *batch) load(scopes []application.Scope) error {
	var accounts []walletKey
	var holdKeys []application.HoldKey
	var keys []application.IdempotencyKey
	seen := map[any]bool{}
	for _, s := range scopes {
		for _, w := range s.Wallets {
			if k := keyOf(w.Tenant, w.Account); !seen[k] {
				seen[k] = true
				accounts = append(accounts, k)
			}
		}
		for _, h := range s.Holds {
			if !seen[h] {
				seen[h] = true
				holdKeys = append(holdKeys, h)
			}
		}
		for _, k := range s.Keys {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}

	locked, err := lockWallets(b.ctx, b.tx, accounts, holdKeys)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(locked))
	byID := make(map[uuid.UUID]*walletState, len(locked))
	var holdsDue []uuid.UUID
	dueBy := time.Now().Add(holdsDueMargin)
	for i, row := range locked {
		w := &walletState{row: row}
		ids[i], byID[row.ID] = row.ID, w
		b.wallets[walletKey{row.TenantID, row.AccountID}] = w
		if row.HoldsDueAt != nil && row.HoldsDueAt.Before(dueBy) {
			holdsDue = append(holdsDue, row.ID)
		}
	}
	if len(ids) > 0 {
		lots, err := selectOpenLots(b.ctx, b.tx, ids)
		if err != nil {
			return err
		}
		for _, l := range lots {
			w := byID[l.WalletID]
			w.lots = append(w.lots, lotState{row: l})
		}
	}
	if len(holdKeys) > 0 || len(holdsDue) > 0 {
		if err := b.loadHolds(holdKeys, holdsDue); err != nil {
			return err
		}
		// A hold created after the lock statement ran, by a transaction that
		// has committed since, names a wallet the batch has not locked: run
		// the batch again, which will lock it.
		for _, h := range holdKeys {
			if hs := b.holds[uuid.UUID(h.Hold)]; hs != nil && b.wallets[walletKey{hs.row.TenantID, hs.row.AccountID}] == nil {
				return fmt.Errorf("hold %s: %w: its wallet was not locked", hs.row.ID, errRetryable)
			}
		}
	}
	if len(keys) > 0 {
		taken, err := selectTakenKeys(b.ctx, b.tx, keys)
		if err != nil {
			return err
		}
		for _, r := range taken {
			b.taken[application.IdempotencyKey{Tenant: domain.TenantID(r.TenantID), Key: r.Key}] = true
		}
	}
	return nil
}

// loadHolds reads the holds named by (tenant, id), and every open hold of
// the given wallets, into the batch.
func (b *batch) loadHolds(named []application.HoldKey, openOf []uuid.UUID) error {
	rows, err := selectHolds(b.ctx, b.tx, named, openOf)
	if err != nil {
		return err
	}
	for _, row := range rows {
		b.holds[row.ID] = &holdState{row: row}
	}
	for _, w := range openOf {
		b.openHolds[w] = true
	}
	return nil
}

// fail records a failed statement and returns its error.
func (b *batch) fail(err error) error {
	if b.failed == nil {
		b.failed = err
	}
	return err
}

// flush writes what the batch's successful units of work changed, in one
// round trip. Rows go in a fixed order (wallets, records by key) so that
// concurrent batches inserting the same new keys wait for each other rather
// than deadlock.
func (b *batch) flush() error {
	var wallets []walletRow
	var lots []lotRow
	for _, w := range b.wallets {
		if w.dirty {
			wallets = append(wallets, w.row)
		}
		for _, l := range w.lots {
			if l.dirty {
				lots = append(lots, l.row)
			}
		}
	}
	slices.SortFunc(wallets, func(a, b walletRow) int {
		return cmp.Or(bytes.Compare(a.TenantID[:], b.TenantID[:]), cmp.Compare(a.AccountID, b.AccountID))
	})
	var holds []holdRow
	for _, h := range b.holds {
		if h.dirty {
			holds = append(holds, h.row)
		}
	}
	slices.SortFunc(b.records, func(a, b idempotencyRow) int {
		return cmp.Or(bytes.Compare(a.TenantID[:], b.TenantID[:]), cmp.Compare(a.Key, b.Key))
	})
	err := writeRows(b.ctx, b.tx, "write batch",
		rowsToWrite{wallets: wallets, lots: lots, txs: b.txs, postings: b.postings, holds: holds, records: b.records})
	if errors.Is(err, application.ErrIdempotencyKeyTaken) {
		// Another transaction claimed the same key and has committed: run the
		// batch again, which will see it. (A wallet created twice is
		// retryable already.)
		return fmt.Errorf("%w: %w", errRetryable, err)
	}
	return err
}

// unit is one unit of work inside a batch: what it may lock and claim, and
// its changes, kept apart from the batch's until it succeeds.
type unit struct {
	b         *batch
	lockable  map[walletKey]bool
	claimable map[application.IdempotencyKey]bool

	wallets  map[walletKey]*walletState
	holds    map[uuid.UUID]*holdState
	txs      []transactionRow
	postings []postingRow
	records  map[application.IdempotencyKey]*idempotencyRow
}

// unit starts a unit of work of the given scope; a hold names its wallet.
func (b *batch) unit(scope application.Scope) *unit {
	u := &unit{b: b, lockable: map[walletKey]bool{}, claimable: map[application.IdempotencyKey]bool{},
		wallets: map[walletKey]*walletState{}, holds: map[uuid.UUID]*holdState{},
		records: map[application.IdempotencyKey]*idempotencyRow{}}
	for _, w := range scope.Wallets {
		u.lockable[keyOf(w.Tenant, w.Account)] = true
	}
	for _, h := range scope.Holds {
		if hs := b.holds[uuid.UUID(h.Hold)]; hs != nil && hs.row.TenantID == uuid.UUID(h.Tenant) {
			u.lockable[walletKey{hs.row.TenantID, hs.row.AccountID}] = true
		}
	}
	for _, k := range scope.Keys {
		u.claimable[k] = true
	}
	return u
}

// commit keeps the unit's changes in the batch.
func (u *unit) commit() {
	for k, w := range u.wallets {
		u.b.wallets[k] = w
	}
	for id, h := range u.holds {
		u.b.holds[id] = h
	}
	u.b.txs = append(u.b.txs, u.txs...)
	u.b.postings = append(u.b.postings, u.postings...)
	for k, r := range u.records {
		u.b.records = append(u.b.records, *r)
		u.b.taken[k] = true
	}
}

func (u *unit) wallet(k walletKey) *walletState {
	if w, ok := u.wallets[k]; ok {
		return w
	}
	return u.b.wallets[k]
}

func (u *unit) hold(id uuid.UUID) *holdState {
	if h, ok := u.holds[id]; ok {
		return h
	}
	return u.b.holds[id]
}

func (u *unit) repos() application.Repos {
	return application.Repos{Wallets: unitWallets{u}, Ledger: unitLedger{u}, Holds: unitHolds{u}, Idempotency: unitIdempotency{u}}
}

// errOutsideOnly refuses, inside a unit of work, a read the ports promise
// only outside one: the database does not hold the batch's writes yet.
var errOutsideOnly = errors.New("postgres: only outside a unit of work")

func (w *walletState) toDomain() (*domain.Wallet, error) {
	open := make([]lotRow, 0, len(w.lots))
	for _, l := range w.lots {
		if l.row.Remaining.IsPositive() {
			open = append(open, l.row)
		}
	}
	return walletFromRows(w.row, open)
}

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
	w := r.u.wallet(k)
	if w == nil {
		return nil, fmt.Errorf("wallet of %q: %w", account, domain.ErrNotFound)
	}
	return w.toDomain()
}

// LockOrCreate creates a missing wallet in the batch; should another
// transaction create it first, the batch's write fails and the batch runs
// again, then finding the wallet.
func (r unitWallets) LockOrCreate(_ context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	k, err := r.lockable(fresh.Tenant(), fresh.AccountID())
	if err != nil {
		return nil, err
	}
	w := r.u.wallet(k)
	if w == nil {
		w = &walletState{row: toWalletRow(fresh, fresh.CreatedAt()), dirty: true}
		r.u.wallets[k] = w
	}
	return w.toDomain()
}

// Get reads a wallet no unit of work of the batch locked from the database.
func (r unitWallets) Get(_ context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if w := r.u.wallet(keyOf(tenant, account)); w != nil {
		return w.toDomain()
	}
	w, err := (&walletRepo{db: r.u.b.tx}).Get(r.u.b.ctx, tenant, account)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return nil, r.u.b.fail(err)
	}
	return w, err
}

func (r unitWallets) Save(_ context.Context, w *domain.Wallet) error {
	k, err := r.lockable(w.Tenant(), w.AccountID())
	if err != nil {
		return err
	}
	cur := r.u.wallet(k)
	if cur == nil || cur.row.ID != uuid.UUID(w.ID()) {
		return fmt.Errorf("save wallet %s: %w", w.ID(), domain.ErrNotFound)
	}
	next := &walletState{row: toWalletRow(w, time.Now().UTC()), lots: slices.Clone(cur.lots), dirty: true}
	for _, l := range w.ChangedLots() {
		row := toLotRow(w.ID(), l)
		if i := slices.IndexFunc(next.lots, func(s lotState) bool { return s.row.ID == row.ID }); i >= 0 {
			next.lots[i] = lotState{row: row, dirty: true}
		} else {
			next.lots = append(next.lots, lotState{row: row, dirty: true})
		}
	}
	r.u.wallets[k] = next
	return nil
}

func (r unitWallets) DueForExpiry(context.Context, time.Time, int) ([]application.WalletRef, error) {
	return nil, fmt.Errorf("wallets due for expiry: %w", errOutsideOnly)
}

type unitLedger struct{ u *unit }

func (r unitLedger) Append(_ context.Context, txs ...domain.Transaction) error {
	txRows, postingRows := toLedgerRows(txs)
	r.u.txs = append(r.u.txs, txRows...)
	r.u.postings = append(r.u.postings, postingRows...)
	return nil
}

func (r unitLedger) History(context.Context, domain.WalletID, *domain.TransactionID, int) ([]domain.Transaction, error) {
	return nil, fmt.Errorf("history: %w", errOutsideOnly)
}

type unitHolds struct{ u *unit }

// Get reads a hold the batch has not loaded from the database.
func (r unitHolds) Get(_ context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	h := r.u.hold(uuid.UUID(id))
	if h == nil {
		row, err := selectHold(r.u.b.ctx, r.u.b.tx, tenant, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, err
		} else if err != nil {
			return nil, r.u.b.fail(err)
		}
		h = &holdState{row: row}
		r.u.b.holds[row.ID] = h // as stored: no unit's change
	}
	if h.row.TenantID != uuid.UUID(tenant) {
		return nil, fmt.Errorf("hold %s: %w", id, domain.ErrNotFound)
	}
	return h.row.toDomain()
}

func (r unitHolds) Save(_ context.Context, h *domain.Hold) error {
	if _, err := unitWallets(r).lockable(h.Tenant(), h.AccountID()); err != nil {
		return fmt.Errorf("save hold %s: %w", h.ID(), err)
	}
	r.u.holds[uuid.UUID(h.ID())] = &holdState{row: toHoldRow(h, time.Now().UTC()), dirty: true}
	return nil
}

// ListOpen answers from the batch once the wallet's open holds are loaded;
// the first time it loads them, keeping whatever the batch already changed.
func (r unitHolds) ListOpen(_ context.Context, wallet domain.WalletID) ([]*domain.Hold, error) {
	b, id := r.u.b, uuid.UUID(wallet)
	if !b.openHolds[id] {
		rows, err := selectHolds(b.ctx, b.tx, nil, []uuid.UUID{id})
		if err != nil {
			return nil, b.fail(err)
		}
		for _, row := range rows {
			if b.holds[row.ID] == nil {
				b.holds[row.ID] = &holdState{row: row}
			}
		}
		b.openHolds[id] = true
	}
	var rows []holdRow
	open := func(h *holdState) bool { return h.row.WalletID == id && h.row.isOpen() }
	for hid, h := range b.holds {
		if mine, ok := r.u.holds[hid]; ok {
			h = mine
		}
		if open(h) {
			rows = append(rows, h.row)
		}
	}
	for hid, h := range r.u.holds {
		if b.holds[hid] == nil && open(h) {
			rows = append(rows, h.row)
		}
	}
	slices.SortFunc(rows, func(a, b holdRow) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return holdsFromRows(rows)
}

func (r unitHolds) Due(context.Context, time.Time, int) ([]application.HoldRef, error) {
	return nil, fmt.Errorf("due holds: %w", errOutsideOnly)
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
	if r.u.b.taken[k] || r.u.records[k] != nil {
		return fmt.Errorf("idempotency key %q: %w", rec.Key, application.ErrIdempotencyKeyTaken)
	}
	row := toIdempotencyRow(rec)
	r.u.records[k] = &row
	return nil
}

func (r unitIdempotency) Complete(_ context.Context, tenant domain.TenantID, key string, receipt application.Receipt) error {
	row := r.u.records[application.IdempotencyKey{Tenant: tenant, Key: key}]
	if row == nil {
		return fmt.Errorf("complete idempotency record %q: the key is not claimed in this unit of work", key)
	}
	row.Status, row.Body = receipt.Status, nonNilBytes(receipt.Body)
	return nil
}

func (r unitIdempotency) Get(context.Context, domain.TenantID, string) (application.IdempotencyRecord, error) {
	return application.IdempotencyRecord{}, fmt.Errorf("read idempotency record: %w", errOutsideOnly)
}

func (r unitIdempotency) DeleteBefore(context.Context, time.Time) (int, error) {
	return 0, fmt.Errorf("forget idempotency records: %w", errOutsideOnly)
}
