package webhooksender_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/creditd/creditd/adapters/webhooksender"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var secret = domain.NewWebhookSecret([32]byte{7, 7, 7})

// TestSentMessagesVerify: what the sender POSTs verifies with the Standard
// Webhooks library's Verify and the endpoint's secret, and carries the body
// unchanged; with another secret, or an altered body, it does not.
func TestSentMessagesVerify(t *testing.T) {
	var got struct {
		body   []byte
		header http.Header
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.body, _ = io.ReadAll(r.Body)
		got.header = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := application.Delivery{EventID: [16]byte{0x01, 0x93}, Type: "order.paid", Data: []byte(`{"paymentId":"p-1","status":"PAID"}`),
		OccurredAt: time.Date(2026, 12, 1, 9, 30, 0, 123000000, time.UTC)}
	body := application.DeliveryBody(d)
	if want := `{"id":"01930000-0000-0000-0000-000000000000","type":"order.paid","timestamp":"2026-12-01T09:30:00.123Z","data":{"paymentId":"p-1","status":"PAID"}}`; string(body) != want {
		t.Fatalf("body %s\nwant %s", body, want)
	}
	now := time.Now()
	res := webhooksender.New(webhooksender.Config{AllowPrivate: true}).Send(context.Background(), application.WebhookMessage{
		URL: srv.URL, Secret: secret, ID: "01930000-0000-0000-0000-000000000000", Timestamp: now, Body: body})
	if !res.Delivered() || res.StatusCode != 204 {
		t.Fatalf("result %+v", res)
	}
	if string(got.body) != string(body) {
		t.Errorf("received %s", got.body)
	}
	if got.header.Get("webhook-id") != "01930000-0000-0000-0000-000000000000" || got.header.Get("webhook-timestamp") != strconv.FormatInt(now.Unix(), 10) ||
		!strings.HasPrefix(got.header.Get("webhook-signature"), "v1,") || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", got.header)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Errorf("does not verify: %v", err)
	}
	if err := wh.Verify(append([]byte(" "), got.body...), got.header); err == nil {
		t.Error("an altered body verifies")
	}
	other, _ := standardwebhooks.NewWebhook(domain.NewWebhookSecret([32]byte{8}))
	if err := other.Verify(got.body, got.header); err == nil {
		t.Error("another secret verifies")
	}
}

// TestNoRedirectsAndBoundedReads: a 3xx is a failed attempt (not
// followed), and a huge response body is not read to its end.
func TestNoRedirectsAndBoundedReads(t *testing.T) {
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
		case "/target":
			followed.Store(true)
		case "/huge":
			w.WriteHeader(http.StatusOK)
			for range 1 << 14 { // 64 MiB, if anyone read it
				if _, err := w.Write(make([]byte, 4096)); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()
	s := webhooksender.New(webhooksender.Config{AllowPrivate: true})
	msg := application.WebhookMessage{URL: srv.URL + "/redirect", Secret: secret, ID: "x", Timestamp: time.Now(), Body: []byte(`{}`)}
	if res := s.Send(context.Background(), msg); res.Delivered() || res.StatusCode != http.StatusTemporaryRedirect || followed.Load() {
		t.Errorf("redirect: %+v, followed %v", res, followed.Load())
	}
	msg.URL = srv.URL + "/huge"
	start := time.Now()
	if res := s.Send(context.Background(), msg); !res.Delivered() {
		t.Errorf("huge: %+v", res)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the sender read the whole body")
	}
}

// TestPrivateAddressesRefusedAtConnect: without AllowPrivate, a URL whose
// host resolves to loopback is refused when dialling, whatever it looked
// like when registered (DNS rebinding).
func TestPrivateAddressesRefusedAtConnect(t *testing.T) {
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	s := webhooksender.New(webhooksender.Config{})
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		res := s.Send(context.Background(), application.WebhookMessage{URL: u, Secret: secret, ID: "x", Timestamp: time.Now(), Body: []byte(`{}`)})
		if res.Delivered() || !errors.Is(res.Err, webhooksender.ErrForbiddenAddress) {
			t.Errorf("%s: %+v", u, res)
		}
	}
	if hit.Load() {
		t.Error("the private receiver was reached")
	}
}
