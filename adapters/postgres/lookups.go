package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// lookupQueries answer the tenant's lookups. They are plain bun statements,
// not prepared ones: lookups are rare next to spends and balance reads, and
// their filters change the statement's shape.
type lookupQueries struct{ db *bun.DB }

var _ application.LookupQueries = lookupQueries{}

// Wallets reads a page of wallets, then their open lots and open holds, in
// one REPEATABLE READ transaction, so each balance matches its lots and holds.
func (q lookupQueries) Wallets(ctx context.Context, tenant domain.TenantID, after *domain.AccountID, limit int) ([]application.WalletWithHolds, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var out []application.WalletWithHolds
	err := q.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		var rows []walletRow
		// (tenant_id, account_id) is the unique key wallets_tenant_account_key, in the "C" collation: bytewise order.
		sel := tx.NewSelect().Model(&rows).Where("tenant_id = ?", uuid.UUID(tenant)).OrderExpr("account_id").Limit(int64(limit))
		if after != nil {
			sel = sel.Where("account_id > ?", after.String())
		}
		if err := sel.Scan(ctx); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		walletIDs := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			walletIDs[i] = r.ID
		}
		lots, err := selectOpenLots(ctx, tx, walletIDs)
		if err != nil {
			return err
		}
		holds, err := selectHolds(ctx, tx, nil, walletIDs)
		if err != nil {
			return err
		}
		lotsOf := map[uuid.UUID][]lotRow{}
		for _, l := range lots {
			lotsOf[l.WalletID] = append(lotsOf[l.WalletID], l)
		}
		holdsOf := map[uuid.UUID][]holdRow{}
		for _, h := range holds {
			holdsOf[h.WalletID] = append(holdsOf[h.WalletID], h)
		}
		out = make([]application.WalletWithHolds, 0, len(rows))
		for _, r := range rows {
			w, err := walletFromRows(r, lotsOf[r.ID])
			if err != nil {
				return err
			}
			open, err := holdsFromRows(holdsOf[r.ID])
			if err != nil {
				return err
			}
			out = append(out, application.WalletWithHolds{Wallet: w, Open: open})
		}
		return nil
	})
	return out, translate(err, "list wallets")
}

// History uses transactions_wallet_history (wallet_id, id DESC); the type
// and time filters are applied to the rows it yields, as an index for them
// would cost every write and per-wallet histories are short next to it.
func (q lookupQueries) History(ctx context.Context, f application.HistoryFilter, limit int) ([]domain.Transaction, error) {
	if limit <= 0 {
		return nil, nil
	}
	var rows []transactionRow
	sel := q.db.NewSelect().Model(&rows).Where("wallet_id = ?", uuid.UUID(f.Wallet)).OrderExpr("id DESC").Limit(int64(limit))
	if f.Before != nil {
		sel = sel.Where("id < ?", uuid.UUID(*f.Before))
	}
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = t.String()
		}
		sel = sel.Where("type IN (?)", bun.List(types))
	}
	if f.From != nil {
		sel = sel.Where("created_at >= ?", *f.From)
	}
	if f.To != nil {
		sel = sel.Where("created_at < ?", *f.To)
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, translate(err, "read history")
	}
	return withPostings(ctx, q.db, rows)
}

