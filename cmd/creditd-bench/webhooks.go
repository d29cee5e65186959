package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------------------
// Scenario 5: webhook intake
//
// creditd sells credits through the bench's fake PortOne (portone.go). Before
// the rounds the bench creates a product and -webhook-orders orders, each for
// an account of its own, and pays each at the fake honestly. A step then
// sends signed Transaction.Paid deliveries to POST /webhooks/portone, each a
// distinct event (a fresh webhook-id) about the next order in turn, so the
// first event of an order makes creditd grant it and later ones find it paid
// already: every one must still be stored. Throughput counts 200 answers.
// After each step the bench waits for the inbox to drain, so the next step
// (or scenario) starts without a backlog, and checks that the inbox gained
// exactly the events answered 200. After the rounds, every order that got a
// webhook must be PAID and its account hold exactly the order's credits.

// Product of scenario 5: 10,000 KRW for 100 credits and 10 bonus.
const (
	shopPrice   = "10000"
	shopCredits = "100"
	shopBonus   = "10"
)

// shopOrder is one order of scenario 5.
type shopOrder struct {
	paymentID string
	account   string
	grant     decimal.Decimal // credits + bonus: its account's balance once paid
	accepted  atomic.Bool     // a webhook about it was answered 200
}

// shop is scenario 5's state over the rounds.
type shop struct {
	portone *fakePortOne
	key     []byte // the webhook secret's HMAC key
	db      *pgx.Conn
	orders  []*shopOrder
	next    atomic.Uint64 // orders are taken in turn by every worker

	steps                       int
	accepted, unknown, stored   int64
	drained                     time.Duration // the longest wait for the inbox to drain
	storeFailures, drainFailure []string
}

// setupShop creates the product and the orders, and pays every order at the
// fake; db is the benchmark's database, for the inbox's figures.
func (b *bench) setupShop(ctx context.Context, fp *fakePortOne, cfg *pgx.ConnConfig) error {
	key, err := webhookKey(benchWebhookSecret)
	if err != nil {
		return err
	}
	db, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scenario 5: connecting to the database: %w", err)
	}
	s := &shop{portone: fp, key: key, db: db}
	b.shop = s

	product := b.run + "-pack"
	body := fmt.Sprintf(`{"id":%q,"name":"%s credits","price":%q,"currency":"KRW","credits":%q,"bonusCredits":%q}`,
		product, shopCredits, shopPrice, shopCredits, shopBonus)
	if r := b.client.do(ctx, http.MethodPost, "/v1/products", b.run+"-product", []byte(body)); r.Err != nil || r.Status != http.StatusCreated {
		return fmt.Errorf("scenario 5: creating product %s: %s", product, errorKey(r))
	}
	n := b.opts.webhookOrders
	s.orders = make([]*shopOrder, n)
	t0 := time.Now()
	err = forEach(ctx, n, 32, func(i int) error {
		o, err := b.createOrder(ctx, fp, product, fmt.Sprintf("%s-buyer-%06d", b.run, i), b.run+"-order-"+strconv.Itoa(i))
		s.orders[i] = o
		return err
	})
	if err != nil {
		return fmt.Errorf("scenario 5: creating orders: %w", err)
	}
	el := time.Since(t0)
	b.logf("created and paid %d orders at the fake PortOne in %s (%.0f orders/s, 32 clients)", n, el.Round(10*time.Millisecond), float64(n)/el.Seconds())
	return nil
}

// createOrder creates one order (creditd pre-registers its amount at the
// fake) and pays it at the fake as its response says: the amount,
// currency, order name and custom data a browser would hand PortOne.
func (b *bench) createOrder(ctx context.Context, fp *fakePortOne, product, account, key string) (*shopOrder, error) {
	body := []byte(fmt.Sprintf(`{"accountId":%q,"productId":%q}`, account, product))
	var r response
	for attempt := 0; attempt < 3; attempt++ {
		if r = b.client.do(ctx, http.MethodPost, "/v1/orders", key, body); !unknownOutcome(r) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // same key: safe to repeat
	}
	if r.Err != nil || r.Status != http.StatusCreated {
		return nil, fmt.Errorf("order for %s: %s", account, errorKey(r))
	}
	var o struct {
		PaymentID, OrderName, Currency, Credits, BonusCredits, Status string
		TotalAmount                                                   int64
		CustomData                                                    json.RawMessage
	}
	if err := json.Unmarshal(r.Body, &o); err != nil {
		return nil, fmt.Errorf("order for %s: %w", account, err)
	}
	credits, err1 := decimal.NewFromString(o.Credits)
	bonus, err2 := decimal.NewFromString(o.BonusCredits)
	if err1 != nil || err2 != nil || o.PaymentID == "" || o.Status != "PENDING" {
		return nil, fmt.Errorf("order for %s: unexpected answer %s", account, r.Body)
	}
	if err := fp.pay(o.PaymentID, o.TotalAmount, o.Currency, o.OrderName, string(o.CustomData), time.Now()); err != nil {
		return nil, err
	}
	return &shopOrder{paymentID: o.PaymentID, account: account, grant: credits.Add(bonus)}, nil
}

