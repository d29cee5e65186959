package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxExecutions is PortOne's attempts per event: one, then five retries
// (V1's only when its retry option is on).
const maxExecutions = 6

// v1RetryWait is V1's fixed wait before a retry (times WebhookRetryScale).
const v1RetryWait = time.Minute

// The encodings of V1 webhooks (Config.V1WebhookContentType), as V1's
// console offers them.
const (
	V1WebhookJSON = "application/json"
	V1WebhookForm = "application/x-www-form-urlencoded"
)

// retryWaits are PortOne's waits before each attempt (before full jitter
// and WebhookRetryScale).
var retryWaits = [maxExecutions]time.Duration{0, time.Minute, 4 * time.Minute, 16 * time.Minute, 64 * time.Minute, 256 * time.Minute}

// maxResponseBodyBytes is how much of a receiver's answer an attempt keeps.
const maxResponseBodyBytes = 4 << 10

// PaymentWebhook is one delivery attempt, as PortOne lists it in a
// payment's webhooks.
type PaymentWebhook struct {
	ID                    string                  `json:"id"` // the webhook-id
	URL                   string                  `json:"url"`
	PaymentStatus         string                  `json:"paymentStatus,omitempty"`
	Status                string                  `json:"status,omitempty"` // SUCCEEDED, FAILED_NOT_OK_RESPONSE, FAILED_UNEXPECTED_ERROR
	IsAsync               bool                    `json:"isAsync"`
	CurrentExecutionCount int                     `json:"currentExecutionCount"`
	MaxExecutionCount     int                     `json:"maxExecutionCount"`
	Trigger               string                  `json:"trigger,omitempty"`
	Request               *PaymentWebhookRequest  `json:"request,omitempty"`
	Response              *PaymentWebhookResponse `json:"response,omitempty"`
	TriggeredAt           time.Time               `json:"triggeredAt"`
}

// PaymentWebhookRequest is what an attempt sent.
type PaymentWebhookRequest struct {
	Header      string    `json:"header"`
	Body        string    `json:"body"`
	RequestedAt time.Time `json:"requestedAt"`
}

// PaymentWebhookResponse is what the receiver answered.
type PaymentWebhookResponse struct {
	Code        string    `json:"code"`
	Header      string    `json:"header"`
	Body        string    `json:"body"` // the first 4 KiB
	RespondedAt time.Time `json:"respondedAt"`
}

// DroppedWebhook is an event the drop fault kept from being sent.
type DroppedWebhook struct {
	WebhookID string    `json:"webhookId"`
	Type      string    `json:"type"`
	PaymentID string    `json:"paymentId"`
	At        time.Time `json:"at"`
	Why       string    `json:"why"`
}

// event is one payment change to announce: every attempt of it carries the
// same webhook-id and body. A V1 event is an unsigned V1 notice; its
// webhookID only tells its attempts apart in the payment's webhooks.
type event struct {
	v1            bool
	webhookID     string
	eventType     string
	paymentID     string
	paymentStatus string
	trigger       string
	isAsync       bool
	body          []byte
	triggeredAt   time.Time
}

// delivery is an event on its way to url, from attempt onwards.
type delivery struct {
	event
	url     string
	attempt int
}

type webhookFaults struct {
	drop      int  // events still to drop
	duplicate int  // extra sends of each event
	hold      bool // queue events instead of sending them
}

// SignedWebhook returns the Standard Webhooks headers PortOne sends with
// body: webhook-id, webhook-timestamp (ts) and a v1 signature with secret
// (base64, "whsec_" prefix optional), plus Content-Type. It panics on a
// secret that is not base64: that is a mistake in the test.
func SignedWebhook(secret, id string, ts time.Time, body []byte) http.Header {
	key, err := decodeWebhookSecret(secret)
	if err != nil {
		panic(err)
	}
	return signedHeaders([][]byte{key}, id, ts, body)
}

// signedHeaders signs with every key, one v1 signature each, space-separated.
func signedHeaders(keys [][]byte, id string, ts time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	sigs := make([]string, 0, len(keys))
	for _, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + stamp + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "portone-sandbox")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", stamp)
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return h
}

// SendWebhook POSTs a 2024-04-25 webhook of eventType (Transaction.Paid...)
// about a payment to url, signed with secret and a fresh webhook-id, and
// returns the status it got. storeId and transactionId come from the
// payment when the sandbox has it; cancellationID is sent when not empty.
// It is not recorded in the payment's webhooks.
func (s *Sandbox) SendWebhook(ctx context.Context, url, secret, eventType, paymentID, cancellationID string) (int, error) {
	return s.SendWebhookWithID(ctx, url, secret, "msg_"+uuid.NewString(), eventType, paymentID, cancellationID)
}

