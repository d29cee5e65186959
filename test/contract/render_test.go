//go:build integration

package contract

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// The renderings below turn results into text that is equal exactly when the
// results are: every field a caller can see, amounts in the canonical form
// of Credits.String (12.500000 from NUMERIC(30,6) and 12.5 from a parse both
// read 12.5), times in UTC to the nanosecond, and empty and nil metadata
// alike (PostgreSQL stores nil as {}, which no caller can tell apart).

func renderTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func renderTimePtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return renderTime(*t)
}

func renderMemo(m domain.Memo) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m.Metadata)) {
		kv = append(kv, fmt.Sprintf("%q=%q", k, m.Metadata[k]))
	}
	return fmt.Sprintf("%q{%s}", m.Reason, strings.Join(kv, ","))
}

func renderTx(t domain.Transaction) string {
	hold := "-"
	if h := t.Hold(); h != nil {
		hold = h.String()
	}
	var ps []string
	for _, p := range t.Postings() {
		if p.IsSystem() {
			ps = append(ps, fmt.Sprintf("%s %s", p.System, p.Amount))
		} else if p.IsDebt() {
			ps = append(ps, fmt.Sprintf("debt of %s (%q) %s", p.Wallet, p.AccountID, p.Amount))
		} else {
			ps = append(ps, fmt.Sprintf("lot %s (%s, %s) of %s (%q) %s", p.Lot, p.LotSource, renderFunding(p.LotFunding), p.Wallet, p.AccountID, p.Amount))
		}
	}
	return fmt.Sprintf("tx %s %s amount %s balanceAfter %s hold %s wallet %s account %q tenant %s at %s memo %s funding %s postings [%s]",
		t.ID(), t.Type(), t.Amount(), t.BalanceAfter(), hold, t.Wallet(), t.AccountID(), t.Tenant(), renderTime(t.CreatedAt()),
		renderMemo(t.Memo()), renderFunding(t.Funding()), strings.Join(ps, "; "))
}

func renderTxs(txs []domain.Transaction) string {
	out := make([]string, len(txs))
	for i, t := range txs {
		out[i] = "\n    " + renderTx(t)
	}
	return fmt.Sprintf("%d transactions:%s", len(txs), strings.Join(out, ""))
}

func renderHold(v application.HoldView) string {
	h := v.Hold
	if h == nil {
		return "no hold"
	}
	var allocs []string
	for _, a := range h.Allocations() {
		allocs = append(allocs, fmt.Sprintf("%s:%s", a.Lot, a.Amount))
	}
	var captures []string
	for _, c := range v.Captures {
		captures = append(captures, fmt.Sprintf("%s:%s at %s memo %s", c.Transaction, c.Amount, renderTime(c.CapturedAt), renderMemo(c.Memo)))
	}
	return fmt.Sprintf("hold %s %s amount %s captured %s remaining %s tenant %s wallet %s account %q expires %s created %s memo %s allocations [%s] captures [%s]",
		h.ID(), h.Status(), h.Amount(), h.Captured(), h.Remaining(), h.Tenant(), h.Wallet(), h.AccountID(),
		renderTime(h.ExpiresAt()), renderTime(h.CreatedAt()), renderMemo(h.Memo()), strings.Join(allocs, " "), strings.Join(captures, ", "))
}

func renderLot(l *domain.Lot) string {
	return fmt.Sprintf("lot %s %s amount %s remaining %s held %s priority %d expires %s created %s funding %s",
		l.ID(), l.Source(), l.Amount(), l.Remaining(), l.Held(), l.Priority(), renderTimePtr(l.ExpiresAt()), renderTime(l.CreatedAt()),
		renderFunding(l.Funding()))
}

func renderFunding(f domain.Funding) string {
	if f.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%s:%q", f.Kind(), f.Reference())
}

func renderView(v application.AccountView) string {
	var lots []string
	for _, l := range v.Lots {
		lots = append(lots, "\n    "+renderLot(l))
	}
	return fmt.Sprintf("account %q balance %s held %s available %s debt %s, lots in consumption order:%s",
		v.Account, v.Balance, v.Held, v.Available, v.Debt, strings.Join(lots, ""))
}

func renderWallet(w *domain.Wallet) string {
	var lots []string
	for _, l := range w.Lots() {
		lots = append(lots, "\n    "+renderLot(l))
	}
	return fmt.Sprintf("wallet %s tenant %s account %q balance %s held %s debt %s created %s, lots:%s",
		w.ID(), w.Tenant(), w.AccountID(), w.Balance(), w.Held(), w.Debt(), renderTime(w.CreatedAt()), strings.Join(lots, ""))
}

func renderReceipt(r *application.Receipt) string {
	if r == nil {
		return "no receipt"
	}
	return fmt.Sprintf("receipt %d %q replayed %v", r.Status, r.Body, r.Replayed)
}

func renderPage(p application.HistoryPage) string {
	next := "none"
	if p.Next != nil {
		next = p.Next.String()
	}
	return fmt.Sprintf("next %s, %s", next, renderTxs(p.Items))
}
