package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type reportQueries struct{ db bun.IDB }

var _ application.ReportQueries = reportQueries{}

// summaryQuery reads the tenant's postings before the window's end once
// (moved), sums them per lot (per_lot), then answers three kinds of row:
//   - lots: per lot source and origin (an order's lot, or a grant through
//     the API), the window's flows and what remained at its end;
//   - deferred: per currency, the order-funded paid credits remaining at the
//     end and their worth, each lot priced as domain.PaidLotWorth does (div
//     truncates exactly);
//   - wallets: the debt owed at the end, and what the window's clawbacks
//     made debt or absorbed.
//
// It mirrors domain.SummaryBuilder. The tenant's transactions are found
// through its wallets (wallets_tenant_account_key, then
// transactions_wallet_history), not by an index of their own: every
// transaction would pay to keep one up, for a report read now and then (on
// 1M transactions, 4 ms for a tenant of 500 and ~190 ms for one of 10,000
// either way).
const summaryQuery = `
WITH moved AS MATERIALIZED (
	SELECT t.type, t.created_at >= ?0 AS in_w, p.lot_id, p.system_account, p.amount
	FROM wallets w JOIN transactions t ON t.wallet_id = w.id JOIN postings p ON p.transaction_id = t.id
	WHERE w.tenant_id = ?2 AND t.created_at < ?1
), per_lot AS (
	SELECT lot_id, sum(amount) AS remaining,
	       coalesce(sum(amount) FILTER (WHERE in_w AND type = 'GRANT' AND amount > 0), 0) AS granted,
	       coalesce(-sum(amount) FILTER (WHERE in_w AND type = 'GRANT' AND amount < 0), 0) AS debt_repaid,
	       coalesce(-sum(amount) FILTER (WHERE in_w AND type IN ('SPEND', 'CAPTURE')), 0) AS consumed,
	       coalesce(-sum(amount) FILTER (WHERE in_w AND type = 'EXPIRATION'), 0) AS expired,
	       coalesce(-sum(amount) FILTER (WHERE in_w AND type = 'CLAWBACK'), 0) AS refunded,
	       coalesce(sum(amount) FILTER (WHERE in_w AND type = 'REVERSAL' AND amount > 0), 0) AS returned,
	       coalesce(-sum(amount) FILTER (WHERE in_w AND type = 'REVERSAL' AND amount < 0), 0) AS taken_back
	FROM moved WHERE lot_id IS NOT NULL GROUP BY lot_id
)
SELECT 'lots' AS kind, l.source, l.funding_kind IS NOT DISTINCT FROM 'order' AS purchase, NULL AS currency,
       sum(pl.granted) AS granted, sum(pl.debt_repaid) AS debt_repaid, sum(pl.consumed) AS consumed,
       sum(pl.expired) AS expired, sum(pl.refunded) AS refunded, sum(pl.returned) AS returned,
       sum(pl.taken_back) AS taken_back, sum(pl.remaining) AS remaining, 0 AS worth, 0 AS debt, 0 AS absorbed
FROM per_lot pl JOIN lots l ON l.id = pl.lot_id
GROUP BY l.source, l.funding_kind IS NOT DISTINCT FROM 'order'
UNION ALL
SELECT 'deferred', NULL, NULL, o.currency, 0, 0, 0, 0, 0, 0, 0,
       sum(pl.remaining), sum(div(o.price_amount * pl.remaining, l.amount)), 0, 0
FROM per_lot pl JOIN lots l ON l.id = pl.lot_id
JOIN orders o ON o.payment_id = l.funding_ref AND o.tenant_id = ?2
WHERE l.source = 'paid' AND l.funding_kind = 'order' AND pl.remaining > 0
GROUP BY o.currency
UNION ALL
SELECT 'wallets', NULL, NULL, NULL, 0, 0, 0, 0,
       coalesce(-sum(amount) FILTER (WHERE in_w AND type = 'CLAWBACK' AND system_account IS NULL), 0), 0, 0, 0, 0,
       coalesce(-sum(amount) FILTER (WHERE system_account IS NULL), 0),
       coalesce(sum(amount) FILTER (WHERE in_w AND type = 'CLAWBACK' AND system_account = 'refund_losses'), 0)
FROM moved WHERE lot_id IS NULL`

