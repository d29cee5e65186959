//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

func startSandbox(t testing.TB, cfg sandbox.Config) *sandbox.Server {
	t.Helper()
	sb, err := sandbox.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// The webhook secret of the purchase tests (PortOne's SDK test secret).
const webhookSecret = "whsec_pzQGE83cSIRKM4/WH5QY+g=="

// shop is creditd selling credits through the PortOne sandbox over real HTTP.
type shop struct {
	*service
	portone *sandbox.Server
}

// startShop is creditd on a sandbox that sends no webhook by itself: the
// test sends each one, as it wants it.
func startShop(t *testing.T, env ...string) *shop {
	t.Helper()
	return startShopOn(t, startSandbox(t, sandbox.Config{ChannelKey: "channel-key-test", WebhookSecrets: []string{webhookSecret}}), env...)
}

// startShopWithWebhooks is creditd on a sandbox that delivers every
// payment change to creditd's /webhooks/portone itself, retrying on
// PortOne's schedule (2000 times faster).
func startShopWithWebhooks(t *testing.T, env ...string) *shop {
	t.Helper()
	sb := startSandbox(t, sandbox.Config{ChannelKey: "channel-key-test", WebhookSecrets: []string{webhookSecret}, WebhookRetryScale: 0.0005})
	s := startShopOn(t, sb, env...)
	if err := sb.SetWebhookURL(s.base + "/webhooks/portone"); err != nil {
		t.Fatal(err)
	}
	return s
}

func startShopOn(t *testing.T, sb *sandbox.Server, env ...string) *shop {
	t.Helper()
	vars := map[string]string{"PORTONE_API_URL": sb.URL, "PORTONE_API_SECRET": sb.APISecret, "PORTONE_STORE_ID": sb.StoreID,
		"PORTONE_CHANNEL_KEY": sb.ChannelKey, "PORTONE_WEBHOOK_SECRETS": webhookSecret, "CREDITD_WEBHOOK_POLL_INTERVAL": "50ms"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	s := &shop{service: start(t, vars), portone: sb}
	s.do(http.MethodPost, "/v1/products", `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10"}`).
		expect(t, http.StatusCreated)
	return s
}

// control calls one of the sandbox's HTTP test controls and returns its status.
func (s *shop) control(method, path, body string) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.portone.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// checkout is the buyer's browser paying an order in the sandbox's payment
// window: requestPayment with the order's fields, then the outcome picked.
// It returns what the browser SDK would.
func (s *shop) checkout(o response, outcome string, amount int) map[string]any {
	s.t.Helper()
	request := map[string]any{"payMethod": "CARD"}
	for _, field := range []string{"storeId", "channelKey", "paymentId", "orderName", "totalAmount", "currency", "customData"} {
		request[field] = o.JSON[field]
	}
	var opened map[string]string
	s.browserPost(s.portone.URL+"/checkout", request, &opened)
	var result map[string]any
	s.browserPost(s.portone.URL+"/checkout/"+opened["checkoutId"]+"/outcome", map[string]any{"outcome": outcome, "amount": amount}, &result)
	return result
}

func (s *shop) browserPost(url string, body, out any) {
	s.t.Helper()
	resp, err := http.Post(url, "text/plain;charset=UTF-8", bytes.NewReader(mustJSON(body)))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		s.t.Fatal(err)
	}
}

// order creates an order for the account and returns its response.
func (s *shop) order(account string) response {
	s.t.Helper()
	return s.do(http.MethodPost, "/v1/orders", fmt.Sprintf(`{"accountId":%q,"productId":"pack-100"}`, account)).expect(s.t, http.StatusCreated)
}

func (s *shop) complete(paymentID string) response {
	s.t.Helper()
	return s.do(http.MethodPost, "/v1/orders/"+paymentID+"/complete", "")
}

func (s *shop) balance(account string) string {
	s.t.Helper()
	r := s.do(http.MethodGet, "/v1/accounts/"+account, "")
	if r.Status == http.StatusNotFound {
		return "none"
	}
	b, _ := r.expect(s.t, http.StatusOK).JSON["balance"].(string)
	return b
}

// payHonestly is the buyer paying exactly what the order asks.
func payHonestly(o response) sandbox.PaidWith {
	return sandbox.PaidWith{Total: int64(o.JSON["totalAmount"].(float64)), OrderName: o.JSON["orderName"].(string),
		CustomData: string(mustJSON(o.JSON["customData"]))}
}

func TestOrderResponseIsWhatRequestPaymentTakes(t *testing.T) {
	s := startShop(t)
	o := s.order("buyer-1")
	for field, want := range map[string]any{"status": "PENDING", "storeId": s.portone.StoreID, "channelKey": "channel-key-test",
		"orderName": "100 credits", "totalAmount": float64(10000), "currency": "KRW", "credits": "100", "bonusCredits": "10"} {
		if o.JSON[field] != want {
			t.Errorf("%s = %#v, want %#v", field, o.JSON[field], want)
		}
	}
	id := o.JSON["paymentId"].(string)
	if total, currency, ok := s.portone.PreRegistered(id); !ok || total != 10000 || currency != "KRW" {
		t.Fatalf("pre-registered %d %s %v", total, currency, ok)
	}
	s.do(http.MethodGet, "/v1/orders/"+id, "").expect(t, http.StatusOK)
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("an unpaid order granted: %s", got)
	}
}

