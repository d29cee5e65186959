package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SignedWebhook returns the Standard Webhooks headers PortOne sends with
// body: webhook-id, webhook-timestamp (ts) and a v1 signature with secret
// (base64, "whsec_" prefix optional), plus Content-Type. It panics on a
// secret that is not base64: that is a mistake in the test.
func SignedWebhook(secret, id string, ts time.Time, body []byte) http.Header {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		panic("fakeportone: the webhook secret is not base64")
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + stamp + "."))
	mac.Write(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", stamp)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

// SendWebhook POSTs a 2024-04-25 webhook of eventType (Transaction.Paid...)
// about a payment to url, signed with secret and a fresh webhook-id, and
// returns the status it got. storeId and transactionId come from the
// payment when the fake has it; cancellationID is sent when not empty.
func (s *Sandbox) SendWebhook(ctx context.Context, url, secret, eventType, paymentID, cancellationID string) (int, error) {
	return s.SendWebhookWithID(ctx, url, secret, "msg_"+uuid.NewString(), eventType, paymentID, cancellationID)
}

// SendWebhookWithID is SendWebhook with a given webhook-id, to send a
// delivery again as PortOne's retries do: the body's timestamp stays the
// event's, the webhook-timestamp header is now.
func (s *Sandbox) SendWebhookWithID(ctx context.Context, url, secret, webhookID, eventType, paymentID, cancellationID string) (int, error) {
	body := s.webhookBody(webhookID, eventType, paymentID, cancellationID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("fakeportone: webhook: %w", err)
	}
	req.Header = SignedWebhook(secret, webhookID, s.now(), body)
	req.Header.Set("User-Agent", "fakeportone")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fakeportone: webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

type webhookData struct {
	PaymentID      string `json:"paymentId"`
	StoreID        string `json:"storeId"`
	TransactionID  string `json:"transactionId"`
	CancellationID string `json:"cancellationId,omitempty"`
}

func (s *Sandbox) webhookBody(webhookID, eventType, paymentID, cancellationID string) []byte {
	s.mu.Lock()
	at, ok := s.webhookTimes[webhookID]
	if !ok {
		at = s.now()
		s.webhookTimes[webhookID] = at
	}
	data := webhookData{PaymentID: paymentID, StoreID: s.StoreID, CancellationID: cancellationID}
	if p, ok := s.payments[paymentID]; ok {
		data.StoreID, data.TransactionID = p.StoreID, p.TransactionID
	}
	s.mu.Unlock()
	body, _ := json.Marshal(struct {
		Type      string      `json:"type"`
		Timestamp string      `json:"timestamp"`
		Data      webhookData `json:"data"`
	}{eventType, at.UTC().Format("2006-01-02T15:04:05.000Z"), data})
	return body
}