// SendWebhookWithID is SendWebhook with a given webhook-id, to send a
// delivery again as PortOne's retries do: the body's timestamp stays the
// event's, the webhook-timestamp header is now.
func (s *Sandbox) SendWebhookWithID(ctx context.Context, url, secret, webhookID, eventType, paymentID, cancellationID string) (int, error) {
	s.mu.Lock()
	at, ok := s.webhookTimes[webhookID]
	if !ok {
		if len(s.webhookTimes) >= maxRequestLog { // only resends of recent ids keep their time
			clear(s.webhookTimes)
		}
		at = s.now()
		s.webhookTimes[webhookID] = at
	}
	storeID, transactionID := s.StoreID, ""
	if p, ok := s.payments[paymentID]; ok {
		storeID, transactionID = p.StoreID, p.TransactionID
	}
	s.mu.Unlock()
	body := webhookBody(eventType, at, paymentID, storeID, transactionID, cancellationID)
	return s.post(ctx, url, SignedWebhook(secret, webhookID, s.now(), body), body)
}

// post sends one webhook by hand and returns the status it got.
func (s *Sandbox) post(ctx context.Context, url string, header http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("sandbox: webhook: %w", err)
	}
	req.Header = header
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sandbox: webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	return resp.StatusCode, nil
}

// V1Notice is the body of a V1 webhook.
type V1Notice struct {
	ImpUID         string `json:"imp_uid"`
	MerchantUID    string `json:"merchant_uid"`
	Status         string `json:"status"` // paid, ready, cancelled
	CancellationID string `json:"cancellation_id,omitempty"`
}

// encode is the body as contentType (V1WebhookJSON or V1WebhookForm) has it.
func (n V1Notice) encode(contentType string) []byte {
	if contentType == V1WebhookForm {
		form := url.Values{"imp_uid": {n.ImpUID}, "merchant_uid": {n.MerchantUID}, "status": {n.Status}}
		if n.CancellationID != "" {
			form.Set("cancellation_id", n.CancellationID)
		}
		return []byte(form.Encode())
	}
	return mustJSON(n)
}

func v1Headers(contentType string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("User-Agent", "portone-sandbox")
	return h
}

// SendV1Webhook POSTs a V1 webhook {imp_uid, merchant_uid, status} to url,
// encoded as Config.V1WebhookContentType says, and returns the status it
// got. It is not recorded in the payment's webhooks.
func (s *Sandbox) SendV1Webhook(ctx context.Context, url, impUID, merchantUID, status string) (int, error) {
	return s.SendV1Notice(ctx, url, V1Notice{ImpUID: impUID, MerchantUID: merchantUID, Status: status}, s.cfg.V1WebhookContentType)
}

// SendV1Notice is SendV1Webhook with every field (cancellation_id too) and
// the encoding given.
func (s *Sandbox) SendV1Notice(ctx context.Context, url string, n V1Notice, contentType string) (int, error) {
	return s.post(ctx, url, v1Headers(contentType), n.encode(contentType))
}

type webhookData struct {
	PaymentID      string `json:"paymentId"`
	StoreID        string `json:"storeId"`
	TransactionID  string `json:"transactionId"`
	CancellationID string `json:"cancellationId,omitempty"`
}

// webhookBody is the 2024-04-25 body; timestamp is the event's time.
func webhookBody(eventType string, at time.Time, paymentID, storeID, transactionID, cancellationID string) []byte {
	return mustJSON(struct {
		Type      string      `json:"type"`
		Timestamp string      `json:"timestamp"`
		Data      webhookData `json:"data"`
	}{eventType, at.UTC().Format("2006-01-02T15:04:05.000Z"), webhookData{paymentID, storeID, transactionID, cancellationID}})
}

// v1NoticeStatus is the status V1 announces for each change it announces:
// not a failure, nor a pending payment.
var v1NoticeStatus = map[string]string{
	"Transaction.Paid":                 "paid",
	"Transaction.VirtualAccountIssued": "ready",
	"Transaction.PartialCancelled":     "cancelled",
	"Transaction.Cancelled":            "cancelled",
}

