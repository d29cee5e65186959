package memory

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type lookupQueries struct{ queries }

var _ application.LookupQueries = lookupQueries{}

func (q lookupQueries) Wallets(ctx context.Context, tenant domain.TenantID, after *domain.AccountID, limit int) ([]application.WalletWithHolds, error) {
	var out []application.WalletWithHolds
	err := q.s.read(ctx, func(d db) error {
		var recs []walletRecord
		for k, rec := range d.wallets.all {
			if k.tenant == tenant && (after == nil || k.account.String() > after.String()) {
				recs = append(recs, rec)
			}
		}
		// bytewise, as PostgreSQL's "C" collation orders account ids
		slices.SortFunc(recs, func(a, b walletRecord) int { return strings.Compare(a.account.String(), b.account.String()) })
		for _, rec := range recs[:min(len(recs), max(limit, 0))] {
			out = append(out, application.WalletWithHolds{Wallet: rec.toDomain(), Open: openHolds(d, rec.id)})
		}
		return nil
	})
	return out, err
}

func (q lookupQueries) History(ctx context.Context, f application.HistoryFilter, limit int) ([]domain.Transaction, error) {
	var recs []txRecord
	err := q.s.read(ctx, func(d db) error {
		for id, t := range d.ledger.all {
			if t.wallet == f.Wallet && (f.Before == nil || compareIDs(id, *f.Before) < 0) &&
				(len(f.Types) == 0 || slices.Contains(f.Types, t.typ)) &&
				(f.From == nil || !t.createdAt.Before(*f.From)) && (f.To == nil || t.createdAt.Before(*f.To)) {
				recs = append(recs, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b txRecord) int { return compareIDs(b.id, a.id) }) // newest first
	return txsOf(recs[:min(len(recs), max(limit, 0))])
}

func (q lookupQueries) Holds(ctx context.Context, f application.HoldFilter, limit int) ([]application.HoldView, error) {
	var views []application.HoldView
	err := q.s.read(ctx, func(d db) error {
		for id, h := range d.holds.all {
			if h.wallet != f.Wallet || (f.Before != nil && bytes.Compare(id[:], f.Before[:]) >= 0) {
				continue
			}
			if dh := h.toDomain(); len(f.Statuses) == 0 || slices.Contains(f.Statuses, dh.StatusAt(f.Now)) {
				views = append(views, application.HoldView{Hold: dh, Captures: holdCaptures(d, id)})
			}
		}
		return nil
	})
	slices.SortFunc(views, func(a, b application.HoldView) int {
		x, y := a.Hold.ID(), b.Hold.ID()
		return bytes.Compare(y[:], x[:])
	})
	return views[:min(len(views), max(limit, 0))], err
}

func (q lookupQueries) Lots(ctx context.Context, f application.LotFilter, limit int) ([]application.LotOfAccount, error) {
	var out []application.LotOfAccount
	err := q.s.read(ctx, func(d db) error {
		for k, w := range d.wallets.all {
			if k.tenant != f.Tenant {
				continue
			}
			for _, l := range w.lots {
				if !l.expires || !l.remaining.IsPositive() || !l.expiresAt.After(f.Now) || !l.expiresAt.Before(f.Before) {
					continue
				}
				if f.After != nil && compareLot(l.expiresAt, l.id, f.After.ExpiresAt, f.After.Lot) <= 0 {
					continue
				}
				out = append(out, application.LotOfAccount{Account: k.account, Lot: l.toDomain()})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b application.LotOfAccount) int {
		return compareLot(*a.Lot.ExpiresAt(), a.Lot.ID(), *b.Lot.ExpiresAt(), b.Lot.ID())
	})
	return out[:min(len(out), max(limit, 0))], err
}

// compareLot orders lots by expiry, then id, as the listing does.
func compareLot(at time.Time, id domain.LotID, bt time.Time, bid domain.LotID) int {
	return cmp.Or(at.Compare(bt), bytes.Compare(id[:], bid[:]))
}

func txsOf(recs []txRecord) ([]domain.Transaction, error) {
	out := make([]domain.Transaction, 0, len(recs))
	for _, rec := range recs {
		t, err := rec.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
