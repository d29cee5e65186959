package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// ---------------------------------------------------------------------------
// A fast local PortOne, for scenario 5

// The PortOne settings the benchmark's creditd sells credits with.
const (
	benchPortOneSecret = "bench-portone-api-secret"
	benchStoreID       = "store-bench"
	benchChannelKey    = "channel-key-bench"
	// benchWebhookSecret is a whsec_ secret: the base64 of its HMAC key
	// ("creditd-bench-webhook-key-24").
	benchWebhookSecret = "whsec_Y3JlZGl0ZC1iZW5jaC13ZWJob29rLWtleS0yNA=="
)

// fakePortOne answers the two PortOne calls scenario 5 makes creditd do
// (POST /payments/{id}/pre-register when an order is created, GET
// /payments/{id} when a webhook's event is processed), plus an empty
// payments-by-cursor. It is not cmd/portone-sandbox: that one keeps a
// log of the requests it receives and renders each answer anew under one
// mutex. Here a paid payment's JSON
// is rendered once, when the bench pays it, and a GET copies those bytes
// under a read lock, on fasthttp's server, the cheapest in CPU per request
// of the Go servers at hand: it shares the machine's two cores with creditd
// and PostgreSQL, and the inbox's worker calls it once per event.
type fakePortOne struct {
	URL     string
	secret  string
	storeID string
	ln      net.Listener
	srv     *fasthttp.Server
	done    chan struct{}

	mu       sync.RWMutex
	payments map[string][]byte // id -> GET /payments/{id} body
	preReg   map[string]preRegistration

	gets, preRegisters, refused atomic.Int64 // requests answered, for the report
}

type preRegistration struct {
	Total    int64
	Currency string
}

// startFakePortOne serves on 127.0.0.1 until close.
func startFakePortOne(secret, storeID string) (*fakePortOne, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakePortOne{URL: "http://" + ln.Addr().String(), secret: secret, storeID: storeID, ln: ln, done: make(chan struct{}),
		payments: map[string][]byte{}, preReg: map[string]preRegistration{}}
	f.srv = &fasthttp.Server{Handler: f.handle, Name: "fakeportone-bench", NoDefaultServerHeader: true, NoDefaultDate: true,
		ReadTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

func (f *fakePortOne) close() {
	_ = f.srv.Shutdown()
	<-f.done
}

// portOneError is PortOne's error envelope.
func portOneError(ctx *fasthttp.RequestCtx, status int, typ, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{typ, msg})
	ctx.SetBody(b)
}

func (f *fakePortOne) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Request.Header.Peek("Authorization")) != "PortOne "+f.secret {
		f.refused.Add(1)
		portOneError(ctx, fasthttp.StatusUnauthorized, "UNAUTHORIZED", "bad API secret")
		return
	}
	if s := ctx.QueryArgs().Peek("storeId"); len(s) > 0 && string(s) != f.storeID {
		f.refused.Add(1)
		portOneError(ctx, fasthttp.StatusForbidden, "FORBIDDEN", "another store")
		return
	}
	path := string(ctx.Path())
	rest, ok := strings.CutPrefix(path, "/payments/")
	switch {
	case ok && ctx.IsGet() && !strings.Contains(rest, "/"):
		f.gets.Add(1)
		f.mu.RLock()
		body, found := f.payments[rest]
		f.mu.RUnlock()
		if !found {
			portOneError(ctx, fasthttp.StatusNotFound, "PAYMENT_NOT_FOUND", "no payment "+rest)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	case ok && ctx.IsPost() && strings.HasSuffix(rest, "/pre-register"):
		f.preRegisters.Add(1)
		id := strings.TrimSuffix(rest, "/pre-register")
		var r struct {
			TotalAmount int64  `json:"totalAmount"`
			Currency    string `json:"currency"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &r); err != nil {
			portOneError(ctx, fasthttp.StatusBadRequest, "INVALID_REQUEST", err.Error())
			return
		}
		f.mu.Lock()
		_, paid := f.payments[id]
		if !paid {
			f.preReg[id] = preRegistration{r.TotalAmount, r.Currency}
		}
		f.mu.Unlock()
		if paid {
			portOneError(ctx, fasthttp.StatusConflict, "ALREADY_PAID", "paid already")
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString("{}")
	case path == "/payments-by-cursor" && ctx.IsGet():
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"items":[]}`)
	default:
		portOneError(ctx, fasthttp.StatusNotFound, "NOT_FOUND", "the bench's PortOne serves only pre-register and GET /payments/{id}")
	}
}

// paidPayment is the part of PortOne's Payment (status PAID, by card) that
// creditd reads, in PortOne's names.
type paidPayment struct {
	Status        string    `json:"status"`
	ID            string    `json:"id"`
	TransactionID string    `json:"transactionId"`
	MerchantID    string    `json:"merchantId"`
	StoreID       string    `json:"storeId"`
	Version       string    `json:"version"`
	RequestedAt   time.Time `json:"requestedAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	PaidAt        time.Time `json:"paidAt"`
	OrderName     string    `json:"orderName"`
	Currency      string    `json:"currency"`
	CustomData    string    `json:"customData"`
	Amount        struct {
		Total     int64 `json:"total"`
		Paid      int64 `json:"paid"`
		Cancelled int64 `json:"cancelled"`
	} `json:"amount"`
	Method struct {
		Type string `json:"type"`
	} `json:"method"`
}

// pay makes a payment PAID: the buyer paid total in currency for the order
// named orderName with customData, as PortOne's checkout would. It refuses
// an amount or currency other than the pre-registered one, as PortOne does.
func (f *fakePortOne) pay(id string, total int64, currency, orderName, customData string, at time.Time) error {
	p := paidPayment{Status: "PAID", ID: id, TransactionID: "tx-" + id, MerchantID: "merchant-bench", StoreID: f.storeID, Version: "V2",
		RequestedAt: at.UTC(), UpdatedAt: at.UTC(), PaidAt: at.UTC(), OrderName: orderName, Currency: currency, CustomData: customData}
	p.Amount.Total, p.Amount.Paid = total, total
	p.Method.Type = "PaymentMethodCard"
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.preReg[id]; !ok || r.Total != total || r.Currency != currency {
		return fmt.Errorf("payment %s: %d %s is not what was pre-registered (%+v, %v)", id, total, currency, r, ok)
	}
	f.payments[id] = body
	return nil
}

// ---------------------------------------------------------------------------
// Standard Webhooks deliveries, as PortOne signs them

// webhookKey is the HMAC key of a whsec_ secret: its base64, decoded.
func webhookKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook secret is not base64 after its whsec_ prefix")
	}
	return key, nil
}

// signWebhook is a delivery's webhook-signature header: "v1," and the
// base64 HMAC-SHA256, keyed with the secret's key, of "id.timestamp.body".
func signWebhook(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// webhookBody is a 2024-04-25 PortOne webhook of type eventType about a
// payment of the bench's store, event time at.
func webhookBody(eventType, paymentID, storeID string, at time.Time) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, eventType)
	b = append(b, `,"timestamp":"`...)
	b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","data":{"paymentId":`...)
	b = strconv.AppendQuote(b, paymentID)
	b = append(b, `,"storeId":`...)
	b = strconv.AppendQuote(b, storeID)
	b = append(b, `,"transactionId":`...)
	b = strconv.AppendQuote(b, "tx-"+paymentID)
	b = append(b, "}}"...)
	return b
}