// emit announces a change of p (under s.mu) in the webhooks of the API p
// was made through: it becomes the payment's last event and, with a URL to
// go to, is sent, held or dropped as the faults say.
func (s *Sandbox) emit(p *Payment, eventType, cancellationID, trigger string, isAsync bool) {
	now := s.now()
	ev := event{
		webhookID: "msg_" + uuid.NewString(), eventType: eventType, paymentID: p.ID, paymentStatus: p.Status,
		trigger: trigger, isAsync: isAsync, triggeredAt: now,
	}
	if p.Version == VersionV1 {
		status, announced := v1NoticeStatus[eventType]
		if !announced {
			return
		}
		ev.v1, ev.webhookID = true, "v1_"+uuid.NewString()
		ev.body = V1Notice{ImpUID: p.ImpUID, MerchantUID: p.ID, Status: status, CancellationID: cancellationID}.encode(s.cfg.V1WebhookContentType)
	} else {
		ev.body = webhookBody(eventType, now, p.ID, p.StoreID, p.TransactionID, cancellationID)
	}
	s.lastEvent[p.ID] = ev
	s.sendLocked(ev)
}

// targetLocked is where an event goes now: WebhookURL, or for a V1 event
// its payment's notice_url, else V1WebhookURL; "" is nowhere.
func (s *Sandbox) targetLocked(ev event) string {
	if !ev.v1 {
		return s.webhookURL
	}
	if p, ok := s.payments[ev.paymentID]; ok && p.NoticeURL != "" {
		return p.NoticeURL
	}
	return s.v1WebhookURL
}

func (s *Sandbox) sendLocked(ev event) {
	target := s.targetLocked(ev)
	if target == "" {
		return
	}
	if s.webhookFaults.drop > 0 {
		s.webhookFaults.drop--
		s.recordDropLocked(ev, "drop fault")
		return
	}
	for range 1 + s.webhookFaults.duplicate {
		d := delivery{event: ev, url: target, attempt: 1}
		if s.webhookFaults.hold {
			if len(s.held) >= maxHeldWebhooks {
				s.recordDropLocked(ev, "too many held webhooks")
				continue
			}
			s.held = append(s.held, d)
			continue
		}
		select {
		case s.queue <- d:
		default:
			s.recordDropLocked(ev, "the delivery queue is full")
		}
	}
}

func (s *Sandbox) recordDropLocked(ev event, why string) {
	s.dropped = appendBounded(s.dropped, DroppedWebhook{WebhookID: ev.webhookID, Type: ev.eventType, PaymentID: ev.paymentID, At: s.now(), Why: why}, maxDroppedLog)
}

// dispatch starts a delivery for each queued event until Close. A
// delivery waiting for its next attempt holds no sending slot, so a
// receiver that is down for hours delays nobody else's events; at most
// maxDeliveriesInFlight are under way, later ones are dropped.
func (s *Sandbox) dispatch() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case d := <-s.queue:
			if s.inFlight.Add(1) > maxDeliveriesInFlight {
				s.inFlight.Add(-1)
				s.mu.Lock()
				s.recordDropLocked(d.event, "too many deliveries under way")
				s.mu.Unlock()
				continue
			}
			s.workers.Go(func() {
				defer s.inFlight.Add(-1)
				s.deliver(d)
			})
		}
	}
}

// deliver makes d's attempts, waiting PortOne's backoff before each retry
// (V2's jittered, V1's a fixed minute), until one settles the delivery,
// they run out, or the sandbox closes.
func (s *Sandbox) deliver(d delivery) {
	for ; d.attempt <= s.maxAttempts(d.event); d.attempt++ {
		if d.attempt > 1 {
			wait := time.Duration(float64(retryWaits[d.attempt-1]) * s.cfg.WebhookRetryScale * rand.Float64())
			if d.v1 {
				wait = time.Duration(float64(v1RetryWait) * s.cfg.WebhookRetryScale)
			}
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return
			}
		}
		if s.attempt(d) {
			return
		}
	}
}

// maxAttempts is how many times PortOne sends an event: V2 six times, V1
// once unless its retry option is on.
func (s *Sandbox) maxAttempts(ev event) int {
	if ev.v1 && !s.cfg.V1WebhookRetries {
		return 1
	}
	return maxExecutions
}

