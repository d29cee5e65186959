//go:build integration

package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The demo shop's buyer: the page's default user, and the creditd account it maps to.
const buyer = "demo-alice"

func (s *stack) openShop() {
	s.t.Helper()
	s.run("open the shop", chromedp.Navigate(s.shopURL), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"]`)))
}

// buy pays through PortOne V2, the shop's default.
func (s *stack) buy(productID, payMethod string) {
	s.t.Helper()
	s.buyThrough("v2", productID, payMethod)
}

// buyThrough picks the PortOne API (v2 or v1) and the pay method, clicks the
// pack's buy button and waits for the payment window.
func (s *stack) buyThrough(gateway, productID, payMethod string) {
	s.t.Helper()
	s.run("buy "+productID+" through "+gateway,
		chromedp.WaitVisible(chromedp.CSS(`body[data-busy="false"], body:not([data-busy])`)),
		chromedp.SetValue(chromedp.CSS("#gateway"), gateway),
		chromedp.SetValue(chromedp.CSS("#pay-method"), payMethod),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-product-id=%q] button.buy`, productID))),
		chromedp.WaitVisible(chromedp.CSS("#portone-sandbox-window")))
}

// inPaymentWindow runs actions on the sandbox's payment window, an iframe
// on the shop's page.
// (The window is on 127.0.0.1 like the shop: one site, so one process and
// one DOM tree for chromedp to query.)
func (s *stack) inPaymentWindow(what string, actions func(window *chromedp.Node) []chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	// The iframe's node names the document it holds when it is read: read
	// while the frame still shows its first, empty document, it never
	// shows the window's buttons. So it is read again until it does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(s.browser, 2*time.Second)
		frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#portone-sandbox-window")))
		if err == nil {
			_, err = chromedp.Run(ctx, chromedp.WaitVisible(chromedp.CSS("#pay-card"), chromedp.FromNode(frames[0])))
		}
		cancel()
		if err == nil {
			s.run(what, actions(frames[0])...)
			return
		}
		if time.Now().After(deadline) {
			s.screenshot("failed-wait-for-the-payment-window")
			s.t.Fatalf("wait for the payment window: %v", err)
		}
	}
}

func click(selector string) func(*chromedp.Node) []chromedp.Action[chromedp.Void] {
	return func(w *chromedp.Node) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(selector), chromedp.FromNode(w))}
	}
}

// payDifferentAmount is the buyer tampering with the amount in the window.
func payDifferentAmount(amount int) func(*chromedp.Node) []chromedp.Action[chromedp.Void] {
	return func(w *chromedp.Node) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS("#different-amount"), fmt.Sprint(amount), chromedp.FromNode(w)),
			chromedp.Click(chromedp.CSS("#pay-different-amount"), chromedp.FromNode(w)),
		}
	}
}

// waitBalance waits until the page shows the balance, as a person would.
func (s *stack) waitBalance(want string) {
	s.t.Helper()
	s.run("the page shows a balance of "+want, chromedp.WaitVisible(chromedp.CSS("#balance")),
		discard(chromedp.Poll[bool](fmt.Sprintf(`document.querySelector("#balance").textContent.trim() === %q`, want))))
}

// waitOrderShown waits until the page lists an order in the status.
func (s *stack) waitOrderShown(status string) {
	s.t.Helper()
	s.run("the page shows an order "+status,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#orders [data-order-id][data-status=%q]`, status))))
}

// discard runs an action for its effect (a wait) and drops its value.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// onlyOrder is the buyer's one order, as creditd has it.
func (s *stack) onlyOrder() map[string]any {
	s.t.Helper()
	status, out := s.api(http.MethodGet, "/v1/orders?accountId="+buyer, "")
	items, _ := out["items"].([]any)
	if status != http.StatusOK || len(items) != 1 {
		s.t.Fatalf("orders of %s: %d %v", buyer, status, out)
	}
	return items[0].(map[string]any)
}

// waitOrder waits until creditd has the buyer's one order in the status.
func (s *stack) waitOrder(status string) map[string]any {
	s.t.Helper()
	var order map[string]any
	eventually(s.t, "order "+status, func() error {
		order = s.onlyOrder()
		if order["status"] != status {
			return fmt.Errorf("%w: %v", errNotYet, order["status"])
		}
		return nil
	})
	return order
}

// balance is the buyer's balance at creditd ("none" before any credit).
func (s *stack) balance() string {
	s.t.Helper()
	status, out := s.api(http.MethodGet, "/v1/accounts/"+buyer, "")
	if status == http.StatusNotFound {
		return "none"
	}
	if status != http.StatusOK {
		s.t.Fatalf("balance: %d %v", status, out)
	}
	return out["balance"].(string)
}

