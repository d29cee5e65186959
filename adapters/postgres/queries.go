package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// NewQueries reads committed state on db, outside any unit of work. Wallet
// reads that arrive together share a statement, with up to cfg.ReadLanes
// statements at once.
func NewQueries(db *bun.DB, cfg Config) application.Queries {
	reader := newGroupQueue(maxBatch, cfg.readLanes(), 1, func(reads []*walletRead) { readShared(db, reads) }, nil)
	return application.Queries{
		Wallets:     &walletQueries{db: db, reader: reader},
		Ledger:      ledgerQueries{db},
		Holds:       holdQueries{db},
		Idempotency: idempotencyQueries{db},
		Orders:      orderQueries{db},
		Reports:     reportQueries{db},
		Lookups:     lookupQueries{db},
	}
}

// NewIdempotencyCleaner forgets old idempotency records on db.
func NewIdempotencyCleaner(db *bun.DB) application.IdempotencyCleaner { return idempotencyQueries{db} }

var (
	_ application.WalletQueries      = (*walletQueries)(nil)
	_ application.LedgerQueries      = ledgerQueries{}
	_ application.HoldQueries        = holdQueries{}
	_ application.IdempotencyQueries = idempotencyQueries{}
	_ application.IdempotencyCleaner = idempotencyQueries{}
)

// walletQueries read wallets; Get calls that arrive together share one statement.
type walletQueries struct {
	db     *bun.DB
	reader *groupQueue[*walletRead]
}

// Get reads the wallet and its open lots in one statement, so the balance
// and the lots come from the same snapshot.
func (q *walletQueries) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	read := &walletRead{ctx: ctx, key: keyOf(tenant, account)}
	if err := q.reader.do(ctx, read); err != nil {
		return nil, gaveUp(err)
	}
	return read.wallet, read.err
}

// GetWithOpenHolds reads the wallet with its lots, then its open holds, in
// one REPEATABLE READ transaction: both statements see one snapshot.
func (q *walletQueries) GetWithOpenHolds(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, []*domain.Hold, error) {
	var w *domain.Wallet
	var open []*domain.Hold
	err := q.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		read := &walletRead{ctx: ctx, key: keyOf(tenant, account)}
		readWallets(ctx, tx, []*walletRead{read})
		if read.err != nil {
			return read.err
		}
		rows, err := selectHolds(ctx, tx, nil, []uuid.UUID{uuid.UUID(read.wallet.ID())})
		if err != nil {
			return err
		}
		w = read.wallet
		open, err = holdsFromRows(rows)
		return err
	})
	if err != nil {
		return nil, nil, translate(err, "read wallet with its holds")
	}
	return w, open, nil
}

func (q *walletQueries) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]application.DueWallet, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var rows []struct {
		TenantID  uuid.UUID `bun:"tenant_id"`
		AccountID string    `bun:"account_id"`
		DueAt     time.Time `bun:"due_at"`
	}
	err := q.db.NewRaw(`
		SELECT w.tenant_id, w.account_id, min(l.expires_at) AS due_at
		FROM lots l JOIN wallets w ON w.id = l.wallet_id
		WHERE l.open AND l.expires_at IS NOT NULL AND l.expires_at <= ? AND l.remaining > l.held
		GROUP BY w.tenant_id, w.account_id
		ORDER BY due_at, w.tenant_id, w.account_id -- the longest overdue first, then a fixed order
		LIMIT ?`, now, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "find wallets due for expiry")
	}
	due := make([]application.DueWallet, 0, len(rows))
	for _, row := range rows {
		account, err := domain.ParseAccountID(row.AccountID)
		if err != nil {
			return nil, err
		}
		due = append(due, application.DueWallet{WalletRef: application.WalletRef{Tenant: domain.TenantID(row.TenantID), Account: account}, DueAt: row.DueAt.UTC()})
	}
	return due, nil
}

// walletRead is one Get.
type walletRead struct {
	ctx    context.Context
	key    walletKey
	wallet *domain.Wallet
	err    error
}

// readTimeout bounds a statement that reads wallets for several callers: its
// context is its own, so that no caller giving up can fail the others.
const readTimeout = 30 * time.Second

// readShared answers reads gathered from several callers.
func readShared(db bun.IDB, reads []*walletRead) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	readWallets(ctx, db, reads)
}