// attempt sends d once, records it in the payment's webhooks, and reports
// whether that settles the delivery: the receiver took it (any 2xx) or,
// for V1, which retries only after a network error or a 5xx, it answered.
func (s *Sandbox) attempt(d delivery) bool {
	select {
	case s.sending <- struct{}{}:
		defer func() { <-s.sending }()
	case <-s.ctx.Done():
		return false
	}
	sentAt := s.now()
	var header http.Header
	if d.v1 {
		header = v1Headers(s.cfg.V1WebhookContentType)
	} else {
		header = signedHeaders(s.keys, d.webhookID, sentAt, d.body)
	}
	rec := PaymentWebhook{
		ID: d.webhookID, URL: d.url, PaymentStatus: d.paymentStatus, IsAsync: d.isAsync,
		CurrentExecutionCount: d.attempt, MaxExecutionCount: s.maxAttempts(d.event), Trigger: d.trigger, TriggeredAt: d.triggeredAt,
		Request: &PaymentWebhookRequest{Header: headerText(header), Body: string(d.body), RequestedAt: sentAt},
	}
	ok, settled := false, false
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err == nil {
		req.Header = header
		var resp *http.Response
		if resp, err = s.client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBodyBytes))
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes)) // lets the connection be reused
			resp.Body.Close()
			ok = resp.StatusCode >= 200 && resp.StatusCode < 300
			settled = ok || (d.v1 && resp.StatusCode < 500)
			rec.Response = &PaymentWebhookResponse{Code: strconv.Itoa(resp.StatusCode), Header: headerText(resp.Header), Body: string(body), RespondedAt: s.now()}
		}
	}
	switch {
	case err != nil:
		rec.Status = "FAILED_UNEXPECTED_ERROR"
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("webhook attempt failed", "webhookId", d.webhookID, "attempt", d.attempt, "err", err)
		}
	case ok:
		rec.Status = "SUCCEEDED"
	default:
		rec.Status = "FAILED_NOT_OK_RESPONSE"
		s.log.Warn("webhook refused", "webhookId", d.webhookID, "attempt", d.attempt, "status", rec.Response.Code)
	}
	s.mu.Lock()
	if p, found := s.payments[d.paymentID]; found {
		p.Webhooks = appendBounded(p.Webhooks, rec, maxWebhooksPerPay)
	}
	s.mu.Unlock()
	return settled
}

// headerText renders a header as HTTP/1.1 lines, names sorted.
func headerText(h http.Header) string {
	var b strings.Builder
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range h[name] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	return b.String()
}

// DropWebhooks drops the next n events entirely: no attempt, no retry
// (listed by DroppedWebhooks), as if PortOne lost them.
func (s *Sandbox) DropWebhooks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookFaults.drop = n
}

// DuplicateWebhooks sends each later event k extra times, with the same
// webhook-id, as when PortOne retries a delivery it thinks failed.
func (s *Sandbox) DuplicateWebhooks(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookFaults.duplicate = min(k, 100)
}

// HoldWebhooks queues later events instead of sending them (until
// ReleaseWebhooks or Heal); false sends new events again.
func (s *Sandbox) HoldWebhooks(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookFaults.hold = hold
}

// ReleaseWebhooks sends the held events, in the order they were due or,
// with reverse, newest first; each one's first attempt ends before the next
// one's starts, so the receiver sees that order. Retries run as usual.
func (s *Sandbox) ReleaseWebhooks(reverse bool) int {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	if reverse {
		slices.Reverse(held)
	}
	s.release(held)
	return len(held)
}

func (s *Sandbox) release(held []delivery) {
	if len(held) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil { // closed: Close no longer waits for new senders
		return
	}
	s.workers.Go(func() {
		for _, d := range held {
			if s.ctx.Err() != nil {
				return
			}
			if !s.attempt(d) {
				d.attempt++
				s.workers.Go(func() { s.deliver(d) })
			}
		}
	})
}

// DroppedWebhooks lists the events the drop fault (or a full queue) kept
// from being sent, oldest first.
func (s *Sandbox) DroppedWebhooks() []DroppedWebhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dropped)
}

// ErrNoEvent says a payment has had no event to resend.
var ErrNoEvent = errors.New("sandbox: the payment has had no event")

// ResendWebhook sends a payment's last event again, as the console's
// resend does: the same webhook-id and body, trigger MANUAL.
func (s *Sandbox) ResendWebhook(paymentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.lastEvent[paymentID]
	if !ok {
		return ErrNoEvent
	}
	if s.targetLocked(ev) == "" {
		return errors.New("sandbox: no webhook URL to resend to")
	}
	ev.trigger = "MANUAL"
	s.sendLocked(ev)
	return nil
}

// encodeJSON is json.Marshal for answers of the controls and the checkout.
func encodeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
