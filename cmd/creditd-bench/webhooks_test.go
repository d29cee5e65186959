package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
	"github.com/creditd/creditd/domain"
)

// The driver's deliveries are what PortOne sends: signed as
// cmd/portone-sandbox signs them, and accepted by creditd's own verifier as
// Transaction.Paid events about the order.
func TestSignedDeliveryIsWhatCreditdVerifies(t *testing.T) {
	key, err := webhookKey(benchWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != "creditd-bench-webhook-key-24" {
		t.Fatalf("key %q", key)
	}
	now := time.Unix(1_780_000_000, 123_000_000)
	id, ts := "msg_bench-1-0-1", strconv.FormatInt(now.Unix(), 10)
	body := webhookBody("Transaction.Paid", "ord-0192-ab", benchStoreID, now)
	sig := signWebhook(key, id, ts, body)
	if want := sandbox.SignedWebhook(benchWebhookSecret, id, now, body).Get("webhook-signature"); sig != want {
		t.Fatalf("signature %s, the sandbox signs %s", sig, want)
	}

	v, err := portone.NewWebhookVerifier([]string{benchWebhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	e, err := v.Verify(application.WebhookDelivery{ID: id, Timestamp: ts, Signature: sig, Body: body}, now)
	if err != nil {
		t.Fatalf("creditd refuses the delivery: %v\n%s", err, body)
	}
	if e.Type != "Transaction.Paid" || e.Payment.String() != "ord-0192-ab" || e.StoreID != benchStoreID || !e.OccurredAt.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("verified %+v", e)
	}
	// Any change to what is signed is refused.
	for name, d := range map[string]application.WebhookDelivery{
		"other id":   {ID: id + "x", Timestamp: ts, Signature: sig, Body: body},
		"other time": {ID: id, Timestamp: strconv.FormatInt(now.Unix()+1, 10), Signature: sig, Body: body},
		"other body": {ID: id, Timestamp: ts, Signature: sig, Body: webhookBody("Transaction.Paid", "ord-0192-ac", benchStoreID, now)},
		"other key":  {ID: id, Timestamp: ts, Signature: signWebhook([]byte("another key"), id, ts, body), Body: body},
	} {
		if _, err := v.Verify(d, now); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := webhookKey("whsec_not base64!"); err == nil {
		t.Error("a secret that is not base64 was taken")
	}
}

func TestWebhookBodyIsJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 1, 2, 3, 456_789_000, time.FixedZone("KST", 9*3600))
	var got struct {
		Type, Timestamp string
		Data            struct{ PaymentID, StoreID, TransactionID string }
	}
	b := webhookBody("Transaction.Paid", `ord-"1"`, "store-bench", at)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Type != "Transaction.Paid" || got.Timestamp != "2026-11-30T16:02:03.456Z" || got.Data.PaymentID != `ord-"1"` ||
		got.Data.StoreID != "store-bench" || got.Data.TransactionID != `tx-ord-"1"` {
		t.Fatalf("%+v", got)
	}
}

// The fake answers creditd's PortOne client: pre-registration, then the
// payment once paid, in a shape the client reads back as what was paid.
func TestFakePortOneServesCreditdsClient(t *testing.T) {
	fp, err := startFakePortOne(benchPortOneSecret, benchStoreID)
	if err != nil {
		t.Fatal(err)
	}
	defer fp.close()
	c, err := portone.New(portone.Config{BaseURL: fp.URL, APISecret: benchPortOneSecret, StoreID: benchStoreID})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := domain.ParsePaymentID("ord-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPayment(ctx, id); err == nil || !strings.Contains(err.Error(), "PAYMENT_NOT_FOUND") {
		t.Fatalf("unpaid: %v", err)
	}
	if err := fp.pay("ord-1", 10000, "KRW", "100 credits", `{"creditdOrder":"ord-1"}`, time.Now()); err == nil {
		t.Fatal("paid without pre-registration")
	}
	price, err := domain.NewMoney(10000, domain.KRW)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PreRegister(ctx, id, price); err != nil {
		t.Fatal(err)
	}
	if err := fp.pay("ord-1", 9000, "KRW", "100 credits", `{"creditdOrder":"ord-1"}`, time.Now()); err == nil {
		t.Fatal("paid another amount than pre-registered")
	}
	if err := fp.pay("ord-1", 10000, "KRW", "100 credits", `{"creditdOrder":"ord-1"}`, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPayment(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != domain.PaymentPaid || p.Total != 10000 || p.Paid != 10000 || p.Currency != "KRW" || p.StoreID != benchStoreID ||
		p.OrderName != "100 credits" || p.CustomData != `{"creditdOrder":"ord-1"}` || p.PaidAt == nil {
		t.Fatalf("payment %+v", p)
	}
	// A wrong secret is refused, and counted.
	req, _ := http.NewRequest(http.MethodGet, fp.URL+"/payments/ord-1", nil)
	req.Header.Set("Authorization", "PortOne wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || fp.refused.Load() != 1 {
		t.Fatalf("wrong secret: %d, refused %d", resp.StatusCode, fp.refused.Load())
	}
}

func TestScenario5Invariants(t *testing.T) {
	for _, c := range []struct {
		stored, accepted, unknown int64
		ok                        bool
	}{
		{100, 100, 0, true},
		{99, 100, 0, false},  // a 200 whose event is not in the inbox
		{101, 100, 0, false}, // an event nobody was told of
		{102, 100, 3, true},  // answers lost on the way: stored or not
		{104, 100, 3, false},
	} {
		if got := storedAsAnswered(c.stored, c.accepted, c.unknown); got != c.ok {
			t.Errorf("stored %d, accepted %d, unknown %d: %v, want %v", c.stored, c.accepted, c.unknown, got, c.ok)
		}
	}
	grant := decimal.RequireFromString("110")
	for _, c := range []struct {
		state orderState
		ok    bool
	}{
		{orderState{"PAID", decimal.RequireFromString("110.00")}, true},
		{orderState{"PAID", decimal.RequireFromString("220")}, false}, // granted twice
		{orderState{"PAID", decimal.Zero}, false},
		{orderState{"PENDING", decimal.Zero}, false},
		{orderState{"REJECTED", decimal.Zero}, false},
	} {
		if got := converged(c.state, grant); got != c.ok {
			t.Errorf("%+v: %v, want %v", c.state, got, c.ok)
		}
	}
	if drainTimeout(0) != time.Minute || drainTimeout(50*300) != 5*time.Minute || drainTimeout(1e9) != 10*time.Minute {
		t.Error("drainTimeout")
	}
}

func TestWebhookTarget(t *testing.T) {
	r := sampleReport()
	const goal = "Webhook intake ≥ 2,000/s (signed deliveries answered 200, each stored)"
	if tg := r.webhookTarget(); tg.Goal != goal || tg.Status != "N/A" || tg.Measured != "not run" {
		t.Fatalf("without scenario 5: %+v", tg)
	}
	for i, rate := range []float64{2100, 2600, 1900} {
		for _, c := range []int{8, 64} {
			r.Steps = append(r.Steps, &step{Round: i + 1, Scenario: scWebhook, Mode: "closed", Clients: c, Unit: "webhooks/s",
				Throughput: rate * float64(c) / 64, Lat: latencies{N: 1, P50: time.Millisecond, P99: 5 * time.Millisecond}, Drained: 2 * time.Second, Backlog: 100})
		}
	}
	tg := r.webhookTarget()
	if tg.Status != "PASS" || !strings.HasPrefix(tg.Measured, "median of 3 rounds: 2100 (1900–2600, 33%) webhooks/s at 64 clients (0.52× (") ||
		!strings.HasSuffix(tg.Measured, " TPC-B)") {
		t.Fatalf("%+v", tg)
	}
	// Rounds 2 and 3 at 64 clients below the goal: the median misses it.
	r.Steps[len(r.Steps)-1].Throughput = 1000
	r.Steps[len(r.Steps)-3].Throughput = 1000
	if tg := r.webhookTarget(); tg.Status != "MISS" {
		t.Fatalf("below 2,000/s: %+v", tg)
	}
	md := r.markdown("")
	for _, want := range []string{goal, "| 5 | webhook intake | closed, 64 clients |", "inbox drained 2.0 (2.0–2.0, 0%) s after the step"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if fmtThousands(2000) != "2,000" || fmtThousands(999) != "999" || fmtThousands(1234567) != "1,234,567" {
		t.Error(fmt.Sprint("fmtThousands ", fmtThousands(1234567)))
	}
}
