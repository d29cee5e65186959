//go:build integration

package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
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

	requireSeries(t, s.scrape(), map[string]func(float64) bool{
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
	})
}

// TestOrderMetrics: after a purchase, a rejected payment and an unpaid
// order, the order gauges count them, every status and reason present.
func TestOrderMetrics(t *testing.T) {
	t.Parallel()
	s := startShop(t)
	paid := s.order("buyer-1")
	s.portone.Pay(paid.JSON["paymentId"].(string), payHonestly(paid))
	s.complete(paid.JSON["paymentId"].(string)).expect(t, http.StatusOK)
	tampered := s.order("buyer-2")
	id := tampered.JSON["paymentId"].(string)
	w := payHonestly(tampered)
	s.portone.SetPayment(sandbox.Payment{ID: id, Status: "PAID", OrderName: w.OrderName, CustomData: w.CustomData, Total: 100})
	if r := s.complete(id).expect(t, http.StatusOK); r.JSON["rejection"] != "amount" {
		t.Fatalf("rejection %v, want amount", r.JSON["rejection"])
	}
	s.order("buyer-3")

	want := map[string]func(float64) bool{
		`creditd_orders{status="PENDING"}`:              eq(1),
		`creditd_orders{status="PAID"}`:                 eq(1),
		`creditd_orders{status="REJECTED"}`:             eq(1),
		`creditd_orders_rejected{reason="amount"}`:      eq(1),
		`creditd_orders_rejected{reason="custom_data"}`: eq(0),
		`creditd_orders{status="AWAITING_DEPOSIT"}`:     eq(0),
		`creditd_orders{status="FAILED"}`:               eq(0),
		`creditd_orders{status="PARTIALLY_REFUNDED"}`:   eq(0),
		`creditd_orders{status="REFUNDED"}`:             eq(0),
		`creditd_orders_rejected{reason="store"}`:       eq(0),
		`creditd_orders_rejected{reason="currency"}`:    eq(0),
		`creditd_orders_rejected{reason="order_name"}`:  eq(0),
	}
	requireSeries(t, s.scrape(), want)
	s.requireSound()
}

func (s *service) scrape() []byte {
	s.t.Helper()
	resp, err := s.client.Get(s.base + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return body
}

// requireSeries checks each series of the scraped body with its predicate.
func requireSeries(t *testing.T, body []byte, series map[string]func(float64) bool) {
	t.Helper()
	for name, want := range series {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Errorf("no %s in /metrics", name)
			continue
		}
		if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || !want(v) {
			t.Errorf("%s = %s", name, m[1])
		}
	}
}

func eq(want float64) func(float64) bool      { return func(v float64) bool { return v == want } }
func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
