package portone

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// webhookTolerance is how far a delivery's webhook-timestamp may be from
// now, either way, as in PortOne's SDKs.
const webhookTolerance = 5 * time.Minute

// WebhookVerifier checks PortOne V2 webhooks (Standard Webhooks signatures)
// against one secret, or two while one is being rotated out.
type WebhookVerifier struct {
	keys [][]byte
}

var _ application.WebhookVerifier = (*WebhookVerifier)(nil)

// NewWebhookVerifier takes the console's webhook secrets (base64, with or
// without the "whsec_" prefix); these are not the API secret.
func NewWebhookVerifier(secrets []string) (*WebhookVerifier, error) {
	if len(secrets) == 0 || len(secrets) > 2 {
		return nil, fmt.Errorf("portone: want 1 or 2 webhook secrets, got %d", len(secrets))
	}
	v := &WebhookVerifier{}
	for i, s := range secrets {
		key, err := decodeWebhookSecret(s)
		if err != nil {
			// Never echo the secret: name it by position.
			return nil, fmt.Errorf("portone: webhook secret #%d: %w", i+1, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

func decodeWebhookSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil {
		return nil, errors.New("not base64 (after an optional whsec_ prefix)")
	}
	if len(key) == 0 {
		return nil, errors.New("empty")
	}
	return key, nil
}

// Verify checks d as PortOne's SDKs do, then reads its 2024-04-25 body.
//
// The event is returned as sent, with two leniencies the caller relies on:
// an unknown type is kept (the caller ignores it), and a paymentId that
// domain.ParsePaymentID refuses leaves Payment zero (no payment creditd made,
// so the caller ignores it too). A verified body that is not a JSON object is
// MALFORMED_BODY.
func (v *WebhookVerifier) Verify(d application.WebhookDelivery, now time.Time) (application.WebhookEvent, error) {
	if d.ID == "" || d.Timestamp == "" || d.Signature == "" {
		return application.WebhookEvent{}, reject(application.WebhookMissingHeaders)
	}
	ts, err := strconv.ParseInt(d.Timestamp, 10, 64)
	if err != nil {
		return application.WebhookEvent{}, reject(application.WebhookInvalidSignature)
	}
	tol := int64(webhookTolerance / time.Second)
	switch n := now.Unix(); {
	case n-ts > tol:
		return application.WebhookEvent{}, reject(application.WebhookTimestampTooOld)
	case ts-n > tol:
		return application.WebhookEvent{}, reject(application.WebhookTimestampTooNew)
	}
	if !v.signed(d) {
		return application.WebhookEvent{}, reject(application.WebhookNoMatchingSignature)
	}
	return parseWebhookBody(d.ID, d.Body)
}

// signed reports whether any v1 signature in d matches any key. The
// timestamp is signed as the header has it, as the JS and Python SDKs do.
func (v *WebhookVerifier) signed(d application.WebhookDelivery) bool {
	expected := make([][]byte, len(v.keys))
	for i, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(d.ID + "." + d.Timestamp + "."))
		mac.Write(d.Body)
		expected[i] = mac.Sum(nil)
	}
	for _, entry := range strings.Split(d.Signature, " ") {
		parts := strings.SplitN(entry, ",", 3)
		if len(parts) < 2 || parts[0] != "v1" {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(parts[1])
		if err != nil {
			continue
		}
		for _, e := range expected {
			if hmac.Equal(sig, e) {
				return true
			}
		}
	}
	return false
}

func parseWebhookBody(id string, body []byte) (application.WebhookEvent, error) {
	var w struct {
		Type      json.RawMessage            `json:"type"`
		Timestamp json.RawMessage            `json:"timestamp"`
		Data      map[string]json.RawMessage `json:"data"`
	}
	// Unmarshal takes null for an empty object; the body must be an object.
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' || json.Unmarshal(body, &w) != nil {
		return application.WebhookEvent{}, reject(application.WebhookMalformedBody)
	}
	// Fields are read only when they are strings: another event type may
	// shape its data differently, and the caller ignores what it does not know.
	e := application.WebhookEvent{
		ID:             id,
		Type:           str(w.Type),
		StoreID:        str(w.Data["storeId"]),
		CancellationID: str(w.Data["cancellationId"]),
	}
	if at, err := time.Parse(time.RFC3339Nano, str(w.Timestamp)); err == nil {
		e.OccurredAt = at
	}
	if pid, err := domain.ParsePaymentID(str(w.Data["paymentId"])); err == nil {
		e.Payment = pid
	}
	return e, nil
}

// str is raw's value if it is a JSON string, else "".
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func reject(r application.WebhookRejection) error {
	return &application.InvalidWebhookError{Reason: r}
}