// readWallets answers reads with one statement. Each gets a wallet of its
// own, which its caller may change.
func readWallets(ctx context.Context, db bun.IDB, reads []*walletRead) {
	var keys []walletKey
	seen := map[walletKey]bool{}
	for _, r := range reads {
		if r.err = r.ctx.Err(); r.err == nil && !seen[r.key] {
			seen[r.key] = true
			keys = append(keys, r.key)
		}
	}
	if len(keys) == 0 {
		return
	}
	rows, err := selectWalletsWithLots(ctx, db, keys)
	found := map[walletKey]*walletWithLots{}
	for _, row := range rows {
		k := walletKeyOf(row.walletRow)
		w := found[k]
		if w == nil {
			w = &walletWithLots{row: row.walletRow}
			found[k] = w
		}
		if row.LotID != nil {
			w.lots = append(w.lots, row.lot())
		}
	}
	for _, r := range reads {
		switch w := found[r.key]; {
		case r.err != nil:
		case err != nil:
			r.err = err
		case w == nil:
			r.err = fmt.Errorf("wallet of %q: %w", r.key.account, domain.ErrNotFound)
		default:
			r.wallet, r.err = walletFromRows(w.row, w.lots)
		}
	}
}

type walletWithLots struct {
	row  walletRow
	lots []lotRow
}

// walletWithLotRow is one row of the snapshot join in Get; the lot columns
// are NULL for a wallet without open lots.
type walletWithLotRow struct {
	walletRow      `bun:",extend"`
	LotID          *uuid.UUID       `bun:"lot_id"`
	LotSource      *string          `bun:"lot_source"`
	LotAmount      *decimal.Decimal `bun:"lot_amount"`
	LotRemaining   *decimal.Decimal `bun:"lot_remaining"`
	LotHeld        *decimal.Decimal `bun:"lot_held"`
	LotPriority    *int             `bun:"lot_priority"`
	LotExpiresAt   *time.Time       `bun:"lot_expires_at"`
	LotCreatedAt   *time.Time       `bun:"lot_created_at"`
	LotFundingKind *string          `bun:"lot_funding_kind"`
	LotFundingRef  *string          `bun:"lot_funding_ref"`
}

func (row walletWithLotRow) lot() lotRow {
	return lotRow{ID: *row.LotID, WalletID: row.ID, Source: *row.LotSource, Amount: *row.LotAmount,
		Remaining: *row.LotRemaining, Held: *row.LotHeld, Priority: *row.LotPriority, ExpiresAt: row.LotExpiresAt,
		CreatedAt: *row.LotCreatedAt, FundingKind: row.LotFundingKind, FundingRef: row.LotFundingRef}
}

type ledgerQueries struct{ db bun.IDB }

type holdQueries struct{ db bun.IDB }

func (q holdQueries) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	row, err := selectHold(ctx, q.db, tenant, id)
	if err != nil {
		return nil, err
	}
	return row.toDomain()
}

// GetWithCaptures reads the hold, then its captures, in one REPEATABLE READ
// transaction, so its captured amount and its captures agree.
func (q holdQueries) GetWithCaptures(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, []domain.HoldCapture, error) {
	var hold *domain.Hold
	var captures []domain.HoldCapture
	err := q.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		row, err := selectHold(ctx, tx, tenant, id)
		if err != nil {
			return err
		}
		if hold, err = row.toDomain(); err != nil {
			return err
		}
		rows, err := selectCaptures(ctx, tx, []uuid.UUID{row.ID})
		if err != nil {
			return err
		}
		captures, err = capturesFromRows(rows)
		return err
	})
	if err != nil {
		return nil, nil, translate(err, "read hold with its captures")
	}
	return hold, captures, nil
}

func (q holdQueries) Due(ctx context.Context, now time.Time, limit int) ([]application.HoldRef, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var rows []holdRow
	err := q.db.NewSelect().Model(&rows).Column("id", "tenant_id", "account_id", "expires_at").
		Where("open AND expires_at <= ?", now).
		OrderExpr("expires_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "find due holds")
	}
	refs := make([]application.HoldRef, len(rows))
	for i, row := range rows {
		account, err := domain.ParseAccountID(row.AccountID)
		if err != nil {
			return nil, err
		}
		refs[i] = application.HoldRef{Tenant: domain.TenantID(row.TenantID), Account: account, Hold: domain.HoldID(row.ID), ExpiresAt: row.ExpiresAt.UTC()}
	}
	return refs, nil
}

type idempotencyQueries struct{ db bun.IDB }

func (q idempotencyQueries) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	var row idempotencyRow
	err := q.db.NewSelect().Model(&row).Where("tenant_id = ? AND key = ?", uuid.UUID(tenant), key).Scan(ctx)
	if err != nil {
		return application.IdempotencyRecord{}, translate(err, "read idempotency record")
	}
	return application.IdempotencyRecord{Tenant: tenant, Key: row.Key, Fingerprint: row.Fingerprint,
		Receipt: application.Receipt{Status: row.Status, Body: row.Body}, CreatedAt: row.CreatedAt.UTC()}, nil
}

func (q idempotencyQueries) DeleteBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := q.db.NewDelete().Model((*idempotencyRow)(nil)).Where("created_at < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err, "forget idempotency records")
	}
	n, err := res.RowsAffected()
	return int(n), err
}
