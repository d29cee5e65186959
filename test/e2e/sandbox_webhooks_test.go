//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// TestSandboxWebhooksAreTakenAndTheSameReSignedWithAWrongSecretRefused:
// creditd takes every kind of delivery the sandbox makes (a virtual
// account issued, its deposit, a partial and a full console cancellation, a
// failed payment), and each of those very bodies, re-signed with a secret
// creditd does not hold, is refused with 400 and stores nothing, while the
// same body signed with the right secret again is taken once (as a
// duplicate of its webhook-id).
func TestSandboxWebhooksAreTakenAndTheSameReSignedWithAWrongSecretRefused(t *testing.T) {
	s := startShopWithWebhooks(t)
	paid := s.order("buyer-1")
	paidID := paid.JSON["paymentId"].(string)
	s.checkout(paid, "virtual-account", 0)
	s.eventually(paidID, "AWAITING_DEPOSIT")
	s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(paidID)+"/deposit", "")
	s.eventually(paidID, "PAID")
	s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(paidID)+"/console-cancel", `{"amount":4000}`)
	s.eventually(paidID, "PARTIALLY_REFUNDED")
	s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(paidID)+"/console-cancel", `{}`)
	s.eventually(paidID, "REFUNDED")
	failed := s.order("buyer-2")
	failedID := failed.JSON["paymentId"].(string)
	s.checkout(failed, "fail", 0)
	s.eventually(failedID, "FAILED")

	deliveries := map[string]sandbox.PaymentWebhook{} // by event type
	for _, id := range []string{paidID, failedID} {
		p, _ := s.portone.Payment(id)
		for _, a := range p.Webhooks {
			if a.Status != "SUCCEEDED" {
				t.Fatalf("creditd did not take %s: %+v %+v", a.ID, a, a.Response)
			}
			var body struct{ Type string }
			if err := json.Unmarshal([]byte(a.Request.Body), &body); err != nil {
				t.Fatal(err)
			}
			deliveries[body.Type] = a
		}
	}
	for _, want := range []string{"Transaction.VirtualAccountIssued", "Transaction.Paid", "Transaction.PartialCancelled",
		"Transaction.Cancelled", "Transaction.Failed"} {
		if _, ok := deliveries[want]; !ok {
			t.Fatalf("the sandbox sent no %s; it sent %v", want, deliveries)
		}
	}
	s.drainInbox()
	stored := s.inboxRows("")

	send := func(header http.Header, body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/portone", bytes.NewBufferString(body))
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const wrongSecret = "whsec_bm90LXRoZS1zdG9yZXMtc2VjcmV0LWtleQ==" // a well-formed secret, not creditd's
	for eventType, a := range deliveries {
		if st := send(sandbox.SignedWebhook(wrongSecret, a.ID, time.Now(), []byte(a.Request.Body)), a.Request.Body); st != http.StatusBadRequest {
			t.Errorf("%s re-signed with a wrong secret answered %d, want 400", eventType, st)
		}
		if st := send(sandbox.SignedWebhook(webhookSecret, a.ID, time.Now(), []byte(a.Request.Body)), a.Request.Body); st != http.StatusOK {
			t.Errorf("%s signed again with the right secret answered %d, want 200", eventType, st)
		}
	}
	if now := s.inboxRows(""); now != stored {
		t.Fatalf("the inbox went from %d to %d rows: a re-sent webhook was stored again", stored, now)
	}
	if got := s.balance("buyer-2"); got != "none" {
		t.Fatalf("a failed payment granted %s", got)
	}
	s.requireSound()
}
