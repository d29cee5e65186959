package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
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
//  1. load: lock every wallet the group declared, in id order, in one
//     statement; read their open lots, the holds the group named or may
//     need, and which of its idempotency keys are taken (this file);
//  2. run each unit of work in memory on what the ones before it left: a
//     unit's writes go to drafts of the staged tables that join the batch
//     when it succeeds and are dropped when it fails, as a transaction of
//     its own would be (stage.go, unit.go);
//  3. store every staged table's written rows in one statement (write.go),
//     and commit.
//
// Reads a unit of work makes beyond what was loaded (rare) go to the database
// inside the same transaction.
//
// How a table joins a unit of work (say, orders, a webhook inbox, refunds):
//
//  1. a migration creates it; a row struct and its conversions to and from
//     the domain go in rows.go;
//  2. a table[R] in write.go declares the columns the batch stores, which
//     are fixed and which a later write updates (the schema test then checks
//     them against the row struct and the database);
//  3. one staged table in batch (a field, staged in newBatch) and its draft
//     in unit (a field, drafted in batch.unit): nothing else in loading,
//     committing or writing changes;
//  4. a unit repository (unit.go) implementing the application's port: it
//     reads a row the batch has not loaded from the database inside the
//     transaction (locking it FOR UPDATE when the unit will change it, as
//     unitHolds.Get reads a hold), loads it into the staged table, and puts
//     what the unit writes in its draft;
//  5. if units of two concurrent batches could change the same row, the row
//     needs a key in application.Scope (as wallets and idempotency keys
//     have), so the group queue never runs them at once (uow.go scopeKeys).
//
// A table read on every unit of work should instead be loaded up front, in
// load, with one statement for the whole batch.
type batch struct {
	ctx context.Context
	tx  bun.Tx
	now time.Time // the injected clock when the batch began

	tables   []stagedTable // in the order the write statement stores them
	wallets  *staged[walletKey, walletState, walletRow]
	lots     *staged[uuid.UUID, lotRow, lotRow]
	txs      *staged[uuid.UUID, transactionRow, transactionRow]
	postings *staged[postingKey, postingRow, postingRow]
	// reversals are the links of the reversals the batch wrote (never loaded).
	reversals *staged[uuid.UUID, reversalRow, reversalRow]
	holds     *staged[uuid.UUID, holdRow, holdRow]
	records   *staged[application.IdempotencyKey, idempotencyRow, idempotencyRow]
	orders    *staged[string, orderRow, orderRow]
	// events are the outbox rows the batch wrote (never loaded).
	events *staged[uuid.UUID, eventRow, eventRow]

	openHolds map[uuid.UUID]bool // wallets whose open holds are all loaded
	// captures are the stored CAPTURE transactions of holds, by hold, for
	// the holds loaded (those the scopes name, whose responses show them);
	// captures the batch makes are in txs.
	captures map[uuid.UUID][]transactionRow

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

func walletKeyOf(r walletRow) walletKey { return walletKey{r.TenantID, r.AccountID} }

func compareWalletKeys(a, b walletKey) int {
	return compareKeys(a.tenant, a.account, b.tenant, b.account)
}

// compareKeys orders (tenant, text) keys as PostgreSQL's indexes do: the
// text columns are COLLATE "C", byte by byte.
func compareKeys(tenantA uuid.UUID, a string, tenantB uuid.UUID, b string) int {
	return cmp.Or(bytes.Compare(tenantA[:], tenantB[:]), cmp.Compare(a, b))
}

// walletState is a locked wallet as the batch knows it: its row and the ids
// of its lots in the batch (open ones loaded, and those created since, which
// may have been emptied).
type walletState struct {
	row  walletRow
	lots []uuid.UUID
}

type postingKey struct {
	tx  uuid.UUID
	seq int16
}

// holdsDueMargin widens which wallets' open holds are loaded up front: those
// with a hold expiring within it, which a unit of work may have to expire.
const holdsDueMargin = 2 * time.Second

func newBatch(ctx context.Context, tx bun.Tx, now time.Time) *batch {
	b := &batch{ctx: ctx, tx: tx, now: now, openHolds: map[uuid.UUID]bool{}, captures: map[uuid.UUID][]transactionRow{}}
	b.wallets = stage[walletKey](b, walletsTable, func(w walletState) walletRow { return w.row })
	b.lots = stage[uuid.UUID](b, lotsTable, asIs[lotRow])
	b.txs = stage[uuid.UUID](b, transactionsTable, asIs[transactionRow])
	b.postings = stage[postingKey](b, postingsTable, asIs[postingRow])
	b.reversals = stage[uuid.UUID](b, reversalsTable, asIs[reversalRow])
	b.holds = stage[uuid.UUID](b, holdsTable, asIs[holdRow])
	b.records = stage[application.IdempotencyKey](b, idempotencyTable, asIs[idempotencyRow])
	b.orders = stage[string](b, ordersTable, asIs[orderRow])
	b.events = stage[uuid.UUID](b, eventsTable, asIs[eventRow])
	return b
}

// load locks and reads what the scopes name.
func (b *batch) load(scopes []application.Scope) error {
	var accounts []walletKey
	var holdKeys []application.HoldKey
	var keys []application.IdempotencyKey
	var orders []string
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
		for _, o := range s.Orders {
			if !seen[o] {
				seen[o] = true
				orders = append(orders, o.String())
			}
		}
	}

	locked, err := lockWallets(b.ctx, b.tx, accounts, holdKeys)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(locked))
	byID := make(map[uuid.UUID]walletKey, len(locked))
	var holdsDue []uuid.UUID
	dueBy := b.now.Add(holdsDueMargin)
	for i, row := range locked {
		ids[i], byID[row.ID] = row.ID, walletKeyOf(row)
		if row.HoldsDueAt != nil && row.HoldsDueAt.Before(dueBy) {
			holdsDue = append(holdsDue, row.ID)
		}
	}
	lotsOf := map[uuid.UUID][]uuid.UUID{}
	if len(ids) > 0 {
		lots, err := selectOpenLots(b.ctx, b.tx, ids)
		if err != nil {
			return err
		}
		for _, l := range lots {
			b.lots.load(l.ID, l)
			lotsOf[l.WalletID] = append(lotsOf[l.WalletID], l.ID)
		}
	}
	for _, row := range locked {
		b.wallets.load(walletKeyOf(row), walletState{row: row, lots: lotsOf[row.ID]})
	}
	if len(holdKeys) > 0 || len(holdsDue) > 0 {
		if err := b.loadHolds(holdKeys, holdsDue); err != nil {
			return err
		}
		// A hold created after the lock statement ran, by a transaction that
		// has committed since, names a wallet the batch has not locked: run
		// the batch again, which will lock it.
		for _, h := range holdKeys {
			if hs, ok := b.holds.get(uuid.UUID(h.Hold)); ok {
				if _, locked := b.wallets.get(walletKey{hs.TenantID, hs.AccountID}); !locked {
					return fmt.Errorf("hold %s: %w: its wallet was not locked", hs.ID, errRetryable)
				}
			}
		}
	}
	if len(orders) > 0 {
		locked, err := lockOrders(b.ctx, b.tx, orders)
		if err != nil {
			return err
		}
		for _, o := range locked {
			b.orders.load(o.PaymentID, o)
		}
	}
	if len(keys) > 0 {
		taken, err := selectTakenKeys(b.ctx, b.tx, keys)
		if err != nil {
			return err
		}
		for _, r := range taken {
			b.records.load(application.IdempotencyKey{Tenant: domain.TenantID(r.TenantID), Key: r.Key}, r)
		}
	}
	return nil
}

