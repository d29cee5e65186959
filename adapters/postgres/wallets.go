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

// walletRepo reads and writes wallets directly, outside any unit of work.
// With a reader, Get calls that arrive together share one statement.
type walletRepo struct {
	db     bun.IDB
	reader *groupQueue[*walletRead]
}

var _ application.WalletRepository = (*walletRepo)(nil)

// Lock outside a unit of work holds the lock only for its own statement.
func (r *walletRepo) Lock(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	var row walletRow
	err := r.db.NewSelect().Model(&row).
		Where("tenant_id = ? AND account_id = ?", uuid.UUID(tenant), account.String()).
		For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, translate(err, "lock wallet")
	}
	return r.withLots(ctx, row)
}

// LockOrCreate inserts the wallet or, when it exists, locks it, in one
// statement: ON CONFLICT DO UPDATE takes the row lock and returns the latest row.
func (r *walletRepo) LockOrCreate(ctx context.Context, fresh *domain.Wallet) (*domain.Wallet, error) {
	row := toWalletRow(fresh, fresh.CreatedAt())
	err := r.db.NewInsert().Model(&row).
		On("CONFLICT (tenant_id, account_id) DO UPDATE").Set("updated_at = EXCLUDED.updated_at").
		Returning("*").Scan(ctx, &row)
	if err != nil {
		return nil, translate(err, "lock or create wallet")
	}
	return r.withLots(ctx, row)
}

func (r *walletRepo) withLots(ctx context.Context, row walletRow) (*domain.Wallet, error) {
	lots, err := selectOpenLots(ctx, r.db, []uuid.UUID{row.ID})
	if err != nil {
		return nil, err
	}
	return walletFromRows(row, lots)
}

// Get reads the wallet and its open lots in one statement, so the balance
// and the lots come from the same snapshot.
func (r *walletRepo) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	read := &walletRead{ctx: ctx, key: keyOf(tenant, account)}
	if r.reader != nil {
		r.reader.do(read)
	} else {
		readWallets(ctx, r.db, []*walletRead{read})
	}
	return read.wallet, read.err
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
		k := walletKey{row.TenantID, row.AccountID}
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
	walletRow    `bun:",extend"`
	LotID        *uuid.UUID       `bun:"lot_id"`
	LotSource    *string          `bun:"lot_source"`
	LotAmount    *decimal.Decimal `bun:"lot_amount"`
	LotRemaining *decimal.Decimal `bun:"lot_remaining"`
	LotHeld      *decimal.Decimal `bun:"lot_held"`
	LotPriority  *int             `bun:"lot_priority"`
	LotExpiresAt *time.Time       `bun:"lot_expires_at"`
	LotCreatedAt *time.Time       `bun:"lot_created_at"`
}

func (row walletWithLotRow) lot() lotRow {
	return lotRow{ID: *row.LotID, WalletID: row.ID, Source: *row.LotSource, Amount: *row.LotAmount,
		Remaining: *row.LotRemaining, Held: *row.LotHeld, Priority: *row.LotPriority, ExpiresAt: row.LotExpiresAt,
		CreatedAt: *row.LotCreatedAt}
}

// Save outside a unit of work writes the wallet and its changed lots at once.
func (r *walletRepo) Save(ctx context.Context, w *domain.Wallet) error {
	changed := w.ChangedLots()
	lots := make([]lotRow, 0, len(changed))
	for _, l := range changed {
		lots = append(lots, toLotRow(w.ID(), l))
	}
	return writeRows(ctx, r.db, "save wallet", rowsToWrite{wallets: []walletRow{toWalletRow(w, time.Now().UTC())}, lots: lots})
}

func (r *walletRepo) DueForExpiry(ctx context.Context, now time.Time, limit int) ([]application.WalletRef, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var rows []struct {
		ID        uuid.UUID `bun:"id"`
		TenantID  uuid.UUID `bun:"tenant_id"`
		AccountID string    `bun:"account_id"`
	}
	err := r.db.NewRaw(`
		SELECT DISTINCT w.id, w.tenant_id, w.account_id
		FROM lots l JOIN wallets w ON w.id = l.wallet_id
		WHERE l.open AND l.expires_at IS NOT NULL AND l.expires_at <= ? AND l.remaining > l.held
		ORDER BY w.id -- a deterministic batch: the oldest wallets first
		LIMIT ?`, now, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, translate(err, "find wallets due for expiry")
	}
	refs := make([]application.WalletRef, 0, len(rows))
	for _, row := range rows {
		account, err := domain.ParseAccountID(row.AccountID)
		if err != nil {
			return nil, err
		}
		refs = append(refs, application.WalletRef{Tenant: domain.TenantID(row.TenantID), Account: account})
	}
	return refs, nil
}

func walletFromRows(row walletRow, lots []lotRow) (*domain.Wallet, error) {
	ls := make([]*domain.Lot, 0, len(lots))
	for _, lr := range lots {
		l, err := lr.toDomain()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return row.toDomain(ls)
}
