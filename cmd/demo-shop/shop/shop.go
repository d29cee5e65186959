// Package shop is the demo shop: the smallest honest product backend that
// sells credits through creditd. Copy it.
//
// The shop holds its creditd API key on the server; the browser only ever
// talks to the shop (same origin), never to creditd. A purchase goes:
//
//  1. The page asks the shop to buy a pack (POST /api/orders {productId,
//     gateway}). The shop creates the order in creditd (POST /v1/orders
//     {accountId, productId, gateway}), which fixes the price and
//     pre-registers it at PortOne, and hands the order to the page
//     unchanged: for PortOne V2 its storeId, channelKey, paymentId,
//     orderName, totalAmount, currency and customData; for V1 (iamport) its
//     impCode, pg, merchantUid, name, amount, currency and customData.
//  2. The page calls PortOne.requestPayment with them (and the pay method),
//     or for V1 IMP.init(impCode) and IMP.request_pay.
//  3. Whatever the payment window says, success or failure, the page asks
//     the shop to complete the order (POST /api/orders/{paymentId}/complete,
//     with V1's {impUid} as a hint), and the shop asks creditd
//     (POST /v1/orders/{paymentId}/complete).
//     creditd reads the payment from PortOne and grants the credits once;
//     the browser's word counts for nothing. The page shows the status
//     creditd answers.
//
// Everything else happens inside creditd: PortOne's webhooks settle an order
// whose browser never came back, and a virtual account's deposit; the page
// learns of it by polling the order. Spending a credit is one call
// (POST /v1/accounts/{accountId}/spends), and refunds are the quote and the
// refund calls.
//
// It uses net/http and its method-and-path patterns rather than gin
// (creditd's own choice for its API): for a dozen small handlers the standard
// library is the clearest thing to copy.
package shop

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed web
var web embed.FS

var indexTemplate = template.Must(template.ParseFS(web, "web/index.html"))

// Shop serves the page and the JSON API the page calls.
type Shop struct {
	creditd creditd
	page    page
	log     *slog.Logger
}

// page is what the page template shows from the configuration.
type page struct {
	PortOneSDKURL, PortOneV1SDKURL string
	Gateway                        string // v2 or v1, selected first
}

// New checks cfg and builds a shop.
func New(cfg Config) (*Shop, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		// Longer than creditd's own 10 s request deadline, so its 503 arrives.
		client = &http.Client{Timeout: 15 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Shop{
		creditd: creditd{baseURL: strings.TrimSuffix(cfg.CreditdURL, "/"), key: cfg.APIKey, http: client},
		page:    page{PortOneSDKURL: cfg.PortOneSDKURL, PortOneV1SDKURL: cfg.PortOneV1SDKURL, Gateway: cfg.Gateway},
		log:     log,
	}, nil
}

// Handler is the whole shop: the page, its assets and /api.
func (s *Shop) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /shop.js", asset("web/shop.js"))
	mux.HandleFunc("GET /shop.css", asset("web/shop.css"))

	mux.HandleFunc("POST /api/user", s.switchUser)
	mux.HandleFunc("GET /api/me", s.me)
	mux.HandleFunc("GET /api/products", s.products)
	mux.HandleFunc("POST /api/orders", s.createOrder)
	mux.HandleFunc("GET /api/orders", s.listOrders)
	mux.HandleFunc("GET /api/orders/{paymentId}", s.getOrder)
	mux.HandleFunc("POST /api/orders/{paymentId}/complete", s.completeOrder)
	mux.HandleFunc("GET /api/orders/{paymentId}/refund-quote", s.refundQuote)
	mux.HandleFunc("POST /api/orders/{paymentId}/refunds", s.refund)
	mux.HandleFunc("POST /api/spend", s.spend)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not-found", Detail: "no such API route"})
	})

	// The buyer is known by a cookie, so a POST from another site must not
	// ride on it: refuse cross-origin unsafe requests (Sec-Fetch-Site/Origin).
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusForbidden, Code: "cross-origin", Detail: "cross-origin requests are refused"})
	}))
	return securityHeaders(cop.Handler(mux))
}

func (s *Shop) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := indexTemplate.Execute(w, s.page); err != nil {
		s.log.Error("render index", "err", err)
	}
}

func asset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // revalidate: a demo changes under its users
		http.ServeFileFS(w, r, web, name)
	}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// escapeID makes a path segment of an id for a creditd URL. Even ids the shop
// validated are escaped: validation rules change, escaping never hurts.
func escapeID(id string) string { return url.PathEscape(id) }

// fail answers err to the page and logs what the page must not see.
func (s *Shop) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{Status: http.StatusInternalServerError, Code: "internal", Detail: "the shop failed; see its log", cause: err}
	}
	if e.Status >= 500 { // the buyer's mistakes and the ledger's verdicts are no news
		s.log.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", e)
	}
	writeError(w, e)
}

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Code: "bad-request", Detail: fmt.Sprintf(format, args...)}
}
