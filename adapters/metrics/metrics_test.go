package metrics_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/creditd/creditd/adapters/metrics"
	"github.com/creditd/creditd/domain"
)

func TestLedgerMeterCountsCreditsBySource(t *testing.T) {
	reg := metrics.NewRegistry()
	m, err := metrics.NewLedgerMeter(reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	account, _ := domain.ParseAccountID("alice")
	w := domain.NewWallet(domain.WalletID{1}, domain.TenantID{2}, account, now)
	grant := func(id byte, amount string, source domain.LotSource, priority int) domain.Transaction {
		tx, err := w.Grant(domain.Grant{Transaction: domain.TransactionID{id}, Lot: domain.LotID{id}, Amount: domain.MustCredits(amount),
			Source: source, Priority: priority}, now)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	paid, bonus := grant(1, "10", domain.LotPaid, 50), grant(2, "1.5", domain.LotBonus, 0)
	spend, err := w.Spend(domain.TransactionID{3}, domain.MustCredits("4"), domain.Memo{}, now)
	if err != nil {
		t.Fatal(err)
	}
	m.Committed([]domain.Transaction{paid, bonus})
	m.Committed([]domain.Transaction{spend})

	for _, c := range []struct {
		typ, source string
		want        float64
	}{{"GRANT", "paid", 10}, {"GRANT", "bonus", 1.5}, {"SPEND", "bonus", 1.5}, {"SPEND", "paid", 2.5}} {
		got, err := testutil.GatherAndCount(reg, "creditd_ledger_credits_total")
		if err != nil || got != 8 { // every type and source, from the start
			t.Fatalf("%d credit series, %v; want 8", got, err)
		}
		if v := testutil.ToFloat64(m.Credits().WithLabelValues(c.typ, c.source)); v != c.want {
			t.Errorf("credits %s %s = %v, want %v", c.typ, c.source, v, c.want)
		}
	}
	if v := testutil.ToFloat64(m.Transactions().WithLabelValues("GRANT")); v != 2 {
		t.Errorf("GRANT transactions = %v, want 2", v)
	}
}
