//go:build integration

package browser

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// Purchases through PortOne V1 (iamport): the shop's page picks V1, creditd
// makes a V1 order, the page pays it with IMP.request_pay in the sandbox's
// window, and creditd learns of it from the completion (with the imp_uid)
// and the sandbox's V1 webhooks.

// requireV1Order checks that creditd made the order a V1 one, and that the
// sandbox has its payment as made through V1.
func (s *stack) requireV1Order(order map[string]any) string {
	s.t.Helper()
	id, _ := order["paymentId"].(string)
	if order["gateway"] != "v1" {
		s.t.Fatalf("the order is not a V1 one: %v", order)
	}
	if p, ok := s.sandbox.Payment(id); !ok || p.Version != sandbox.VersionV1 {
		s.t.Fatalf("the sandbox's payment %s is not a V1 one: %+v", id, p)
	}
	return id
}

func TestBuyAPackThroughV1ByCard(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buyThrough("v1", "creator", "CARD")
	s.screenshot("1-v1-payment-window")
	s.inPaymentWindow("pay by card", click("#pay-card"))
	s.waitBalance("550")
	s.waitOrderShown("PAID")
	s.screenshot("2-paid")

	id := s.requireV1Order(s.waitOrder("PAID"))
	if got := s.balance(); got != "550" {
		t.Fatalf("balance %s, want 550 (500 paid, 50 bonus)", got)
	}
	s.requireWebhooksDelivered(id, 1) // V1's paid webhook, which creditd took
	s.requireSound()
}

func TestV1VirtualAccountThenDeposit(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buyThrough("v1", "starter", "VIRTUAL_ACCOUNT")
	s.inPaymentWindow("issue a virtual account", click("#issue-virtual-account"))
	s.waitOrderShown("AWAITING_DEPOSIT")
	id := s.requireV1Order(s.waitOrder("AWAITING_DEPOSIT"))
	if got := s.balance(); got != "none" {
		t.Fatalf("credits before the deposit: %s", got)
	}
	if status, out := s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(id)+"/deposit", ""); status != http.StatusOK {
		t.Fatalf("deposit: %d %v", status, out)
	}
	// No click: V1's deposit webhook reaches creditd, and the page, which
	// polls an order awaiting its deposit, shows the credits.
	s.waitBalance("100")
	s.waitOrderShown("PAID")
	s.waitOrder("PAID")
	s.requireWebhooksDelivered(id, 2) // ready, then paid
	s.requireSound()
}

func TestV1TamperedAmountIsRefusedByPreRegistration(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buyThrough("v1", "starter", "CARD")
	s.inPaymentWindow("pay 100 instead of 9,900", payDifferentAmount(100))
	order := s.requireNothingGranted("FAILED", "1-refused")
	id := s.requireV1Order(order)
	if p := s.sandboxPayment(id); p["status"] != "FAILED" {
		t.Fatalf("the sandbox took the tampered payment: %v", p["status"])
	}
	s.requireSound()
}

func TestV1TamperedAmountWithoutPreRegistrationIsRejected(t *testing.T) {
	s := startStack(t)
	if status, out := s.control(http.MethodPut, "/sandbox/pre-registration", `{"enforced":false}`); status != http.StatusOK {
		t.Fatalf("turning pre-registration off: %d %v", status, out)
	}
	s.openShop()
	s.buyThrough("v1", "starter", "CARD")
	s.inPaymentWindow("pay 100 instead of 9,900", payDifferentAmount(100))
	order := s.requireNothingGranted("REJECTED", "1-rejected")
	id := s.requireV1Order(order)
	// creditd gives the money back: it cancels the payment it refused.
	eventually(t, "the tampered payment cancelled at PortOne", func() error {
		if status := s.sandboxPayment(id)["status"]; status != "CANCELLED" {
			return fmt.Errorf("%w: %v", errNotYet, status)
		}
		return nil
	})
	s.requireSound()
}
