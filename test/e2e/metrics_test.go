//go:build integration

package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// TestOperationalMetrics: after a grant, a spend, a hold and a sweep, the
// ledger's, the group commit's, the pool's and the sweeps' metrics report
// them on /metrics.
func TestOperationalMetrics(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/alice/grants", `{"amount":"100","source":"paid"}`).expect(t, http.StatusCreated)
	s.do("POST", "/v1/accounts/alice/grants", `{"amount":"5","source":"bonus","priority":0}`).expect(t, http.StatusCreated)
	s.do("POST", "/v1/accounts/alice/spends", `{"amount":"7.5"}`).expect(t, http.StatusCreated)
	s.do("POST", "/v1/accounts/alice/holds", `{"amount":"10","expiresInSeconds":600}`).expect(t, http.StatusCreated)
	s.worker.SweepOnce(context.Background())

	resp, err := s.client.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for series, want := range map[string]func(float64) bool{
		`creditd_ledger_credits_total{source="paid",type="GRANT"}`:  eq(100),
		`creditd_ledger_credits_total{source="bonus",type="SPEND"}`: eq(5),
		`creditd_ledger_credits_total{source="paid",type="SPEND"}`:  eq(2.5),
		`creditd_ledger_transactions_total{type="GRANT"}`:           eq(2),
		`creditd_holds_open`:                                                        eq(1),
		`creditd_holds_open_credits`:                                                eq(10),
		`creditd_group_commit_batches_total{outcome="committed"}`:                   atLeast(4),
		`creditd_group_commit_batch_units_count`:                                    atLeast(4),
		`creditd_group_commit_wait_seconds_count`:                                   atLeast(4),
		`go_sql_max_open_connections{db_name="creditd"}`:                            eq(32),
		`creditd_sweep_runs_total{outcome="ok",sweep="expire_holds"}`:               atLeast(1),
		`creditd_sweep_runs_total{outcome="ok",sweep="expire_lots"}`:                atLeast(1),
		`creditd_sweep_lag_seconds{sweep="expire_holds"}`:                           eq(0),
		`creditd_sweep_runs_total{outcome="ok",sweep="forget_idempotency_records"}`: atLeast(1),
	} {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Errorf("no %s in /metrics", series)
			continue
		}
		if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || !want(v) {
			t.Errorf("%s = %s", series, m[1])
		}
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
