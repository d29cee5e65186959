//go:build integration

package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// The V2 purchase tests, repeated for PortOne V1 (iamport): creditd sells
// through V1 only, against the sandbox's V1 API, and V1's unsigned webhooks
// are posted by the test as PortOne would post them.

// startV1Shop is creditd selling through the sandbox's V1 API only.
func startV1Shop(t *testing.T, env ...string) *shop {
	t.Helper()
	return startV1ShopOn(t, sandbox.Config{}, env...)
}

// startV1ShopOn is startV1Shop on a sandbox made from cfg.
func startV1ShopOn(t *testing.T, cfg sandbox.Config, env ...string) *shop {
	t.Helper()
	sb := startSandbox(t, cfg)
	vars := map[string]string{"PORTONE_V1_API_URL": sb.V1URL(), "PORTONE_V1_IMP_KEY": sb.V1IMPKey, "PORTONE_V1_IMP_SECRET": sb.V1IMPSecret,
		"PORTONE_V1_IMP_CODE": sb.V1IMPCode, "PORTONE_V1_PG": "html5_inicis", "CREDITD_WEBHOOK_POLL_INTERVAL": "50ms"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	s := &shop{service: start(t, vars), portone: sb}
	s.do(http.MethodPost, "/v1/products", `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10"}`).
		expect(t, http.StatusCreated)
	return s
}

// v1Order creates an order (V1, the only gateway configured) and returns it with its merchant_uid.
func (s *shop) v1Order(account string) (response, string) {
	s.t.Helper()
	o := s.order(account)
	if o.JSON["gateway"] != "v1" {
		s.t.Fatalf("an order of a V1-only creditd is %v's", o.JSON["gateway"])
	}
	return o, o.JSON["merchantUid"].(string)
}

// payV1Honestly is the buyer paying exactly what IMP.request_pay was given.
func payV1Honestly(o response) sandbox.PaidWith {
	return sandbox.PaidWith{Total: int64(o.JSON["amount"].(float64)), OrderName: o.JSON["name"].(string)}
}

// paidAtV1 is a V1 order the buyer paid honestly; creditd has heard nothing yet.
func (s *shop) paidAtV1(account string) (response, string, string) {
	s.t.Helper()
	o, id := s.v1Order(account)
	p := s.portone.Pay(id, payV1Honestly(o))
	return o, id, p.ImpUID
}

func (s *shop) completeV1(id, impUID string) response {
	s.t.Helper()
	body := ""
	if impUID != "" {
		body = fmt.Sprintf(`{"impUid":%q}`, impUID)
	}
	return s.do(http.MethodPost, "/v1/orders/"+id+"/complete", body)
}

// v1Webhook posts V1's unsigned webhook body, as JSON or as a form, and returns creditd's status.
func (s *shop) v1Webhook(form bool, impUID, merchantUID, status string) int {
	s.t.Helper()
	var body []byte
	contentType := "application/json"
	if form {
		contentType = "application/x-www-form-urlencoded"
		body = []byte(url.Values{"imp_uid": {impUID}, "merchant_uid": {merchantUID}, "status": {status}}.Encode())
	} else {
		body = mustJSON(map[string]string{"imp_uid": impUID, "merchant_uid": merchantUID, "status": status})
	}
	resp, err := http.Post(s.base+"/webhooks/portone/v1", contentType, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestV1OrderIsPreparedAndCarriesWhatRequestPayTakes(t *testing.T) {
	s := startV1Shop(t)
	o, id := s.v1Order("buyer-1")
	for field, want := range map[string]any{"impCode": s.portone.V1IMPCode, "pg": "html5_inicis", "merchantUid": o.JSON["paymentId"],
		"name": "100 credits", "amount": float64(10000), "currency": "KRW", "status": "PENDING"} {
		if o.JSON[field] != want {
			t.Errorf("%s = %#v, want %#v", field, o.JSON[field], want)
		}
	}
	if total, currency, ok := s.portone.PreRegistered(id); !ok || total != 10000 || currency != "KRW" {
		t.Fatalf("prepared %d %s %v", total, currency, ok)
	}
	// A V2 order cannot be made: V2 is not configured.
	s.do(http.MethodPost, "/v1/orders", `{"accountId":"b","productId":"pack-100","gateway":"v2"}`).
		expect(t, http.StatusUnprocessableEntity, "gateway-not-configured")
}

func TestV1PaidOrderCompletedConcurrentlyWithAndWithoutImpUIDGrantsOnce(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			hint := ""
			if i%2 == 0 {
				hint = imp
			}
			if r := s.completeV1(id, hint); r.Status != http.StatusOK || r.JSON["status"] != "PAID" || r.JSON["transactionId"] != imp {
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

func TestV1ImpUIDOfAnotherOrderIsRefused(t *testing.T) {
	s := startV1Shop(t)
	_, mine := s.v1Order("buyer-1")
	_, _, theirs := s.paidAtV1("buyer-2")
	s.completeV1(mine, theirs).expect(t, http.StatusUnprocessableEntity, "payment-mismatch")
	s.completeV1(mine, "imp_000000009999").expect(t, http.StatusUnprocessableEntity, "payment-mismatch")
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("another order's payment granted %s", got)
	}
	if r := s.do(http.MethodGet, "/v1/orders/"+mine, "").expect(t, http.StatusOK); r.JSON["status"] != "PENDING" {
		t.Fatalf("order %s", r.JSON["status"])
	}
	s.requireSound()
}

// TestV1TamperedPaymentsAreRejectedAndCancelled: an amount, name or currency
// other than the order's (PortOne's own check off) rejects the order,
// grants nothing and cancels the payment at V1 by its imp_uid.
func TestV1TamperedPaymentsAreRejectedAndCancelled(t *testing.T) {
	s := startV1Shop(t)
	s.portone.EnforcePreRegistration(false)
	for reason, tamper := range map[string]func(*sandbox.PaidWith){
		"amount":     func(w *sandbox.PaidWith) { w.Total = 100 },
		"order_name": func(w *sandbox.PaidWith) { w.OrderName = "1000 credits" },
		"currency":   func(w *sandbox.PaidWith) { w.Currency = "JPY" },
	} {
		account := "buyer-" + reason
		o, id := s.v1Order(account)
		paid := payV1Honestly(o)
		tamper(&paid)
		p := s.portone.Pay(id, paid)
		r := s.completeV1(id, p.ImpUID).expect(t, http.StatusOK)
		if r.JSON["status"] != "REJECTED" || r.JSON["rejection"] != reason {
			t.Errorf("%s: order %v (%v)", reason, r.JSON["status"], r.JSON["rejection"])
		}
		if got := s.balance(account); got != "none" {
			t.Errorf("%s: granted %s", reason, got)
		}
		if after, _ := s.portone.Payment(id); after.Status != "CANCELLED" {
			t.Errorf("%s: payment %s at PortOne, want CANCELLED", reason, after.Status)
		}
	}
	for _, c := range s.portone.CancelRequests() {
		if !strings.HasPrefix(c.Path, "/v1compat/") || c.Body["imp_uid"] == nil || c.Body["checksum"] == nil {
			t.Errorf("cancel %s %v: want V1's, by imp_uid, with a checksum", c.Path, c.Body)
		}
	}
	if n := len(s.portone.CancelRequests()); n != 3 {
		t.Fatalf("%d cancels, want 3", n)
	}
	s.requireSound()
}

func TestV1DuplicateWebhooksAndConcurrentCompletesGrantOnce(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if st := s.v1Webhook(i%2 == 0, imp, id, "paid"); st != http.StatusOK {
				t.Errorf("webhook answered %d", st)
			}
		})
	}
	for range 5 {
		wg.Go(func() {
			if r := s.completeV1(id, ""); r.Status != http.StatusOK {
				t.Errorf("complete: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	s.eventually(id, "PAID")
	s.drainInbox()
	if n := s.inboxRows(""); n < 1 || n > 2 { // one per status and window; a window may end mid-test
		t.Fatalf("%d inbox rows for ten deliveries of one change", n)
	}
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s, want 110", got)
	}
	s.requireSound()
}

func TestV1WebhookAloneGrants(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	if st := s.v1Webhook(true, imp, id, "paid"); st != http.StatusOK {
		t.Fatalf("webhook answered %d", st)
	}
	s.eventually(id, "PAID")
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	// V2's webhook route refuses everything: nothing can sign for V2 here.
	if st := s.webhook("msg-1", "Transaction.Paid", id); st != http.StatusUnauthorized && st != http.StatusBadRequest {
		t.Fatalf("a V2 webhook to a V1-only creditd answered %d", st)
	}
	s.requireSound()
}

func TestV1VirtualAccountCreditsArriveWithTheDeposit(t *testing.T) {
	s := startV1Shop(t)
	o, id := s.v1Order("buyer-1")
	p := s.portone.IssueVirtualAccount(id, payV1Honestly(o))
	s.v1Webhook(false, p.ImpUID, id, "ready")
	r := s.eventually(id, "AWAITING_DEPOSIT")
	if va, _ := r.JSON["virtualAccount"].(map[string]any); va == nil || va["accountNumber"] == "" || va["bank"] == "" {
		t.Fatalf("no virtual account on the order: %s", r.Raw)
	}
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("credits before the deposit: %s", got)
	}
	if _, err := s.portone.Deposit(id); err != nil {
		t.Fatal(err)
	}
	s.v1Webhook(false, p.ImpUID, id, "paid")
	s.eventually(id, "PAID")
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s after the deposit", got)
	}
	s.requireSound()
}

// TestV1FailuresAnd503s: PortOne's 500s answer 503 with Retry-After; a
// token that expires mid-run is fetched again once; a failed payment fails
// the order, which a later payment still pays.
func TestV1FailuresAnd503s(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	s.portone.FailNext(20, http.StatusInternalServerError)
	r := s.completeV1(id, imp).expect(t, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	s.portone.Heal()
	s.portone.ExpireV1Tokens()
	if r := s.completeV1(id, imp).expect(t, http.StatusOK); r.JSON["status"] != "PAID" {
		t.Fatalf("status %s after PortOne recovered", r.JSON["status"])
	}
	tokens := 0
	for _, req := range s.portone.Requests() {
		if strings.HasSuffix(req.Path, "/users/getToken") {
			tokens++
		}
	}
	if tokens < 2 {
		t.Fatalf("%d token requests: the expired token was not replaced", tokens)
	}

	_, failed := s.v1Order("buyer-2")
	s.portone.Fail(failed, "카드 한도 초과")
	if r := s.completeV1(failed, "").expect(t, http.StatusOK); r.JSON["status"] != "FAILED" {
		t.Fatalf("status %s, want FAILED", r.JSON["status"])
	}
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	s.requireSound()
}

// TestV1ConsoleCancellationsFollowThePolicy: a partial console cancel
// (V1 keeps the payment paid, with cancel_amount) then a full one take
// their share back, spent credits as debt or absorbed.
func TestV1ConsoleCancellationsFollowThePolicy(t *testing.T) {
	for _, c := range []struct{ policy, balance, debt string }{{"debt", "-50", "50"}, {"absorb", "0", "0"}} {
		t.Run(c.policy, func(t *testing.T) {
			s := startV1Shop(t, "CREDITD_REFUND_SHORTFALL_POLICY", c.policy)
			_, id, imp := s.paidAtV1("buyer-1")
			s.completeV1(id, imp).expect(t, http.StatusOK)
			s.spend("buyer-1", "50")
			if _, err := s.portone.CancelFromConsole(id, 3000); err != nil {
				t.Fatal(err)
			}
			s.v1Webhook(false, imp, id, "paid") // V1 may report a partial cancel as still paid
			r := s.eventually(id, "PARTIALLY_REFUNDED")
			if r.JSON["refundedAmount"] != "3000" {
				t.Fatalf("refunded %v", r.JSON["refundedAmount"])
			}
			if _, err := s.portone.CancelFromConsole(id, 7000); err != nil {
				t.Fatal(err)
			}
			s.v1Webhook(true, imp, id, "cancelled")
			s.eventually(id, "REFUNDED")
			a := s.account("buyer-1")
			if a["balance"] != c.balance || a["debt"] != c.debt {
				t.Fatalf("balance %v debt %v, want %s and %s", a["balance"], a["debt"], c.balance, c.debt)
			}
			s.requireSound()
		})
	}
}

// TestV1RefundsCancelWithAChecksum: a refund cancels the imp_uid that paid,
// with checksum = what creditd believes cancellable; a cancel PortOne fails
// (HTTP 200, code 1: the payment was cancelled elsewhere meanwhile) is not
// taken for a refund.
func TestV1RefundsCancelWithAChecksum(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	s.completeV1(id, imp).expect(t, http.StatusOK)
	s.spend("buyer-1", "33")
	r := s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"3500","reason":"customer asked"}`).expect(t, http.StatusCreated)
	if r.JSON["status"] != "PARTIALLY_REFUNDED" || r.JSON["refundedAmount"] != "3500" {
		t.Fatalf("order after the refund: %s", r.Raw)
	}
	cancels := s.portone.CancelRequests()
	if len(cancels) != 1 || cancels[0].Body["imp_uid"] != imp || fmt.Sprint(cancels[0].Body["checksum"]) != "10000" ||
		fmt.Sprint(cancels[0].Body["amount"]) != "3500" {
		t.Fatalf("cancel %+v", cancels)
	}
	if got := s.balance("buyer-1"); got != "38.5" {
		t.Fatalf("balance %s, want 38.5", got)
	}

	// Cancelled in the console, unknown to creditd: the refund's checksum is stale.
	if _, err := s.portone.CancelFromConsole(id, 1000); err != nil {
		t.Fatal(err)
	}
	s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"1000","reason":"again"}`).expect(t, http.StatusConflict, "refund-refused")
	last := s.portone.CancelRequests()
	if n := len(last); n != 2 || last[1].Status != http.StatusOK {
		t.Fatalf("cancels %+v, want the second answered 200 (with code 1)", last)
	}
	if p, _ := s.portone.Payment(id); p.Cancelled != 4500 {
		t.Fatalf("cancelled at PortOne %d, want 4500", p.Cancelled)
	}
	a := s.account("buyer-1")
	if a["held"] != "0" {
		t.Fatalf("credits still reserved after a refused refund: %v", a["held"])
	}
	// The console's cancel is taken back once it is seen.
	if r := s.completeV1(id, "").expect(t, http.StatusOK); r.JSON["refundedAmount"] != "4500" {
		t.Fatalf("refunded %v, want 4500", r.JSON["refundedAmount"])
	}
	s.requireSound()
}

// TestV1RefundWhoseAnswerWasLostIsRecoveredOnce: V1 cancels, but its answer
// never reaches creditd; V1 keeps no idempotency key, so the client's retry
// is refused by its checksum, and creditd must read that as done.
func TestV1RefundWhoseAnswerWasLostIsRecoveredOnce(t *testing.T) {
	s := startV1Shop(t, "CREDITD_HTTP_REQUEST_TIMEOUT", "1s")
	_, id, imp := s.paidAtV1("buyer-1")
	s.completeV1(id, imp).expect(t, http.StatusOK)
	s.portone.DelayNext(1, 3*time.Second) // the cancel is done, its answer lost
	s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"5000","reason":"r"}`, "Idempotency-Key", "refund-1").
		expect(t, http.StatusServiceUnavailable, "unavailable")
	time.Sleep(2500 * time.Millisecond) // the delayed cancel lands
	if p, _ := s.portone.Payment(id); p.Cancelled != 5000 {
		t.Fatalf("PortOne cancelled %d", p.Cancelled)
	}
	r := s.do(http.MethodPost, "/v1/orders/"+id+"/refunds", `{"amount":"5000","reason":"r"}`, "Idempotency-Key", "refund-1").expect(t, http.StatusCreated)
	if r.JSON["refundedAmount"] != "5000" {
		t.Fatalf("the retry: %s", r.Raw)
	}
	if p, _ := s.portone.Payment(id); p.Cancelled != 5000 || len(p.Cancellations) != 1 {
		t.Fatalf("PortOne cancelled %d in %d cancellations, want 5000 once", p.Cancelled, len(p.Cancellations))
	}
	if a := s.account("buyer-1"); a["balance"] != "55" || a["held"] != "0" {
		t.Fatalf("balance %v held %v, want 55 and 0", a["balance"], a["held"])
	}
	s.requireSound()
}

// TestV1ReconcileGrantsAPaymentNobodyAnnounced: `creditd reconcile`, with
// V1 settings only, pages V1's payment lists and grants a silent payment.
func TestV1ReconcileGrantsAPaymentNobodyAnnounced(t *testing.T) {
	s := startV1Shop(t)
	_, id, _ := s.paidAtV1("buyer-1")
	out := s.reconcile("PORTONE_V1_API_URL="+s.portone.V1URL(), "PORTONE_V1_IMP_KEY="+s.portone.V1IMPKey,
		"PORTONE_V1_IMP_SECRET="+s.portone.V1IMPSecret, "PORTONE_V1_IMP_CODE="+s.portone.V1IMPCode, "PORTONE_V1_PG=html5_inicis")
	if !strings.Contains(out, id) {
		t.Fatalf("the report does not name the payment it synced:\n%s", out)
	}
	if got := s.balance("buyer-1"); got != "110" {
		t.Fatalf("balance %s", got)
	}
	if strings.Contains(out, s.portone.V1IMPSecret) {
		t.Fatal("the output shows the imp_secret")
	}
	s.requireSound()
}

// TestV1FloodOfUnknownImpUIDsStoresNothing: unsigned webhooks naming
// made-up payments are acknowledged and leave no trace.
func TestV1FloodOfUnknownImpUIDsStoresNothing(t *testing.T) {
	s := startV1Shop(t)
	began := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 250 {
				imp := fmt.Sprintf("imp_%d_%d", w, i)
				merchant := fmt.Sprintf("ord-%x", rand.Uint64())
				if st := s.v1Webhook(i%2 == 0, imp, merchant, "paid"); st != http.StatusOK {
					t.Errorf("webhook answered %d", st)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	t.Logf("2000 notices of unknown payments, 8 senders: %s (%.0f/s)", took.Round(time.Millisecond), 2000/took.Seconds())
	if n := s.inboxRows(""); n != 0 {
		t.Fatalf("%d inbox rows after a flood of unknown payments", n)
	}
	for _, r := range s.portone.Requests() {
		if strings.Contains(r.Path, "/payments/") {
			t.Fatalf("a made-up webhook made creditd ask PortOne: %s", r.Path)
		}
	}
	s.requireSound()
}

// TestV1ConcurrentRefundsAndSpends: refunds of one V1 order race each other
// and spends of its credits. V1 judges each cancel by its checksum alone, so
// every refund either happens whole or is refused; V1 cancels exactly what
// creditd took credits back for.
func TestV1ConcurrentRefundsAndSpends(t *testing.T) {
	s := startV1Shop(t)
	_, id, imp := s.paidAtV1("buyer-1")
	s.completeV1(id, imp).expect(t, http.StatusOK)
	statuses := s.raceRefundsAndSpends(id)
	if p, _ := s.portone.Payment(id); p.Cancelled != int64(2000*statuses[http.StatusCreated]) {
		t.Fatalf("%d refunds succeeded, V1 cancelled %d", statuses[http.StatusCreated], p.Cancelled)
	}
	s.requireSound()
}

// TestV1SandboxWebhooksAloneGrantAndTakeBack: the sandbox sends V1's own
// webhooks (form-encoded, each delivered ten times) to creditd; with no
// complete call the payment grants once, and a console cancel takes back.
func TestV1SandboxWebhooksAloneGrantAndTakeBack(t *testing.T) {
	s := startV1ShopOn(t, sandbox.Config{V1WebhookContentType: sandbox.V1WebhookForm})
	s.portone.SetV1WebhookURL(s.base + "/webhooks/portone/v1")
	s.portone.DuplicateWebhooks(9)
	o, id := s.v1Order("buyer-1")
	s.portone.PayV1(id, payV1Honestly(o))
	s.eventually(id, "PAID")
	if _, err := s.portone.CancelFromConsole(id, 4000); err != nil {
		t.Fatal(err)
	}
	r := s.eventually(id, "PARTIALLY_REFUNDED")
	if r.JSON["refundedAmount"] != "4000" {
		t.Fatalf("refunded %v", r.JSON["refundedAmount"])
	}
	s.drainInbox()
	if got := s.balance("buyer-1"); got != "66" {
		t.Fatalf("balance %s, want 66 (one grant of 110, 40%% taken back)", got)
	}
	for _, a := range s.webhookAttempts(id, 20) {
		if a.Status != "SUCCEEDED" {
			t.Fatalf("creditd did not take a V1 webhook: %+v", a)
		}
	}
	s.requireSound()
}

// TestV1WebhookAllowListIsEnforced: with PORTONE_V1_WEBHOOK_ALLOW set, a
// sender outside it (this test, on 127.0.0.1) is refused, whatever
// X-Forwarded-For says, and nothing is stored.
func TestV1WebhookAllowListIsEnforced(t *testing.T) {
	s := startV1Shop(t, "PORTONE_V1_WEBHOOK_ALLOW", "52.78.100.19,52.78.48.223 52.78.5.241")
	_, id, imp := s.paidAtV1("buyer-1")
	req, err := http.NewRequest(http.MethodPost, s.base+"/webhooks/portone/v1",
		strings.NewReader(url.Values{"imp_uid": {imp}, "merchant_uid": {id}, "status": {"paid"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "52.78.100.19")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a sender outside the allow-list got %d", resp.StatusCode)
	}
	if n := s.inboxRows(""); n != 0 {
		t.Fatalf("%d inbox rows", n)
	}
	s.requireSound()
}

// TestV1TamperedPaymentCompletedConcurrentlyIsCancelledOnce: 8 concurrent
// completes of a tampered V1 payment reject it once and give the money back
// once: V1 takes no idempotency key, so the checksum alone keeps a second
// cancel from going through.
func TestV1TamperedPaymentCompletedConcurrentlyIsCancelledOnce(t *testing.T) {
	s := startV1Shop(t)
	s.portone.EnforcePreRegistration(false)
	o, id := s.v1Order("buyer-1")
	paid := payV1Honestly(o)
	paid.Total = 100
	p := s.portone.Pay(id, paid)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r := s.completeV1(id, p.ImpUID); r.Status != http.StatusOK || r.JSON["status"] != "REJECTED" {
				t.Errorf("complete: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	if after, _ := s.portone.Payment(id); after.Status != "CANCELLED" || after.Cancelled != 100 || len(after.Cancellations) != 1 {
		t.Fatalf("payment %s, cancelled %d in %d cancellations: want 100 given back once", after.Status, after.Cancelled, len(after.Cancellations))
	}
	if got := s.balance("buyer-1"); got != "none" {
		t.Fatalf("a tampered payment granted %s", got)
	}
	s.requireSound()
}
