package metrics_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/creditd/creditd/adapters/metrics"
	"github.com/creditd/creditd/domain"
)

func TestOrderObserverCountsAndWarnsOfRejections(t *testing.T) {
	var logs bytes.Buffer
	reg := metrics.NewRegistry()
	obs, err := metrics.NewOrderObserver(reg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	account, _ := domain.ParseAccountID("alice")
	p, err := domain.NewProduct(domain.TenantID{1}, pid, domain.ProductSpec{Name: "100 credits", Price: price, Credits: domain.MustCredits("100")}, now)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := domain.ParsePaymentID("ord-1")
	o, err := domain.NewOrder(domain.TenantID{1}, id, account, p, domain.GatewayPortOneV2, now)
	if err != nil {
		t.Fatal(err)
	}
	o.Converge(domain.Payment{ID: id, Status: domain.PaymentPaid, StoreID: "store", OrderName: "100 credits", Currency: "KRW",
		Total: 100, CustomData: o.CustomData()}, "store", now)
	obs.OrderChanged(o, domain.OrderPending)
	want := `
# HELP creditd_order_changes_total Order status changes committed by syncs, by the status before and after (the same for a refund or cancellation that keeps it).
# TYPE creditd_order_changes_total counter
creditd_order_changes_total{from="PENDING",to="REJECTED"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "creditd_order_changes_total"); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, `"mismatch":"amount"`) || !strings.Contains(out, `"to":"REJECTED"`) {
		t.Fatalf("log: %s", out)
	}
}
