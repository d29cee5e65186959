//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestEventsReachAWebhookEndpoint: the whole service, with an endpoint
// registered over the API: grants publish transaction.created events that
// arrive signed with the secret the POST answered (verified by the
// Standard Webhooks library), every one despite a receiver failing at
// first, in order per account; the delivery log shows them; a redeliver
// sends one again with the same webhook-id.
func TestEventsReachAWebhookEndpoint(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"CREDITD_EVENTS_ALLOW_PRIVATE_URLS": "true", "CREDITD_EVENTS_POLL_INTERVAL": "20ms",
		"CREDITD_EVENTS_BACKOFF_BASE": "1s", "CREDITD_EVENTS_BACKOFF_CAP": "1s"})
	type got struct {
		id      string
		account string
		balance string
	}
	var (
		mu       sync.Mutex
		secret   string
		calls    int
		received []got
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Errorf("secret: %v", err)
		} else if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var msg struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				AccountID    string `json:"accountId"`
				BalanceAfter string `json:"balanceAfter"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "transaction.created" || msg.ID != r.Header.Get("webhook-id") {
			t.Errorf("body %s: %v", body, err)
		}
		received = append(received, got{id: msg.ID, account: msg.Data.AccountID, balance: msg.Data.BalanceAfter})
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	created := s.do(http.MethodPost, "/v1/webhook-endpoints", `{"url":"`+recv.URL+`/hooks","events":["transaction.created"]}`).
		expect(t, http.StatusCreated)
	endpoint := created.JSON["id"].(string)
	mu.Lock()
	secret = created.JSON["secret"].(string)
	mu.Unlock()

	const accounts, grants = 3, 4
	for range grants {
		for a := range accounts {
			s.do(http.MethodPost, fmt.Sprintf("/v1/accounts/user-%d/grants", a), `{"amount":"1","source":"bonus"}`).expect(t, http.StatusCreated)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= accounts*grants {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived", n, accounts*grants)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	seen, last := map[string]bool{}, map[string]int{}
	for _, r := range received {
		if seen[r.id] {
			t.Errorf("event %s arrived twice", r.id)
		}
		seen[r.id] = true
		var b int
		fmt.Sscan(r.balance, &b)
		if b != last[r.account]+1 {
			t.Errorf("account %s: balance %s after %d: out of order", r.account, r.balance, last[r.account])
		}
		last[r.account] = b
	}
	first := received[0].id
	mu.Unlock()

	log := s.do(http.MethodGet, "/v1/webhook-endpoints/"+endpoint+"/deliveries?status=delivered&limit=200", "").expect(t, http.StatusOK)
	if items := log.JSON["items"].([]any); len(items) != accounts*grants {
		t.Fatalf("the log shows %d delivered", len(items))
	}
	s.do(http.MethodPost, "/v1/webhook-endpoints/"+endpoint+"/deliveries/"+first+"/redeliver", "").expect(t, http.StatusAccepted)
	for {
		mu.Lock()
		again := received[len(received)-1].id == first && len(received) > accounts*grants
		mu.Unlock()
		if again {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the redelivery did not arrive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.do(http.MethodDelete, "/v1/webhook-endpoints/"+endpoint, "").expect(t, http.StatusNoContent)
	s.requireSound()
}
