package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// ledgerRepo reads and appends transactions directly, outside any unit of work.
type ledgerRepo struct{ db bun.IDB }

var _ application.LedgerRepository = (*ledgerRepo)(nil)

// Append inserts the transactions, then all their postings in one statement,
// which the postings_balanced trigger checks per transaction.
func (r *ledgerRepo) Append(ctx context.Context, txs ...domain.Transaction) error {
	txRows, postingRows := toLedgerRows(txs)
	return writeRows(ctx, r.db, "append transactions", rowsToWrite{txs: txRows, postings: postingRows})
}

// toLedgerRows turns transactions into their rows and their postings' rows.
func toLedgerRows(txs []domain.Transaction) ([]transactionRow, []postingRow) {
	txRows := make([]transactionRow, 0, len(txs))
	var postingRows []postingRow
	for _, t := range txs {
		var hold *uuid.UUID
		if h := t.Hold(); h != nil {
			u := uuid.UUID(*h)
			hold = &u
		}
		txRows = append(txRows, transactionRow{ID: uuid.UUID(t.ID()), TenantID: uuid.UUID(t.Tenant()), WalletID: uuid.UUID(t.Wallet()),
			AccountID: t.AccountID().String(), Type: t.Type().String(), Amount: t.Amount().Decimal(), BalanceAfter: t.BalanceAfter().Decimal(), HoldID: hold,
			Reason: t.Memo().Reason, Metadata: nonNil(t.Memo().Metadata), CreatedAt: t.CreatedAt()})
		for i, p := range t.Postings() {
			row := postingRow{TransactionID: uuid.UUID(t.ID()), Seq: int16(i), TenantID: uuid.UUID(t.Tenant()), Amount: p.Amount.Decimal()}
			if p.IsSystem() {
				s := p.System.String()
				row.SystemAccount = &s
			} else {
				w, l := uuid.UUID(p.Wallet), uuid.UUID(p.Lot)
				row.WalletID, row.LotID = &w, &l
			}
			postingRows = append(postingRows, row)
		}
	}
	return txRows, postingRows
}

func (r *ledgerRepo) History(ctx context.Context, wallet domain.WalletID, before *domain.TransactionID, limit int) ([]domain.Transaction, error) {
	if limit <= 0 { // bun reads LIMIT 0 as no limit
		return nil, nil
	}
	var txRows []transactionRow
	q := r.db.NewSelect().Model(&txRows).Where("wallet_id = ?", uuid.UUID(wallet)).OrderExpr("id DESC").Limit(int64(limit))
	if before != nil {
		q = q.Where("id < ?", uuid.UUID(*before))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err, "read history")
	}
	if len(txRows) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(txRows))
	for i, t := range txRows {
		ids[i] = t.ID
	}
	var postingRows []postingRow
	err := r.db.NewSelect().Model(&postingRows).Where("transaction_id IN (?)", bun.List(ids)).
		OrderExpr("transaction_id, seq").Scan(ctx)
	if err != nil {
		return nil, translate(err, "read postings")
	}
	byTx := map[uuid.UUID][]postingRow{}
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

func (r transactionRow) toDomain(postings []postingRow) (domain.Transaction, error) {
	typ, err := domain.TransactionTypeFromString(r.Type)
	if err != nil {
		return domain.Transaction{}, err
	}
	amount, err := credits(r.Amount, "transaction amount")
	if err != nil {
		return domain.Transaction{}, err
	}
	after, err := credits(r.BalanceAfter, "balance after")
	if err != nil {
		return domain.Transaction{}, err
	}
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return domain.Transaction{}, err
	}
	ps := make([]domain.Posting, 0, len(postings))
	for _, p := range postings {
		amt, err := credits(p.Amount, "posting amount")
		if err != nil {
			return domain.Transaction{}, err
		}
		posting := domain.Posting{Amount: amt}
		if p.SystemAccount != nil {
			if posting.System, err = domain.SystemAccountFromString(*p.SystemAccount); err != nil {
				return domain.Transaction{}, err
			}
		} else {
			posting.Wallet, posting.AccountID, posting.Lot = domain.WalletID(*p.WalletID), account, domain.LotID(*p.LotID)
		}
		ps = append(ps, posting)
	}
	var hold *domain.HoldID
	if r.HoldID != nil {
		h := domain.HoldID(*r.HoldID)
		hold = &h
	}
	return domain.RehydrateTransaction(domain.TransactionID(r.ID), domain.TenantID(r.TenantID), typ, domain.WalletID(r.WalletID),
		account, amount, after, hold, domain.Memo{Reason: r.Reason, Metadata: r.Metadata}, r.CreatedAt.UTC(), ps)
}