func TestPaidOrderCompletedConcurrentlyGrantsOnce(t *testing.T) {
	s := startShop(t)
	_, id := s.paidAtPortOne("buyer-1")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r := s.complete(id); r.Status != http.StatusOK || r.JSON["status"] != "PAID" {
				t.Errorf("complete: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s, want 110", got)
	}
	s.requireSound()
}

func TestTamperedAmountIsRejectedAndRefunded(t *testing.T) {
	s := startShop(t)
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	// With PortOne's own check off, the browser pays 100 of 10000.
	s.control(http.MethodPut, "/sandbox/pre-registration", `{"enforced":false}`)
	if result := s.checkout(o, "different-amount", 100); result["code"] != nil {
		t.Fatalf("the tampered payment failed at PortOne: %v", result)
	}
	r := s.complete(id).expect(t, http.StatusOK)
	if r.JSON["status"] != "REJECTED" || r.JSON["rejection"] != "amount" {
		t.Fatalf("order %s (%v), want REJECTED for the amount", r.JSON["status"], r.JSON["rejection"])
	}
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("a tampered payment granted: %s", got)
	}
	cancels := s.portone.CancelRequests()
	if len(cancels) != 1 {
		t.Fatalf("cancel requests at PortOne: %d, want 1", len(cancels))
	}
	if p, _ := s.portone.Payment(id); p.Status != "CANCELLED" {
		t.Fatalf("payment %s at PortOne, want CANCELLED", p.Status)
	}
	// Completing again changes nothing and cancels nothing more.
	s.complete(id).expect(t, http.StatusOK)
	if n := len(s.portone.CancelRequests()); n != 1 {
		t.Fatalf("cancel requests %d after a second complete", n)
	}
	s.requireSound()
}

