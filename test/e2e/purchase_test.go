//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/creditd/creditd/test/fakeportone"
)

// The webhook secret of the purchase tests (PortOne's SDK test secret).
const webhookSecret = "whsec_pzQGE83cSIRKM4/WH5QY+g=="

// shop is creditd selling credits through a fake PortOne over real HTTP.
type shop struct {
	*service
	portone *fakeportone.Server
}

func startShop(t *testing.T, env ...string) *shop {
	t.Helper()
	fp := fakeportone.Start(t, fakeportone.Options{})
	vars := map[string]string{"PORTONE_API_URL": fp.URL, "PORTONE_API_SECRET": fp.APISecret, "PORTONE_STORE_ID": fp.StoreID,
		"PORTONE_CHANNEL_KEY": "channel-key-test", "PORTONE_WEBHOOK_SECRETS": webhookSecret}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	s := &shop{service: start(t, vars), portone: fp}
	s.do(http.MethodPost, "/v1/products", `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10"}`).
		expect(t, http.StatusCreated)
	return s
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
func payHonestly(o response) fakeportone.PaidWith {
	return fakeportone.PaidWith{Total: int64(o.JSON["totalAmount"].(float64)), OrderName: o.JSON["orderName"].(string),
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
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	s.portone.Pay(id, payHonestly(o))
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
	paidLess := payHonestly(o)
	paidLess.Total = 100 // as if pre-registration were off
	s.portone.SetPayment(fakeportone.Payment{ID: id, Status: "PAID", OrderName: paidLess.OrderName, CustomData: paidLess.CustomData, Total: 100})
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
	o := s.order("buyer-1")
	id := o.JSON["paymentId"].(string)
	s.portone.Pay(id, payHonestly(o))
	s.portone.FailNext(20, http.StatusInternalServerError)
	r := s.complete(id).expect(t, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	s.portone.Heal()
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
