package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type unitReversals struct{ u *unit }

// Reversed is the sum of the reversals of original committed before the
// unit's wallet lock was taken (this READ COMMITTED statement runs after it,
// so it sees every one), plus those written earlier in this batch (staged,
// not in the database yet) and by the unit itself. Every reversal of
// original locks original's wallet, so no other can commit meanwhile.
func (r unitReversals) Reversed(_ context.Context, original domain.TransactionID) (domain.Credits, error) {
	b := r.u.b
	var sum decimal.Decimal
	err := queryPrepared(b.ctx, b.tx, &sum, `SELECT coalesce(sum(amount), 0) FROM transaction_reversals WHERE original_id = $1`,
		uuid.UUID(original))
	if err != nil {
		return domain.Credits{}, b.fail(translate(err, "sum reversals"))
	}
	for _, l := range r.u.reversals.all {
		if l.OriginalID == uuid.UUID(original) {
			sum = sum.Add(l.Amount)
		}
	}
	return credits(sum, "reversed amount")
}

// Lots reads lots of a locked wallet as the batch has them, or else from the
// database: lots change only under their wallet's lock, which the batch holds.
func (r unitReversals) Lots(_ context.Context, wallet domain.WalletID, lots []domain.LotID) ([]*domain.Lot, error) {
	if len(lots) == 0 {
		return nil, nil
	}
	b := r.u.b
	locked := false
	for _, w := range r.u.wallets.all {
		if w.row.ID == uuid.UUID(wallet) && r.u.lockable[walletKeyOf(w.row)] {
			locked = true
			break
		}
	}
	if !locked {
		return nil, fmt.Errorf("read lots of wallet %s: %w", wallet, application.ErrOutOfScope)
	}
	var rows []lotRow
	var missing []uuid.UUID
	for _, id := range lots {
		if l, ok := r.u.lots.get(uuid.UUID(id)); ok {
			rows = append(rows, l)
		} else {
			missing = append(missing, uuid.UUID(id))
		}
	}
	if len(missing) > 0 {
		var read []lotRow
		err := queryPrepared(b.ctx, b.tx, &read, `SELECT * FROM lots WHERE id = ANY($1::uuid[])`, values(missing, ids))
		if err != nil {
			return nil, b.fail(translate(err, "read lots"))
		}
		for _, l := range read {
			b.lots.load(l.ID, l)
		}
		rows = append(rows, read...)
	}
	out := make([]*domain.Lot, 0, len(rows))
	for _, row := range rows {
		if row.WalletID != uuid.UUID(wallet) {
			continue
		}
		l, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (q ledgerQueries) Get(ctx context.Context, tenant domain.TenantID, id domain.TransactionID) (domain.Transaction, error) {
	var row transactionRow
	err := q.db.NewSelect().Model(&row).Where("id = ? AND tenant_id = ?", uuid.UUID(id), uuid.UUID(tenant)).Scan(ctx)
	if err != nil {
		return domain.Transaction{}, translate(err, "read transaction")
	}
	var postings []postingWithLot
	err = q.db.NewSelect().Model(&postings).
		ColumnExpr("p.*, l.source AS lot_source, l.funding_kind AS lot_funding_kind, l.funding_ref AS lot_funding_ref").
		Join("LEFT JOIN lots AS l ON l.id = p.lot_id").
		Where("p.transaction_id = ?", row.ID).OrderExpr("p.seq").Scan(ctx)
	if err != nil {
		return domain.Transaction{}, translate(err, "read postings")
	}
	t, err := row.toDomain(postings)
	if err != nil || t.Type() != domain.TransactionReversal {
		return t, err
	}
	var link reversalRow
	if err := q.db.NewSelect().Model(&link).Where("transaction_id = ?", row.ID).Scan(ctx); err != nil {
		return domain.Transaction{}, translate(err, "read reversal")
	}
	return domain.RehydrateReversal(t, domain.TransactionID(link.OriginalID))
}

func (q ledgerQueries) Reversals(ctx context.Context, ids []domain.TransactionID) (map[domain.TransactionID]application.ReversalInfo, error) {
	out := map[domain.TransactionID]application.ReversalInfo{}
	if len(ids) == 0 {
		return out, nil
	}
	list := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		list[i] = uuid.UUID(id)
	}
	var links []reversalRow
	err := q.db.NewSelect().Model(&links).
		Where("original_id IN (?) OR transaction_id IN (?)", bun.List(list), bun.List(list)).
		OrderExpr("transaction_id").Scan(ctx) // UUIDv7: oldest first
	if err != nil {
		return nil, translate(err, "read reversals")
	}
	for _, l := range links {
		if of := domain.TransactionID(l.OriginalID); slices.Contains(ids, of) {
			amount, err := credits(l.Amount, "reversal amount")
			if err != nil {
				return nil, err
			}
			info := out[of]
			info.Reversed = info.Reversed.Add(amount)
			info.By = append(info.By, domain.TransactionID(l.TransactionID))
			out[of] = info
		}
		if id := domain.TransactionID(l.TransactionID); slices.Contains(ids, id) {
			info := out[id]
			of := domain.TransactionID(l.OriginalID)
			info.Of = &of
			out[id] = info
		}
	}
	return out, nil
}