func TestPortOneDownAnswers503AndCompletesLater(t *testing.T) {
	s := startShop(t)
	_, id := s.paidAtPortOne("buyer-1")
	s.control(http.MethodPut, "/sandbox/faults", `{"api":{"failNext":20,"status":500}}`)
	r := s.complete(id).expect(t, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	s.control(http.MethodDelete, "/sandbox/faults", "")
	if r := s.complete(id).expect(t, http.StatusOK); r.JSON["status"] != "PAID" {
		t.Fatalf("status %s after PortOne recovered", r.JSON["status"])
	}
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	s.requireSound()
}

func TestOrderForAnotherTenantIsNotFound(t *testing.T) {
	s := startShop(t)
	id := s.order("buyer-1").JSON["paymentId"].(string)
	other := s.newKey("globex")
	s.do(http.MethodPost, "/v1/orders/"+id+"/complete", "", "Authorization", "Bearer "+other).expect(t, http.StatusNotFound, "not-found")
	s.do(http.MethodGet, "/v1/orders/"+id, "", "Authorization", "Bearer "+other).expect(t, http.StatusNotFound, "not-found")
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// webhook delivers a signed webhook as PortOne would, with the given id
// (the same for every retry of one event), and returns creditd's status.
func (s *shop) webhook(id, eventType, paymentID string) int {
	s.t.Helper()
	status, err := s.portone.SendWebhookWithID(context.Background(), s.base+"/webhooks/portone", webhookSecret, id, eventType, paymentID, "")
	if err != nil {
		s.t.Fatal(err)
	}
	return status
}

// eventually waits for the order to reach status (the inbox worker runs in
// the background), failing after 15 s.
func (s *shop) eventually(paymentID, status string) response {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.do(http.MethodGet, "/v1/orders/"+paymentID, "").expect(s.t, http.StatusOK)
		if r.JSON["status"] == status {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("order %s is %s, still not %s", paymentID, r.JSON["status"], status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inboxRows counts the stored webhook events matching where ("": all).
func (s *shop) inboxRows(where string) int {
	s.t.Helper()
	q := "SELECT count(*) FROM webhook_inbox"
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := s.db.NewRaw(q).Scan(context.Background(), &n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// inboxPending is how many stored webhook events are not processed yet.
func (s *shop) inboxPending() int { return s.inboxRows("done_at IS NULL") }

// drainInbox waits until the worker has processed every stored event.
func (s *shop) drainInbox() {
	s.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); s.inboxPending() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("%d webhook events still unprocessed", s.inboxPending())
		}
	}
}

// paidAtPortOne is an order the buyer paid honestly at PortOne, of which
// creditd has heard nothing yet.
func (s *shop) paidAtPortOne(account string) (response, string) {
	s.t.Helper()
	o := s.order(account)
	id := o.JSON["paymentId"].(string)
	s.portone.Pay(id, payHonestly(o))
	return o, id
}

func TestDuplicateWebhooksAndConcurrentCompletesGrantOnce(t *testing.T) {
	s := startShopWithWebhooks(t)
	s.portone.DuplicateWebhooks(9) // one event, delivered ten times at once (PortOne's retries)
	_, id := s.paidAtPortOne("buyer-1")
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if r := s.complete(id); r.Status != http.StatusOK {
				t.Errorf("complete: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	s.eventually(id, "PAID")
	stored := s.inboxRows("")
	if stored != 1 {
		t.Fatalf("%d inbox rows for one webhook-id, want 1", stored)
	}
	s.drainInbox()
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s, want 110 (one grant)", got)
	}
	s.requireWebhooksTaken(id, 10)
	s.requireSound()
}

// webhookAttempts waits until the sandbox has recorded at least n
// delivery attempts about a payment and returns them.
func (s *shop) webhookAttempts(paymentID string, n int) []sandbox.PaymentWebhook {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, _ := s.portone.Payment(paymentID)
		if len(p.Webhooks) >= n {
			return p.Webhooks
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d webhook attempts recorded, want %d", len(p.Webhooks), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireWebhooksTaken checks that creditd took (2xx) each of the n
// attempts about a payment.
func (s *shop) requireWebhooksTaken(paymentID string, n int) {
	s.t.Helper()
	for _, a := range s.webhookAttempts(paymentID, n) {
		if a.Status != "SUCCEEDED" {
			s.t.Fatalf("creditd did not take a webhook: %+v %+v", a, a.Response)
		}
	}
}

func TestVirtualAccountCreditsArriveWithTheDeposit(t *testing.T) {
	s := startShopWithWebhooks(t)
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	if result := s.checkout(o, "virtual-account", 0); result["code"] != nil {
		t.Fatalf("checkout: %v", result)
	}
	r := s.eventually(id, "AWAITING_DEPOSIT")
	if va, _ := r.JSON["virtualAccount"].(map[string]any); va == nil || va["accountNumber"] == "" {
		t.Fatalf("no virtual account on the order: %s", r.Raw)
	}
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("credits before the deposit: %s", got)
	}
	s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(id)+"/deposit", "")
	s.eventually(id, "PAID")
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s after the deposit", got)
	}
	s.requireSound()
}

func TestWebhookIsAcknowledgedWhilePortOneIsDownAndGrantsOnRecovery(t *testing.T) {
	s := startShop(t)
	_, id := s.paidAtPortOne("buyer-1")
	s.portone.FailNext(1000, http.StatusInternalServerError)
	if st := s.webhook("msg-paid-down", "Transaction.Paid", id); st != http.StatusOK {
		t.Fatalf("webhook answered %d while PortOne is down, want 200 once stored", st)
	}
	time.Sleep(500 * time.Millisecond) // the worker tries, and fails
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("balance %s while PortOne is down", got)
	}
	if s.inboxPending() != 1 {
		t.Fatalf("the event is not waiting in the inbox")
	}
	s.portone.Heal()
	// The retry comes after the worker's backoff (5 s at first, with jitter).
	s.eventually(id, "PAID")
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s after PortOne recovered", got)
	}
	s.requireSound()
}

func TestForgedReplayedAndTamperedWebhooksAreRefused(t *testing.T) {
	s := startShop(t)
	_, id := s.paidAtPortOne("buyer-1")
	body := []byte(fmt.Sprintf(`{"type":"Transaction.Paid","timestamp":"2026-12-01T00:00:00Z","data":{"paymentId":%q,"storeId":%q,"transactionId":"t"}}`,
		id, s.portone.StoreID))
	send := func(h http.Header, b []byte) int {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/portone", bytes.NewReader(b))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := sandbox.SignedWebhook("whsec_"+"c29tZW9uZSBlbHNl", "msg-forged", time.Now(), body) // another secret
	replayed := sandbox.SignedWebhook(webhookSecret, "msg-old", time.Now().Add(-6*time.Minute), body)
	tampered := sandbox.SignedWebhook(webhookSecret, "msg-tampered", time.Now(), body)
	unsigned := http.Header{"Content-Type": {"application/json"}}
	for name, c := range map[string]struct {
		h http.Header
		b []byte
	}{"forged": {forged, body}, "replayed": {replayed, body}, "unsigned": {unsigned, body},
		"tampered": {tampered, bytes.Replace(body, []byte("Transaction.Paid"), []byte("Transaction.Paid "), 1)}} {
		if st := send(c.h, c.b); st != http.StatusBadRequest {
			t.Errorf("%s webhook answered %d, want 400", name, st)
		}
	}
	stored := s.inboxRows("")
	if stored != 0 {
		t.Fatalf("%d refused webhooks stored", stored)
	}
	time.Sleep(300 * time.Millisecond)
	if r := s.do(http.MethodGet, "/v1/orders/"+id, "").expect(t, http.StatusOK); r.JSON["status"] != "PENDING" {
		t.Fatalf("a refused webhook moved the order to %s", r.JSON["status"])
	}
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("a refused webhook granted: %s", got)
	}
}

func TestEventsOutOfOrderEndAsPortOneSays(t *testing.T) {
	s := startShopWithWebhooks(t)
	// Paid before Ready: the late Ready (which the sandbox never sends by
	// itself) changes nothing.
	_, id := s.paidAtPortOne("buyer-1")
	s.eventually(id, "PAID")
	s.webhook("msg-1-ready", "Transaction.Ready", id)
	s.drainInbox()
	s.eventually(id, "PAID")

	// Cancelled (in PortOne's console) delivered before Paid, each three times.
	s.portone.HoldWebhooks(true)
	s.portone.DuplicateWebhooks(2)
	o2 := s.order("buyer-2")
	id2 := o2.JSON["paymentId"].(string)
	s.portone.Pay(id2, payHonestly(o2))
	if _, err := s.portone.CancelFromConsole(id2, 10000); err != nil {
		t.Fatal(err)
	}
	if n := s.portone.ReleaseWebhooks(true); n != 6 {
		t.Fatalf("%d deliveries released, want Paid and Cancelled three times each", n)
	}
	s.eventually(id2, "REFUNDED")
	attempts := s.webhookAttempts(id2, 6)
	s.requireWebhooksTaken(id2, 6)
	for i, a := range attempts {
		if wantCancelled := i < 3; wantCancelled != strings.Contains(a.Request.Body, "Transaction.Cancelled") {
			t.Fatalf("delivery %d was %s, want the three cancellations first", i+1, a.Request.Body)
		}
	}
	if n := s.inboxRows(fmt.Sprintf("payment_id = '%s'", id2)); n != 2 {
		t.Fatalf("%d inbox rows for two events delivered three times each", n)
	}
	s.drainInbox()
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("buyer-1 balance %s", got)
	}
	if got := s.balance("buyer-2"); got != "0" {
		t.Fatalf("buyer-2 balance %s after a full cancellation", got)
	}
	s.requireSound()
}

// paid is an order paid and completed.
func (s *shop) paid(account string) string {
	s.t.Helper()
	_, id := s.paidAtPortOne(account)
	s.complete(id).expect(s.t, http.StatusOK)
	return id
}

func (s *shop) spend(account, amount string) {
	s.t.Helper()
	s.do(http.MethodPost, "/v1/accounts/"+account+"/spends", fmt.Sprintf(`{"amount":%q}`, amount)).expect(s.t, http.StatusCreated)
}

func (s *shop) account(account string) map[string]any {
	s.t.Helper()
	return s.do(http.MethodGet, "/v1/accounts/"+account, "").expect(s.t, http.StatusOK).JSON
}

func TestPartialRefundAfterAPartialSpend(t *testing.T) {
	s := startShop(t)
	id := s.paid("buyer-1")
	s.spend("buyer-1", "33") // 77 of 110 left, worth 7000 of 10000
	q := s.do(http.MethodGet, "/v1/orders/"+id+"/refund-quote", "").expect(t, http.StatusOK)
	if q.JSON["refundableAmount"] != "7000" || q.JSON["refundableCredits"] != "77" {
		t.Fatalf("quote %s", q.Raw)
	}
	s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"7001","reason":"too much"}`).
		expect(t, http.StatusUnprocessableEntity, "refund-exceeds-refundable")
	r := s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"3500","reason":"customer asked"}`).expect(t, http.StatusCreated)
	if r.JSON["status"] != "PARTIALLY_REFUNDED" || r.JSON["refundedAmount"] != "3500" {
		t.Fatalf("order after the refund: %s", r.Raw)
	}
	if p, _ := s.portone.Payment(id); p.Cancelled != 3500 || p.Status != "PARTIAL_CANCELLED" {
		t.Fatalf("payment at PortOne: %s cancelled %d", p.Status, p.Cancelled)
	}
	if got := s.balance("buyer-1"); got != "38.5" {
		t.Fatalf("balance %s, want 38.5", got)
	}
	s.requireSound()
}