// Holds uses holds_by_wallet (wallet_id, id). A status is the status as of
// f.Now, so an open hold past its expiry counts as EXPIRED, not as what the
// row still says until the sweep reaches it.
func (q lookupQueries) Holds(ctx context.Context, f application.HoldFilter, limit int) ([]application.HoldView, error) {
	if limit <= 0 {
		return nil, nil
	}
	var views []application.HoldView
	err := q.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		var rows []holdRow
		sel := tx.NewSelect().Model(&rows).Where("wallet_id = ?", uuid.UUID(f.Wallet)).OrderExpr("id DESC").Limit(int64(limit))
		if f.Before != nil {
			sel = sel.Where("id < ?", uuid.UUID(*f.Before))
		}
		if len(f.Statuses) > 0 {
			sel = sel.WhereGroup(" AND ", func(s *bun.SelectQuery) *bun.SelectQuery {
				for _, st := range f.Statuses {
					switch {
					case st.IsOpen():
						s = s.WhereOr("(status = ? AND expires_at > ?)", st.String(), f.Now)
					case st == domain.HoldExpired:
						s = s.WhereOr("(status = ? OR (open AND expires_at <= ?))", st.String(), f.Now)
					default:
						s = s.WhereOr("status = ?", st.String())
					}
				}
				return s
			})
		}
		if err := sel.Scan(ctx); err != nil {
			return err
		}
		holds, err := holdsFromRows(rows)
		if err != nil {
			return err
		}
		ids := make([]uuid.UUID, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		captureRows, err := selectCaptures(ctx, tx, ids)
		if err != nil {
			return err
		}
		byHold := map[uuid.UUID][]transactionRow{}
		for _, c := range captureRows {
			byHold[*c.HoldID] = append(byHold[*c.HoldID], c)
		}
		views = make([]application.HoldView, len(holds))
		for i, h := range holds {
			captures, err := capturesFromRows(byHold[rows[i].ID])
			if err != nil {
				return err
			}
			views[i] = application.HoldView{Hold: h, Captures: captures}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "list holds")
	}
	return views, nil
}

// lotOfAccountRow is a lot with its wallet's account id.
type lotOfAccountRow struct {
	lotRow    `bun:",extend"`
	AccountID string `bun:"account_id"`
}

// Lots scans lots_expiring (expires_at) WHERE open AND expires_at IS NOT
// NULL from f.Now, keeping the tenant's rows: lots carry no tenant of their own.
func (q lookupQueries) Lots(ctx context.Context, f application.LotFilter, limit int) ([]application.LotOfAccount, error) {
	if limit <= 0 {
		return nil, nil
	}
	var rows []lotOfAccountRow
	sel := q.db.NewSelect().Model(&rows).ModelTableExpr("lots AS l").
		ColumnExpr("l.*, w.account_id").
		Join("JOIN wallets AS w ON w.id = l.wallet_id").
		Where("w.tenant_id = ?", uuid.UUID(f.Tenant)).
		// the predicate of lots_expiring, so the planner may use it
		Where("l.open AND l.expires_at IS NOT NULL").
		Where("l.expires_at > ? AND l.expires_at < ?", f.Now, f.Before).
		OrderExpr("l.expires_at, l.id").Limit(int64(limit))
	if f.After != nil {
		sel = sel.Where("(l.expires_at, l.id) > (?, ?)", f.After.ExpiresAt, uuid.UUID(f.After.Lot))
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, translate(err, "list lots")
	}
	out := make([]application.LotOfAccount, 0, len(rows))
	for _, r := range rows {
		account, err := domain.ParseAccountID(r.AccountID)
		if err != nil {
			return nil, err
		}
		l, err := r.lotRow.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, application.LotOfAccount{Account: account, Lot: l})
	}
	return out, nil
}

// withPostings reads the postings of transaction rows, each with what its
// lot says of its credits (source, funding), joined in rather than stored
// twice, and builds the transactions. Two statements suffice: a transaction
// and its postings are inserted by one statement and never change.
func withPostings(ctx context.Context, db bun.IDB, txRows []transactionRow) ([]domain.Transaction, error) {
	if len(txRows) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(txRows))
	for i, t := range txRows {
		ids[i] = t.ID
	}
	var postingRows []postingWithLot
	err := db.NewSelect().Model(&postingRows).
		ColumnExpr("p.*, l.source AS lot_source, l.funding_kind AS lot_funding_kind, l.funding_ref AS lot_funding_ref").
		Join("LEFT JOIN lots AS l ON l.id = p.lot_id").
		Where("p.transaction_id IN (?)", bun.List(ids)).OrderExpr("p.transaction_id, p.seq").Scan(ctx)
	if err != nil {
		return nil, translate(err, "read postings")
	}
	byTx := map[uuid.UUID][]postingWithLot{}
	for _, p := range postingRows {
		byTx[p.TransactionID] = append(byTx[p.TransactionID], p)
	}
	out := make([]domain.Transaction, 0, len(txRows))
	for _, row := range txRows {
		t, err := row.toDomain(byTx[row.ID])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