// webhookSpec sends one delivery per iteration.
func (b *bench) webhookSpec() loadSpec {
	s := b.shop
	spec := b.spec(func(ctx context.Context, w *worker) bool {
		o := s.orders[(s.next.Add(1)-1)%uint64(len(s.orders))]
		id := "msg_" + w.key()
		now := time.Now()
		body := webhookBody("Transaction.Paid", o.paymentID, benchStoreID, now)
		ts := strconv.FormatInt(now.Unix(), 10)
		sig := signWebhook(s.key, id, ts, body)
		t0 := w.begin()
		r := w.client.doWith(ctx, http.MethodPost, "/webhooks/portone", body,
			"webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)
		_, ok := w.record("webhook", t0, r, http.StatusOK)
		switch {
		case ok:
			o.accepted.Store(true)
			w.counters["accepted"]++
		case unknownOutcome(r):
			w.counters["unknown"]++
		}
		return ok
	})
	spec.ZipfN = 0
	return spec
}

// closedWebhook sweeps scenario 5 over the client counts, waiting for the
// inbox to drain after each step.
func (b *bench) closedWebhook(ctx context.Context) error {
	s := b.shop
	if s == nil {
		return nil // noted once, after the rounds
	}
	spec := b.webhookSpec()
	for _, c := range b.opts.clients {
		total0, _, err := s.inbox(ctx)
		if err != nil {
			return err
		}
		st, lr := b.measure(scWebhook, "closed", c, "webhooks/s", func() *loadResult { return runClosed(ctx, c, b.opts.duration, spec) })
		if err := b.halted(ctx); err != nil {
			return err
		}
		accepted, unknown := lr.Counters["accepted"], lr.Counters["unknown"]
		total1, backlog, err := s.inbox(ctx)
		if err != nil {
			return err
		}
		wait, left, err := s.waitDrained(ctx, drainTimeout(backlog))
		if err != nil {
			return err
		}
		stored := total1 - total0
		s.steps++
		s.accepted, s.unknown, s.stored = s.accepted+accepted, s.unknown+unknown, s.stored+stored
		s.drained = max(s.drained, wait)
		where := fmt.Sprintf("round %d, %d clients", b.round, c)
		if !storedAsAnswered(stored, accepted, unknown) {
			s.storeFailures = append(s.storeFailures, fmt.Sprintf("%s: %d answered 200, %d of unknown outcome, %d stored", where, accepted, unknown, stored))
			b.logf("  check scenario 5 %s: FAILED (%d answered 200, %d stored)", where, accepted, stored)
		}
		st.Backlog, st.Drained = backlog, wait
		st.Note = fmt.Sprintf("%d stored; backlog %d at the end of the step, drained in %.1f s", stored, backlog, wait.Seconds())
		if left > 0 {
			st.Note = fmt.Sprintf("%d stored; backlog %d at the end of the step, %d NOT drained after %.0f s", stored, backlog, left, wait.Seconds())
			s.drainFailure = append(s.drainFailure, fmt.Sprintf("%s: %d events not processed %.0f s after the step", where, left, wait.Seconds()))
		}
		b.logStep(st)
	}
	return nil
}

// storedAsAnswered: the inbox gained every event answered 200, and at most
// the ones whose answer was lost besides (each delivery is a new event, so
// none may be a duplicate).
func storedAsAnswered(stored, accepted, unknown int64) bool {
	return stored >= accepted && stored <= accepted+unknown
}

// drainTimeout bounds the wait for a backlog: generous (50 events/s, at
// least a minute), since a slow drain is a figure to report, but bounded.
func drainTimeout(backlog int64) time.Duration {
	return min(max(time.Minute, time.Duration(backlog/50)*time.Second), 10*time.Minute)
}

// inbox reads how many events the inbox holds, and how many of them are
// not processed yet.
func (s *shop) inbox(ctx context.Context) (total, pending int64, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE done_at IS NULL) FROM webhook_inbox`).Scan(&total, &pending)
	if err != nil {
		err = fmt.Errorf("scenario 5: reading the inbox: %w", err)
	}
	return total, pending, err
}

// waitDrained polls the inbox until every event is processed or timeout
// passes; left is what is still pending then.
func (s *shop) waitDrained(ctx context.Context, timeout time.Duration) (wait time.Duration, left int64, err error) {
	t0 := time.Now()
	for {
		_, pending, err := s.inbox(ctx)
		if err != nil || pending == 0 || time.Since(t0) > timeout {
			return time.Since(t0), pending, err
		}
		select {
		case <-ctx.Done():
			return time.Since(t0), pending, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// orderState is what creditd says of a scenario 5 order and its account.
type orderState struct {
	Status  string
	Balance decimal.Decimal
}

// converged says whether an order that got a webhook ended as it must: PAID,
// its own account holding exactly the order's credits (one grant, no more).
func converged(o orderState, grant decimal.Decimal) bool {
	return o.Status == "PAID" && o.Balance.Equal(grant)
}

// checkShop reads every order that got a webhook, and its account, after the
// rounds, and turns scenario 5's tallies into checks.
func (b *bench) checkShop(ctx context.Context) error {
	s := b.shop
	if s == nil {
		return nil
	}
	defer s.db.Close(context.WithoutCancel(ctx))
	var got []*shopOrder
	for _, o := range s.orders {
		if o.accepted.Load() {
			got = append(got, o)
		}
	}
	states := make([]orderState, len(got))
	t0 := time.Now()
	err := forEach(ctx, len(got), 16, func(i int) error {
		o := got[i]
		r := b.client.do(ctx, http.MethodGet, "/v1/orders/"+url.PathEscape(o.paymentID), "", nil)
		if r.Err != nil || r.Status != http.StatusOK {
			return fmt.Errorf("GET order %s: %s", o.paymentID, errorKey(r))
		}
		var ord struct{ Status string }
		if err := json.Unmarshal(r.Body, &ord); err != nil {
			return err
		}
		acct := account{}
		if ord.Status == "PAID" {
			var err error
			if acct, err = b.getAccount(ctx, "/v1/accounts/"+url.PathEscape(o.account)); err != nil {
				return err
			}
		}
		states[i] = orderState{Status: ord.Status, Balance: acct.Balance}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scenario 5: reading the orders: %w", err)
	}
	var bad []string
	for i, o := range got {
		if !converged(states[i], o.grant) {
			bad = append(bad, fmt.Sprintf("%s is %s with balance %s (want PAID, %s)", o.paymentID, states[i].Status, states[i].Balance, o.grant))
		}
	}
	_, pending, err := s.inbox(ctx)
	if err != nil {
		return err
	}
	var retried int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM webhook_inbox WHERE attempts > 1 OR last_error <> ''`).Scan(&retried); err != nil {
		return fmt.Errorf("scenario 5: reading the inbox: %w", err)
	}
	failed := func(fs []string) string {
		if len(fs) == 0 {
			return ""
		}
		if len(fs) > 5 {
			fs = append(fs[:5:5], fmt.Sprintf("and %d more", len(fs)-5))
		}
		return "; FAILED: " + strings.Join(fs, "; ")
	}
	b.addCheck("scenario 5: every delivery answered 200 is stored, as a new event", len(s.storeFailures) == 0,
		"%d steps: %d deliveries answered 200, %d of unknown outcome, %d events stored%s", s.steps, s.accepted, s.unknown, s.stored, failed(s.storeFailures))
	b.addCheck("scenario 5: the inbox drains after every step", len(s.drainFailure) == 0 && pending == 0,
		"longest wait %.1f s; %d events pending at the end; %d events needed more than one attempt%s", s.drained.Seconds(), pending, retried, failed(s.drainFailure))
	b.addCheck("scenario 5: every order that got a webhook is PAID, its account holding exactly its grant", len(bad) == 0,
		"%d of %d orders got a webhook; read in %.1f s%s", len(got), len(s.orders), time.Since(t0).Seconds(), failed(bad))
	if n := s.portone.refused.Load(); n > 0 {
		b.notes = append(b.notes, fmt.Sprintf("Scenario 5: the fake PortOne refused %d requests (wrong API secret or store).", n))
	}
	b.notes = append(b.notes, fmt.Sprintf("Scenario 5 (webhook intake): %d orders, each paid at a fake PortOne served by the driver (fasthttp; it answered %d payment reads and %d pre-registrations); every delivery a signed Transaction.Paid event with a fresh webhook-id about the next order in turn; throughput counts 200 answers (the event durable in the inbox); after each step the driver waits for the inbox to drain (the note gives the time). Reconciliation is off in the benchmark's creditd (CREDITD_RECONCILE_INTERVAL=0).",
		len(s.orders), s.portone.gets.Load(), s.portone.preRegisters.Load()))
	return nil
}