// sandboxPayment is the payment as PortOne (the sandbox) reports it to creditd.
func (s *stack) sandboxPayment(id string) map[string]any {
	s.t.Helper()
	status, out := call(s.t, http.MethodGet, s.sandbox.URL+"/payments/"+url.PathEscape(id), "", "Authorization", "PortOne "+apiSecret)
	if status != http.StatusOK {
		s.t.Fatalf("sandbox payment %s: %d %v", id, status, out)
	}
	return out
}

// requireWebhooksDelivered checks that the sandbox sent the payment's
// webhooks to creditd and creditd accepted each one.
func (s *stack) requireWebhooksDelivered(id string, atLeast int) {
	s.t.Helper()
	eventually(s.t, "webhooks delivered", func() error {
		hooks, _ := s.sandboxPayment(id)["webhooks"].([]any)
		ok := 0
		for _, h := range hooks {
			if h.(map[string]any)["status"] == "SUCCEEDED" {
				ok++
			}
		}
		if ok < atLeast {
			return fmt.Errorf("%w: %d of %d delivered: %v", errNotYet, ok, atLeast, hooks)
		}
		return nil
	})
}

func TestBuyAPackByCard(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.screenshot("1-shop")
	s.buy("creator", "CARD")
	s.screenshot("2-payment-window")
	s.inPaymentWindow("pay by card", click("#pay-card"))
	s.waitBalance("550")
	s.waitOrderShown("PAID")
	s.screenshot("3-paid")

	order := s.waitOrder("PAID")
	if got := s.balance(); got != "550" {
		t.Fatalf("balance %s, want 550 (500 paid, 50 bonus)", got)
	}
	s.requireWebhooksDelivered(order["paymentId"].(string), 1)
	s.requireSound()
}

func TestVirtualAccountThenDeposit(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buy("starter", "VIRTUAL_ACCOUNT")
	s.inPaymentWindow("issue a virtual account", click("#issue-virtual-account"))
	s.waitOrderShown("AWAITING_DEPOSIT")
	s.screenshot("1-awaiting-deposit")
	order := s.waitOrder("AWAITING_DEPOSIT")
	if got := s.balance(); got != "none" {
		t.Fatalf("credits before the deposit: %s", got)
	}

	id := order["paymentId"].(string)
	if status, out := s.control(http.MethodPost, "/sandbox/payments/"+url.PathEscape(id)+"/deposit", ""); status != http.StatusOK {
		t.Fatalf("deposit: %d %v", status, out)
	}
	// No click: the deposit's webhook reaches creditd, and the page, which
	// polls an order awaiting its deposit, shows the credits.
	s.waitBalance("100")
	s.waitOrderShown("PAID")
	s.screenshot("2-deposited")
	s.waitOrder("PAID")
	s.requireWebhooksDelivered(id, 2)
	s.requireSound()
}

// requireNothingGranted waits until the page and creditd show the buyer's
// order in status, and checks that no credit came of it; it returns the order.
func (s *stack) requireNothingGranted(status, screenshot string) map[string]any {
	s.t.Helper()
	s.waitOrderShown(status)
	s.screenshot(screenshot)
	order := s.waitOrder(status)
	s.waitBalance("0")
	if got := s.balance(); got != "none" {
		s.t.Fatalf("a %s order granted %s", status, got)
	}
	return order
}

func TestTamperedAmountIsRefusedByPreRegistration(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buy("starter", "CARD")
	s.inPaymentWindow("pay 100 instead of 9,900", payDifferentAmount(100))
	order := s.requireNothingGranted("FAILED", "1-refused")
	if p := s.sandboxPayment(order["paymentId"].(string)); p["status"] != "FAILED" {
		t.Fatalf("the sandbox took the tampered payment: %v", p["status"])
	}
	s.requireSound()
}

func TestTamperedAmountWithoutPreRegistrationIsRejected(t *testing.T) {
	s := startStack(t)
	if status, out := s.control(http.MethodPut, "/sandbox/pre-registration", `{"enforced":false}`); status != http.StatusOK {
		t.Fatalf("turning pre-registration off: %d %v", status, out)
	}
	s.openShop()
	s.buy("starter", "CARD")
	s.inPaymentWindow("pay 100 instead of 9,900", payDifferentAmount(100))
	order := s.requireNothingGranted("REJECTED", "1-rejected")
	// creditd gives the money back: it cancels the payment it refused.
	id := order["paymentId"].(string)
	eventually(t, "the tampered payment cancelled at PortOne", func() error {
		if status := s.sandboxPayment(id)["status"]; status != "CANCELLED" {
			return fmt.Errorf("%w: %v", errNotYet, status)
		}
		return nil
	})
	s.requireSound()
}

func TestFailedPaymentGrantsNothing(t *testing.T) {
	s := startStack(t)
	s.openShop()
	s.buy("starter", "CARD")
	s.inPaymentWindow("fail the payment", click("#pay-fail"))
	s.requireNothingGranted("FAILED", "1-failed")
	s.requireSound()
}