// loadHolds reads the holds named by (tenant, id), with their captures, and
// every open hold of the given wallets, into the batch. Captures are made
// only under the wallet's lock, so none can be added while the batch runs
// (and a hold whose wallet is not locked makes the batch run again).
func (b *batch) loadHolds(named []application.HoldKey, openOf []uuid.UUID) error {
	rows, err := selectHoldsWithCaptures(b.ctx, b.tx, named, openOf)
	if err != nil {
		return err
	}
	for _, row := range rows {
		b.holds.load(row.ID, row.holdRow)
		if !row.Named {
			continue
		}
		captures := make([]transactionRow, len(row.Captures))
		for i, c := range row.Captures {
			captures[i] = transactionRow{ID: c.ID, HoldID: &row.ID, Type: domain.TransactionCapture.String(), Amount: c.Amount,
				Reason: c.Reason, Metadata: c.Metadata, CreatedAt: c.CreatedAt}
		}
		b.captures[row.ID] = captures
	}
	for _, w := range openOf {
		b.openHolds[w] = true
	}
	return nil
}

// loadCaptures reads the stored captures of holds whose wallets are locked,
// for a hold the batch did not name when it loaded its holds.
func (b *batch) loadCaptures(holds []uuid.UUID) error {
	if len(holds) == 0 {
		return nil
	}
	rows, err := selectCaptures(b.ctx, b.tx, holds)
	if err != nil {
		return err
	}
	for _, h := range holds {
		if _, ok := b.captures[h]; !ok {
			b.captures[h] = nil
		}
	}
	for _, row := range rows {
		b.captures[*row.HoldID] = append(b.captures[*row.HoldID], row)
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

// flush stores what the batch's successful units of work wrote, in one
// round trip.
func (b *batch) flush() error {
	var writes []tableWrite
	for _, t := range b.tables {
		if w, ok := t.write(); ok {
			writes = append(writes, w)
		}
	}
	err := execWrites(b.ctx, b.tx, "write batch", writes)
	if errors.Is(err, application.ErrIdempotencyKeyTaken) {
		// Another transaction claimed the same key and has committed: run the
		// batch again, which will see it. (A wallet created twice is
		// retryable already.)
		return fmt.Errorf("%w: %w", errRetryable, err)
	}
	return err
}
