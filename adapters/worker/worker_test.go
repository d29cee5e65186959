package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/worker"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestSweepMetrics: a sweep counts its run and the wallets it changed (or
// lots it told of), and its lag is how long the longest overdue item had waited.
func TestSweepMetrics(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	uow, queries := store.UnitOfWork(), store.Queries()
	accounts := application.NewAccounts(uow, queries, clock, ids)
	holds := application.NewHolds(uow, queries, clock, ids)
	w := worker.New(worker.Config{Interval: time.Hour, Batch: 10}, application.NewExpiry(uow, queries, clock, ids),
		application.NewIdempotencyJanitor(store.IdempotencyCleaner(), clock, 30*24*time.Hour), application.NewLotNotices(store.LotNotices(), ids, clock),
		clock, slog.New(slog.DiscardHandler))
	expires := start.Add(48 * time.Hour) // within the default week's notice
	ctx, tenant := context.Background(), domain.TenantID(ids.NewID())
	for _, name := range []string{"a", "b"} {
		acct, _ := domain.ParseAccountID(name)
		if _, _, err := accounts.Grant(ctx, application.GrantCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("5"),
			Source: domain.LotPaid, Priority: domain.DefaultLotPriority, ExpiresAt: &expires}, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("1"),
			ExpiresIn: time.Minute}, nil); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute + 90*time.Second) // both holds have been due for 90 s
	w.SweepOnce(ctx)

	want := func(lagHolds string, changedHolds string) string {
		return `
# HELP creditd_sweep_lag_seconds How long the longest overdue item had been due when its sweep last ran (0: nothing was due), by sweep.
# TYPE creditd_sweep_lag_seconds gauge
creditd_sweep_lag_seconds{sweep="expire_holds"} ` + lagHolds + `
creditd_sweep_lag_seconds{sweep="expire_lots"} 0
creditd_sweep_lag_seconds{sweep="notice_expiring_lots"} 0
# HELP creditd_sweep_changed_total Wallets a sweep changed, lots it told of, or idempotency records it forgot, by sweep.
# TYPE creditd_sweep_changed_total counter
creditd_sweep_changed_total{sweep="expire_holds"} ` + changedHolds + `
creditd_sweep_changed_total{sweep="expire_lots"} 0
creditd_sweep_changed_total{sweep="forget_idempotency_records"} 0
creditd_sweep_changed_total{sweep="notice_expiring_lots"} 2
`
	}
	reg := prometheus.NewRegistry()
	for _, c := range w.Collectors() {
		reg.MustRegister(c)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("90", "2")), "creditd_sweep_lag_seconds", "creditd_sweep_changed_total"); err != nil {
		t.Error(err)
	}
	w.SweepOnce(ctx) // nothing is due any more
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want("0", "2")), "creditd_sweep_lag_seconds", "creditd_sweep_changed_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(w.Collectors()[0], "creditd_sweep_runs_total"); n != 4 {
		t.Errorf("%d run series, want one per sweep (all ok)", n)
	}
}
