//go:build integration

package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// The sandbox's V1 library on its own, in Chromium: a merchant page that
// loads /v1/iamport.js and calls IMP as PortOne's V1 documents it, its
// callback keeping rsp in window.rsp.

// startMerchant serves a blank merchant page loading the sandbox's V1
// library, on 127.0.0.1 as the sandbox, and a browser on it.
func startMerchant(t *testing.T) (*stack, string) {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><script src="%s/v1/iamport.js"></script></head><body><h1 id="page">merchant %s</h1></body></html>`,
			sb.URL, r.URL.Path)
	}))
	t.Cleanup(page.Close)
	s := &stack{t: t, sandbox: sb, browser: newBrowser(t)}
	s.run("open the merchant page", chromedp.Navigate(page.URL+"/pay"), chromedp.WaitVisible(chromedp.CSS("#page")))
	return s, page.URL
}

// requestPay calls IMP.init(impCode) and IMP.request_pay(params, keep rsp).
func (s *stack) requestPay(impCode string, params map[string]any) {
	s.t.Helper()
	b, _ := json.Marshal(params)
	s.run("request_pay", discard(chromedp.Evaluate[bool](fmt.Sprintf(
		`window.rsp = null; IMP.init(%q); IMP.request_pay(%s, function (rsp) { window.rsp = rsp; }); true`, impCode, b))))
}

// rsp waits for the callback's rsp.
func (s *stack) rsp() map[string]any {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.browser, 20*time.Second)
	defer cancel()
	rsp, err := chromedp.Run(ctx, chromedp.Poll[map[string]any]("window.rsp"))
	if err != nil {
		s.screenshot("failed-rsp")
		s.t.Fatalf("no rsp: %v", err)
	}
	return rsp
}

func v1Params(merchantUID string) map[string]any {
	return map[string]any{"pg": "html5_inicis", "pay_method": "card", "merchant_uid": merchantUID, "name": "Starter",
		"amount": 9900, "buyer_name": "홍길동", "custom_data": map[string]string{"order": merchantUID}}
}

func TestIMPPaysByCard(t *testing.T) {
	s, _ := startMerchant(t)
	s.requestPay(sandbox.DefaultV1IMPCode, v1Params("ord-1"))
	s.run("wait for the window", chromedp.WaitVisible(chromedp.CSS("#portone-sandbox-window")))
	s.inPaymentWindow("pay by card", click("#pay-card"))
	rsp := s.rsp()
	p, _ := s.sandbox.Payment("ord-1")
	if rsp["success"] != true || rsp["imp_uid"] != p.ImpUID || rsp["merchant_uid"] != "ord-1" || rsp["paid_amount"] != 9900.0 ||
		rsp["status"] != "paid" || rsp["pay_method"] != "card" || p.Status != sandbox.StatusPaid || p.Version != sandbox.VersionV1 {
		t.Fatalf("rsp %v, payment %+v", rsp, p)
	}
	s.run("the window is gone", chromedp.WaitNotPresent(chromedp.CSS("#portone-sandbox-overlay")))
}

func TestIMPClosedWindowIsAFailure(t *testing.T) {
	s, _ := startMerchant(t)
	s.requestPay(sandbox.DefaultV1IMPCode, v1Params("ord-1"))
	s.run("wait for the window", chromedp.WaitVisible(chromedp.CSS("#portone-sandbox-window")))
	s.run("close it", chromedp.Click(chromedp.CSS("#portone-sandbox-close")))
	rsp := s.rsp()
	p, _ := s.sandbox.Payment("ord-1")
	if rsp["success"] != false || rsp["error_code"] != "PAY_PROCESS_CANCELED" || rsp["imp_uid"] != p.ImpUID || rsp["merchant_uid"] != "ord-1" ||
		!strings.Contains(rsp["error_msg"].(string), "취소") || p.Status != sandbox.StatusReady {
		t.Fatalf("rsp %v, payment %+v", rsp, p)
	}
}

func TestIMPRefusals(t *testing.T) {
	s, _ := startMerchant(t)
	s.requestPay("imp99999999", v1Params("ord-1"))
	if rsp := s.rsp(); rsp["success"] != false || rsp["error_code"] != "UnknownImpCode" || !strings.Contains(rsp["error_msg"].(string), "imp99999999") {
		t.Errorf("another store's code: %v", rsp)
	}
	bad := v1Params("ord-2")
	bad["amount"] = "9900"
	s.requestPay(sandbox.DefaultV1IMPCode, bad)
	if rsp := s.rsp(); rsp["success"] != false || rsp["error_code"] != "InvalidArgument" || rsp["merchant_uid"] != "ord-2" {
		t.Errorf("an amount as text: %v", rsp)
	}
	s.run("no window opened", chromedp.WaitNotPresent(chromedp.CSS("#portone-sandbox-overlay")))
	if n := len(s.sandbox.Payments()); n != 0 {
		t.Errorf("refusals made %d payments", n)
	}

	s.run("a fresh page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#page")))
	s.run("request_pay before IMP.init", discard(chromedp.Evaluate[bool](
		`window.rsp = null; IMP.request_pay({merchant_uid: "ord-3", amount: 1}, function (rsp) { window.rsp = rsp; }); true`)))
	if rsp := s.rsp(); rsp["success"] != false || !strings.Contains(rsp["error_msg"].(string), "IMP.init") {
		t.Errorf("before IMP.init: %v", rsp)
	}
}

func TestIMPRedirectMode(t *testing.T) {
	s, pageURL := startMerchant(t)
	params := v1Params("ord-1")
	params["m_redirect_url"] = pageURL + "/done?from=shop"
	s.requestPay(sandbox.DefaultV1IMPCode, params)
	s.run("wait for the window", chromedp.WaitVisible(chromedp.CSS("#portone-sandbox-window")))
	s.inPaymentWindow("pay by card", click("#pay-card"))
	q := s.redirectedTo("/done")
	p, _ := s.sandbox.Payment("ord-1")
	if q.Get("from") != "shop" || q.Get("imp_uid") != p.ImpUID || q.Get("merchant_uid") != "ord-1" || q.Get("imp_success") != "true" || q.Has("error_code") {
		t.Fatalf("redirected with %v", q)
	}

	// A failure redirects too, with its code and message.
	s.run("open the merchant page", chromedp.Navigate(pageURL+"/pay"), chromedp.WaitVisible(chromedp.CSS("#page")))
	params = v1Params("ord-2")
	params["m_redirect_url"] = pageURL + "/done"
	s.requestPay(sandbox.DefaultV1IMPCode, params)
	s.run("wait for the window", chromedp.WaitVisible(chromedp.CSS("#portone-sandbox-window")))
	s.inPaymentWindow("fail the payment", click("#pay-fail"))
	if q := s.redirectedTo("/done"); q.Get("imp_success") != "false" || q.Get("merchant_uid") != "ord-2" || q.Get("error_code") == "" || q.Get("error_msg") == "" {
		t.Fatalf("redirected with %v", q)
	}

	// A refusal before any window, with no callback to take it, redirects too.
	s.run("open the merchant page", chromedp.Navigate(pageURL+"/pay"), chromedp.WaitVisible(chromedp.CSS("#page")))
	b, _ := json.Marshal(map[string]any{"merchant_uid": "ord-3", "amount": 1000, "pay_method": "card", "m_redirect_url": pageURL + "/refused"})
	s.run("request_pay without a callback", discard(chromedp.Evaluate[bool](fmt.Sprintf(`IMP.init("imp99999999"); IMP.request_pay(%s); true`, b))))
	if q := s.redirectedTo("/refused"); q.Get("imp_success") != "false" || q.Get("merchant_uid") != "ord-3" || q.Get("error_code") != "UnknownImpCode" {
		t.Fatalf("redirected with %v", q)
	}
}

// redirectedTo waits until the page is at path on the merchant's site and
// returns its query.
func (s *stack) redirectedTo(path string) url.Values {
	s.t.Helper()
	var q url.Values
	eventually(s.t, "redirected to "+path, func() error {
		ctx, cancel := context.WithTimeout(s.browser, 2*time.Second)
		defer cancel()
		loc, err := chromedp.Run(ctx, chromedp.Location()) // fails while the page navigates
		if err != nil {
			return err
		}
		u, err := url.Parse(loc)
		if err != nil || u.Path != path {
			return fmt.Errorf("%w: at %s", errNotYet, loc)
		}
		q = u.Query()
		return nil
	})
	return q
}