type summaryRow struct {
	Kind       string          `bun:"kind"`
	Source     *string         `bun:"source"`
	Purchase   *bool           `bun:"purchase"`
	Currency   *string         `bun:"currency"`
	Granted    decimal.Decimal `bun:"granted"`
	DebtRepaid decimal.Decimal `bun:"debt_repaid"`
	Consumed   decimal.Decimal `bun:"consumed"`
	Expired    decimal.Decimal `bun:"expired"`
	Refunded   decimal.Decimal `bun:"refunded"`
	Returned   decimal.Decimal `bun:"returned"`
	TakenBack  decimal.Decimal `bun:"taken_back"`
	Remaining  decimal.Decimal `bun:"remaining"`
	Worth      decimal.Decimal `bun:"worth"`
	Debt       decimal.Decimal `bun:"debt"`
	Absorbed   decimal.Decimal `bun:"absorbed"`
}

// Summary answers with one statement: one snapshot, no transaction needed.
func (q reportQueries) Summary(ctx context.Context, tenant domain.TenantID, w domain.ReportWindow) (domain.Summary, error) {
	var rows []summaryRow
	if err := q.db.NewRaw(summaryQuery, w.From(), w.To(), uuid.UUID(tenant)).Scan(ctx, &rows); err != nil {
		return domain.Summary{}, translate(err, "summarise the ledger")
	}
	return summaryFromRows(w, rows)
}

func summaryFromRows(w domain.ReportWindow, rows []summaryRow) (domain.Summary, error) {
	s := domain.Summary{Window: w, DeferredRevenue: []domain.DeferredRevenue{}}
	var err error
	credits := func(d decimal.Decimal) domain.Credits {
		c, cerr := domain.CreditsFromDecimal(d)
		if cerr != nil && err == nil {
			err = fmt.Errorf("summary: %w", cerr)
		}
		return c
	}
	for _, r := range rows {
		switch r.Kind {
		case "lots":
			if r.Source == nil || r.Purchase == nil {
				return domain.Summary{}, fmt.Errorf("summary: a lots row without source or origin")
			}
			src, serr := domain.LotSourceFromString(*r.Source)
			if serr != nil {
				return domain.Summary{}, serr
			}
			granted := &s.Granted.Bonus
			if src == domain.LotPaid {
				granted = &s.Granted.Paid
			}
			if *r.Purchase {
				granted.Purchase = granted.Purchase.Add(credits(r.Granted))
			} else {
				granted.Manual = granted.Manual.Add(credits(r.Granted))
			}
			s.DebtRepaid.Add(src, credits(r.DebtRepaid))
			s.Consumed.Add(src, credits(r.Consumed))
			s.Expired.Add(src, credits(r.Expired))
			s.Refunded.BySource.Add(src, credits(r.Refunded))
			s.Reversed.Returned.Add(src, credits(r.Returned))
			s.Reversed.TakenBack.Add(src, credits(r.TakenBack))
			s.Outstanding.BySource.Add(src, credits(r.Remaining))
		case "deferred":
			if r.Currency == nil {
				return domain.Summary{}, fmt.Errorf("summary: a deferred revenue row without currency")
			}
			cur, cerr := domain.ParseCurrency(*r.Currency)
			if cerr != nil {
				return domain.Summary{}, cerr
			}
			s.DeferredRevenue = append(s.DeferredRevenue, domain.DeferredRevenue{Currency: cur, Amount: r.Worth, Credits: credits(r.Remaining)})
		case "wallets":
			s.Refunded.Debt = credits(r.Refunded)
			s.Refunded.Absorbed = credits(r.Absorbed)
			s.Outstanding.Debt = credits(r.Debt)
		}
	}
	slices.SortFunc(s.DeferredRevenue, func(a, b domain.DeferredRevenue) int {
		return cmp.Compare(a.Currency.String(), b.Currency.String())
	})
	return s, err
}