func TestConsoleCancellationOfSpentCreditsFollowsThePolicy(t *testing.T) {
	for _, c := range []struct{ policy, balance, debt string }{{"debt", "-50", "50"}, {"absorb", "0", "0"}} {
		t.Run(c.policy, func(t *testing.T) {
			s := startShopWithWebhooks(t, "CREDITD_REFUND_SHORTFALL_POLICY", c.policy)
			id := s.paid("buyer-1")
			s.spend("buyer-1", "50")
			s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(id)+"/console-cancel", `{"amount":10000,"reason":"환불 요청"}`)
			s.eventually(id, "REFUNDED")
			a := s.account("buyer-1")
			if a["balance"] != c.balance || a["debt"] != c.debt {
				t.Fatalf("balance %v debt %v, want %s and %s", a["balance"], a["debt"], c.balance, c.debt)
			}
			s.requireSound()
		})
	}
}

// TestRefundInterruptedAfterPortOneCancelledIsRecoveredOnce: PortOne
// cancels, but its answer never reaches creditd (the request's deadline
// passes): the refund is pending, its credits reserved. The webhook's sync
// takes the credits back; the client's retry finds it done; PortOne
// cancelled once.
func TestRefundInterruptedAfterPortOneCancelledIsRecoveredOnce(t *testing.T) {
	s := startShop(t, "CREDITD_HTTP_REQUEST_TIMEOUT", "1s")
	id := s.paid("buyer-1")
	s.portone.DelayNext(1, 3*time.Second) // the cancel is done, its answer lost
	s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"5000","reason":"r"}`, "Idempotency-Key", "refund-1").
		expect(t, http.StatusServiceUnavailable, "unavailable")
	if p, _ := s.portone.Payment(id); p.Cancelled != 5000 {
		t.Fatalf("PortOne cancelled %d", p.Cancelled)
	}
	if a := s.account("buyer-1"); a["balance"] != "110" || a["held"] != "55" {
		t.Fatalf("while pending: balance %v held %v, want 110 with 55 reserved", a["balance"], a["held"])
	}
	s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"1000","reason":"another"}`).expect(t, http.StatusConflict, "refund-in-progress")
	s.webhook("msg-cancel-1", "Transaction.PartialCancelled", id)
	s.eventually(id, "PARTIALLY_REFUNDED")
	r := s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"5000","reason":"r"}`, "Idempotency-Key", "refund-1").expect(t, http.StatusCreated)
	if r.JSON["refundedAmount"] != "5000" {
		t.Fatalf("the retry: %s", r.Raw)
	}
	if n := len(s.portone.CancelRequests()); n < 1 {
		t.Fatal("no cancel reached PortOne")
	}
	if p, _ := s.portone.Payment(id); p.Cancelled != 5000 || len(p.Cancellations) != 1 {
		t.Fatalf("PortOne cancelled %d in %d cancellations, want 5000 once", p.Cancelled, len(p.Cancellations))
	}
	if a := s.account("buyer-1"); a["balance"] != "55" || a["held"] != "0" {
		t.Fatalf("balance %v held %v, want 55 and 0", a["balance"], a["held"])
	}
	s.requireSound()
}

// TestTwoProcessesShareTheInbox: two creditd services on one database take
// webhooks and process the one inbox; every event is handled once (one
// claim, one read of its payment at PortOne) and every order is paid.
func TestTwoProcessesShareTheInbox(t *testing.T) {
	one := startShop(t)
	two := &shop{service: start(t, map[string]string{"DATABASE_URL": one.dsn, "PORTONE_API_URL": one.portone.URL,
		"PORTONE_API_SECRET": one.portone.APISecret, "PORTONE_STORE_ID": one.portone.StoreID, "PORTONE_CHANNEL_KEY": "channel-key-test",
		"PORTONE_WEBHOOK_SECRETS": webhookSecret, "CREDITD_WEBHOOK_POLL_INTERVAL": "50ms"}), portone: one.portone}
	const orders = 40
	ids := make([]string, orders)
	for i := range ids {
		o := one.order(fmt.Sprintf("buyer-%d", i))
		ids[i] = o.JSON["paymentId"].(string)
		one.portone.Pay(ids[i], payHonestly(o))
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		to := []*shop{one, two}[i%2]
		wg.Go(func() {
			if st := to.webhook("msg-"+id, "Transaction.Paid", id); st != http.StatusOK {
				t.Errorf("webhook answered %d", st)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		one.eventually(id, "PAID")
	}
	one.drainInbox()
	var attempts []int
	if err := one.db.NewRaw("SELECT attempts FROM webhook_inbox").Scan(context.Background(), &attempts); err != nil {
		t.Fatal(err)
	}
	for _, a := range attempts {
		if a != 1 {
			t.Fatalf("an event was claimed %d times", a)
		}
	}
	reads := map[string]int{}
	for _, r := range one.portone.Requests() {
		if r.Method == http.MethodGet {
			reads[r.Path]++
		}
	}
	for _, id := range ids {
		if n := reads["/payments/"+id]; n != 1 {
			t.Fatalf("payment %s read %d times, want once", id, n)
		}
	}
	for i := range ids {
		if got := one.balance(fmt.Sprintf("buyer-%d", i)); got != "110" {
			t.Fatalf("buyer-%d balance %s", i, got)
		}
	}
	one.requireSound()
}

// reconcile runs `creditd reconcile --since 1h`, built afresh, on the
// shop's database with the given settings, and returns its output.
func (s *shop) reconcile(env ...string) string {
	s.t.Helper()
	bin := filepath.Join(s.t.TempDir(), "creditd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/creditd").CombinedOutput(); err != nil {
		s.t.Fatalf("build creditd: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(s.t.Context(), bin, "reconcile", "--since", "1h")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + s.dsn}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("creditd reconcile: %v\n%s", err, out)
	}
	return string(out)
}

// TestReconcileGrantsAPaymentNobodyAnnounced: a payment whose webhook and
// complete call were both lost is granted by `creditd reconcile`, which
// reads PortOne's payments through the real adapter.
func TestReconcileGrantsAPaymentNobodyAnnounced(t *testing.T) {
	s := startShop(t)
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	s.portone.Pay(id, payHonestly(o)) // no webhook, no complete
	out := s.reconcile("PORTONE_API_URL="+s.portone.URL, "PORTONE_API_SECRET="+s.portone.APISecret,
		"PORTONE_STORE_ID="+s.portone.StoreID, "PORTONE_CHANNEL_KEY=channel-key-test", "PORTONE_WEBHOOK_SECRETS="+webhookSecret)
	if !strings.Contains(out, id) {
		t.Fatalf("the report does not name the payment it synced:\n%s", out)
	}
	if r := s.do(http.MethodGet, "/v1/orders/"+id, "").expect(t, http.StatusOK); r.JSON["status"] != "PAID" {
		t.Fatalf("order %s after reconcile", r.JSON["status"])
	}
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	reports := s.do(http.MethodGet, "/v1/reconciliation/reports", "").expect(t, http.StatusOK)
	if !strings.Contains(string(reports.Raw), id) {
		t.Fatalf("the reports do not show the finding: %s", reports.Raw)
	}
	s.requireSound()
}

// TestMismatchedPaymentsAreRejected: each field creditd checks, tampered
// with at PortOne (as if pre-registration were off), rejects the order.
func TestMismatchedPaymentsAreRejected(t *testing.T) {
	s := startShop(t)
	for reason, tamper := range map[string]func(p *sandbox.Payment){
		"currency":    func(p *sandbox.Payment) { p.Currency = "USD" },
		"order_name":  func(p *sandbox.Payment) { p.OrderName = "1000 credits" },
		"store":       func(p *sandbox.Payment) { p.StoreID = "store-someone-else" },
		"custom_data": func(p *sandbox.Payment) { p.CustomData = `{"creditdOrder":"ord-another"}` },
	} {
		account := "buyer-" + reason
		o := s.order(account)
		id := o.JSON["paymentId"].(string)
		honest := payHonestly(o)
		p := sandbox.Payment{ID: id, Status: "PAID", OrderName: honest.OrderName, CustomData: honest.CustomData, Total: honest.Total}
		tamper(&p)
		s.portone.SetPayment(p)
		r := s.complete(id).expect(t, http.StatusOK)
		if r.JSON["status"] != "REJECTED" || r.JSON["rejection"] != reason {
			t.Errorf("%s: order %v (%v), want REJECTED for %s", reason, r.JSON["status"], r.JSON["rejection"], reason)
		}
		if got := s.balance(account); got != "none" {
			t.Errorf("%s: a mismatched payment granted %s", reason, got)
		}
	}
	s.requireSound()
}

// TestConcurrentRefundsAndSpends: refunds of one order (each with its own
// key) race each other and spends of its credits. Each refund either
// happens whole or is refused; PortOne cancels exactly what creditd took
// credits back for, and the ledger stays sound.
func TestConcurrentRefundsAndSpends(t *testing.T) {
	s := startShop(t)
	s.raceRefundsAndSpends(s.paid("buyer-1"))
	s.requireSound()
}

// raceRefundsAndSpends races 6 refunds of 2000 of the paid order (each with
// its own key) with 4 spends of buyer-1's credits, checks that each refund
// happened whole or was refused, that PortOne cancelled what creditd took
// credits back for and that nothing stays reserved, and returns how many
// refunds answered each status.
func (s *shop) raceRefundsAndSpends(id string) map[int]int {
	t := s.t
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 6 {
		wg.Go(func() {
			r := s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"2000","reason":"race"}`, "Idempotency-Key", fmt.Sprintf("race-%d", i))
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	for range 4 {
		wg.Go(func() {
			r := s.do(http.MethodPost, "/v1/accounts/buyer-1/spends", `{"amount":"5"}`)
			if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
				t.Errorf("spend: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	for status := range statuses {
		if status != http.StatusCreated && status != http.StatusConflict && status != http.StatusUnprocessableEntity {
			t.Fatalf("refund statuses %v", statuses)
		}
	}
	t.Logf("refund statuses: %v", statuses)
	if statuses[http.StatusCreated] == 0 {
		t.Fatalf("no refund succeeded: %v", statuses)
	}
	order := s.do(http.MethodGet, "/v1/orders/"+id, "").expect(t, http.StatusOK)
	p, _ := s.portone.Payment(id)
	if order.JSON["refundedAmount"] != fmt.Sprint(p.Cancelled) {
		t.Fatalf("creditd refunded %v, PortOne cancelled %d", order.JSON["refundedAmount"], p.Cancelled)
	}
	if a := s.account("buyer-1"); a["held"] != "0" {
		t.Fatalf("credits still reserved after every refund ended: %v", a["held"])
	}
	return statuses
}

// TestCheckoutInTheSandboxGrantsByWebhook: the buyer pays in the sandbox's
// payment window; PortOne's webhook alone (no complete call) grants, and
// the sandbox records creditd's answer.
func TestCheckoutInTheSandboxGrantsByWebhook(t *testing.T) {
	s := startShopWithWebhooks(t)
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	result := s.checkout(o, "card", 0)
	if result["code"] != nil || result["paymentId"] != id || result["transactionType"] != "PAYMENT" {
		t.Fatalf("the browser got %v", result)
	}
	s.eventually(id, "PAID")
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	s.requireWebhooksTaken(id, 1)

	// With PortOne's check on, paying another amount fails at PortOne:
	// nothing is granted.
	o2 := s.order("buyer-2")
	id2 := o2.JSON["paymentId"].(string)
	if result := s.checkout(o2, "different-amount", 100); result["code"] != "AmountNotEqualToPredefined" {
		t.Fatalf("a different amount was paid: %v", result)
	}
	s.requireWebhooksTaken(id2, 1)
	s.drainInbox()
	if r := s.complete(id2).expect(t, http.StatusOK); r.JSON["status"] == "PAID" {
		t.Fatalf("a refused payment paid the order: %s", r.Raw)
	}
	if got := s.balance("buyer-2"); got != "none" {
		t.Fatalf("a refused payment granted %s", got)
	}
	s.requireSound()
}

// TestLostAndRetriedWebhooksStillGrantOnce: PortOne loses one event and
// delivers the next only on a retry after creditd refused it (its database
// briefly unreachable is played by a refusing proxy); the order is granted
// exactly once.
func TestLostAndRetriedWebhooksStillGrantOnce(t *testing.T) {
	s := startShopWithWebhooks(t)
	var refused atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(mustURL(t, s.base)).ServeHTTP(w, r)
	}))
	defer proxy.Close()
	if err := s.portone.SetWebhookURL(proxy.URL + "/webhooks/portone"); err != nil {
		t.Fatal(err)
	}
	s.control(http.MethodPut, "/sandbox/faults", `{"webhooks":{"drop":1}}`)
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	s.checkout(o, "virtual-account", 0)                                                // VirtualAccountIssued: lost
	s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(id)+"/deposit", "") // Paid: refused twice, then taken
	s.eventually(id, "PAID")
	var statuses []string
	for _, a := range s.webhookAttempts(id, 3) {
		statuses = append(statuses, fmt.Sprintf("%s#%d", a.Status, a.CurrentExecutionCount))
	}
	if strings.Join(statuses, " ") != "FAILED_NOT_OK_RESPONSE#1 FAILED_NOT_OK_RESPONSE#2 SUCCEEDED#3" {
		t.Fatalf("attempts %v", statuses)
	}
	if dropped := s.portone.DroppedWebhooks(); len(dropped) != 1 || dropped[0].Type != "Transaction.VirtualAccountIssued" {
		t.Fatalf("dropped %+v", dropped)
	}
	s.drainInbox()
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	s.requireSound()
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
