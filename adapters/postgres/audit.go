package postgres

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
)

// Auditor recomputes every cache in the ledger from the postings and the
// open holds, and lists every disagreement.
type Auditor struct{ db *bun.DB }

var _ application.Auditor = (*Auditor)(nil)

// NewAuditor binds the auditor to db.
func NewAuditor(db *bun.DB) *Auditor { return &Auditor{db: db} }

// auditChecks each select one text column per drift found.
var auditChecks = []struct{ name, query string }{
	{"unbalanced transaction", `
		SELECT format('transaction %s: postings sum to %s over %s postings', transaction_id, sum(amount), count(*))
		FROM postings GROUP BY transaction_id HAVING sum(amount) <> 0 OR count(*) < 2`},
	{"transaction without postings", `
		SELECT format('transaction %s has no postings', t.id)
		FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.transaction_id = t.id)`},
	{"wallet balance", `
		SELECT format('wallet %s (%s): balance %s, postings sum to %s', w.id, w.account_id, w.balance, coalesce(p.total, 0))
		FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM postings WHERE wallet_id IS NOT NULL GROUP BY wallet_id) p
		  ON p.wallet_id = w.id
		WHERE w.balance <> coalesce(p.total, 0)`},
	{"wallet debt", `
		SELECT format('wallet %s (%s): debt %s, debt postings sum to %s', w.id, w.account_id, w.debt, coalesce(p.total, 0))
		FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount) AS total FROM postings WHERE wallet_id IS NOT NULL AND lot_id IS NULL GROUP BY wallet_id) p
		  ON p.wallet_id = w.id
		WHERE w.debt <> -coalesce(p.total, 0)`},
	{"lot remaining", `
		SELECT format('lot %s: remaining %s, postings sum to %s', l.id, l.remaining, coalesce(p.total, 0))
		FROM lots l LEFT JOIN (SELECT lot_id, sum(amount) AS total FROM postings WHERE lot_id IS NOT NULL GROUP BY lot_id) p
		  ON p.lot_id = l.id
		WHERE l.remaining <> coalesce(p.total, 0)`},
	{"wallet lots", `
		SELECT format('wallet %s: balance %s debt %s held %s, lots remaining %s held %s', w.id, w.balance, w.debt, w.held, coalesce(l.remaining, 0), coalesce(l.held, 0))
		FROM wallets w LEFT JOIN (SELECT wallet_id, sum(remaining) AS remaining, sum(held) AS held FROM lots GROUP BY wallet_id) l
		  ON l.wallet_id = w.id
		WHERE w.balance + w.debt <> coalesce(l.remaining, 0) OR w.held <> coalesce(l.held, 0)`},
	{"wallet held", `
		SELECT format('wallet %s: held %s, open holds reserve %s', w.id, w.held, coalesce(h.total, 0))
		FROM wallets w LEFT JOIN (SELECT wallet_id, sum(amount - captured) AS total FROM holds
		                          WHERE status IN ('ACTIVE', 'PARTIALLY_CAPTURED') GROUP BY wallet_id) h
		  ON h.wallet_id = w.id
		WHERE w.held <> coalesce(h.total, 0)`},
	{"hold allocations", `
		SELECT format('hold %s (%s): amount %s captured %s, allocations reserve %s', h.id, h.status, h.amount, h.captured, coalesce(a.total, 0))
		FROM holds h LEFT JOIN LATERAL (SELECT sum((e->>'amount')::numeric) AS total FROM jsonb_array_elements(h.allocations) e) a ON true
		WHERE coalesce(a.total, 0) <> CASE WHEN h.status IN ('ACTIVE', 'PARTIALLY_CAPTURED') THEN h.amount - h.captured ELSE 0 END`},
	{"hold captures", `
		SELECT format('hold %s: captured %s, its capture transactions sum to %s', h.id, h.captured, coalesce(c.total, 0))
		FROM holds h LEFT JOIN (SELECT hold_id, sum(amount) AS total FROM transactions
		                        WHERE type = 'CAPTURE' AND hold_id IS NOT NULL GROUP BY hold_id) c
		  ON c.hold_id = h.id
		WHERE h.captured <> coalesce(c.total, 0)`},
	{"next hold expiry", `
		SELECT format('wallet %s: next hold expiry %s, but hold %s expires at %s', w.id, coalesce(w.holds_due_at::text, 'none'), h.id, h.expires_at)
		FROM holds h JOIN wallets w ON w.id = h.wallet_id
		WHERE h.status IN ('ACTIVE', 'PARTIALLY_CAPTURED') AND (w.holds_due_at IS NULL OR h.expires_at < w.holds_due_at)`},
	{"lot held", `
		SELECT format('lot %s: held %s, open holds reserve %s', l.id, l.held, coalesce(a.total, 0))
		FROM lots l LEFT JOIN (SELECT (e->>'lot')::uuid AS lot_id, sum((e->>'amount')::numeric) AS total
		                       FROM holds h, jsonb_array_elements(h.allocations) e
		                       WHERE h.status IN ('ACTIVE', 'PARTIALLY_CAPTURED') GROUP BY 1) a
		  ON a.lot_id = l.id
		WHERE l.held <> coalesce(a.total, 0)`},
	// A paid order (PAID, PARTIALLY_REFUNDED, REFUNDED) funds exactly one
	// paid lot of its credits and, when it has a bonus, one bonus lot of its
	// bonus credits; an order in any other status funds no lot. Amounts are
	// compared as trim_scale text, as the memory audit prints credits.
	{"order lots", `
		SELECT format('order %s (%s): lots funded by it: %s; want %s', o.payment_id, o.status, coalesce(l.found, 'none'), coalesce(w.want, 'none'))
		FROM orders o
		LEFT JOIN LATERAL (SELECT string_agg(l.source || ' ' || trim_scale(l.amount), ' + ' ORDER BY l.source DESC, l.amount) AS found
		                   FROM lots l WHERE l.funding_kind = 'order' AND l.funding_ref = o.payment_id) l ON true
		CROSS JOIN LATERAL (SELECT CASE WHEN o.status IN ('PAID', 'PARTIALLY_REFUNDED', 'REFUNDED')
		                           THEN 'paid ' || trim_scale(o.credits) || CASE WHEN o.bonus_credits > 0 THEN ' + bonus ' || trim_scale(o.bonus_credits) ELSE '' END
		                           END AS want) w
		WHERE l.found IS DISTINCT FROM w.want`},
	// An order's CLAWBACK transactions take back, in all, the share of its
	// credits (and bonus) the cancelled money paid for, truncated to the
	// ledger's scale: domain.Order.CreditsTakenBack.
	{"order clawbacks", `
		SELECT format('order %s (%s): clawbacks take back %s, but %s of %s cancelled takes back %s', o.payment_id, o.status,
		              trim_scale(coalesce(c.total, 0)), o.cancelled_amount, o.price_amount, trim_scale(w.want))
		FROM orders o
		LEFT JOIN (SELECT metadata->>'paymentId' AS payment_id, sum(amount) AS total FROM transactions
		           WHERE type = 'CLAWBACK' GROUP BY 1) c ON c.payment_id = o.payment_id
		CROSS JOIN LATERAL (SELECT trunc((o.credits + o.bonus_credits) * o.cancelled_amount / o.price_amount, 6) AS want) w
		WHERE coalesce(c.total, 0) <> w.want`},
	// Every REVERSAL, and nothing else, is linked to the transaction it
	// reverses: one of its own wallet, of a type that may be reversed (a
	// spend, a capture, a grant no order funded), for the same amount as the
	// link records. (Its postings balance as every transaction's do, above.)
	{"reversal link", `
		SELECT format('transaction %s (%s): reversal link %s', t.id, t.type, coalesce(r.original_id::text, 'none'))
		FROM transactions t LEFT JOIN transaction_reversals r ON r.transaction_id = t.id
		WHERE (t.type = 'REVERSAL') <> (r.transaction_id IS NOT NULL)`},
	{"reversal of", `
		SELECT format('reversal %s (amount %s, link %s, wallet %s) reverses %s, a %s of wallet %s', t.id, t.amount, r.amount, t.wallet_id,
		              o.id, o.type, o.wallet_id)
		FROM transaction_reversals r JOIN transactions t ON t.id = r.transaction_id JOIN transactions o ON o.id = r.original_id
		WHERE t.amount <> r.amount OR t.tenant_id <> r.tenant_id OR t.wallet_id <> o.wallet_id
		   OR o.type NOT IN ('SPEND', 'CAPTURE', 'GRANT')
		   OR (o.type = 'GRANT' AND EXISTS (SELECT 1 FROM postings p JOIN lots l ON l.id = p.lot_id
		                                    WHERE p.transaction_id = o.id AND l.funding_kind = 'order'))`},
	// The reversals of a transaction never take back more than it moved.
	{"reversals exceed", `
		SELECT format('transaction %s: reversals take back %s of %s', o.id, s.total, o.amount)
		FROM (SELECT original_id, sum(amount) AS total FROM transaction_reversals GROUP BY original_id) s
		JOIN transactions o ON o.id = s.original_id
		WHERE s.total > o.amount`},
}

// Audit runs every check in one REPEATABLE READ snapshot, so concurrent
// traffic cannot show up as drift.
func (a *Auditor) Audit(ctx context.Context) (application.AuditReport, error) {
	var report application.AuditReport
	err := a.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewRaw("SELECT (SELECT count(*) FROM wallets), (SELECT count(*) FROM transactions)").
			Scan(ctx, &report.Wallets, &report.Transactions); err != nil {
			return err
		}
		for _, check := range auditChecks {
			var drifts []string
			if err := tx.NewRaw(check.query).Scan(ctx, &drifts); err != nil {
				return fmt.Errorf("%s check: %w", check.name, err)
			}
			report.Drifts = append(report.Drifts, drifts...)
		}
		return nil
	})
	if err != nil {
		return application.AuditReport{}, translate(err, "audit")
	}
	return report, nil
}
