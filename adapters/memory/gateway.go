package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var _ application.PaymentGateway = (*Gateway)(nil)

// Gateway is a payment gateway in memory: payments are what a test sets,
// and cancels follow PortOne's rules (the cancellable amount must match,
// a retry with the same idempotency key gets the first answer). It is safe
// for concurrent use; the zero value is not: use NewGateway.
type Gateway struct {
	mu          sync.Mutex
	payments    map[domain.PaymentID]domain.Payment
	preRegister map[domain.PaymentID]domain.Money
	cancels     []application.CancelRequest
	cancelled   map[string]domain.PaymentCancellation // by idempotency key
	fail        error                                 // every call fails with it while set
	failGet     map[domain.PaymentID]error            // GetPayment of these fails
	pageSize    int
	lists       []application.PaymentListQuery
	// keyless: cancels take no idempotency key, as V1's do.
	keyless bool
	// loseCancelAnswers: that many next cancels happen but answer ErrUnavailable.
	loseCancelAnswers int
}

// NewGateway returns a gateway with no payments.
func NewGateway() *Gateway {
	return &Gateway{payments: map[domain.PaymentID]domain.Payment{}, preRegister: map[domain.PaymentID]domain.Money{},
		cancelled: map[string]domain.PaymentCancellation{}, failGet: map[domain.PaymentID]error{}}
}

// NewV1Gateway returns a gateway with no payments that, like PortOne V1,
// keeps no idempotency key: a retried cancel is judged afresh (by its
// checksum).
func NewV1Gateway() *Gateway {
	g := NewGateway()
	g.keyless = true
	return g
}

// LoseCancelAnswers makes the next n cancels happen but answer as if the
// gateway had not been reached (a lost answer).
func (g *Gateway) LoseCancelAnswers(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.loseCancelAnswers = n
}

// GetPaymentByTransaction finds the payment whose TransactionID is transaction.
func (g *Gateway) GetPaymentByTransaction(_ context.Context, transaction string) (domain.Payment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return domain.Payment{}, g.fail
	}
	for _, p := range g.payments {
		if p.TransactionID == transaction {
			return p, nil
		}
	}
	return domain.Payment{}, application.ErrPaymentNotFound
}

// Set stores a payment as the gateway will report it.
func (g *Gateway) Set(p domain.Payment) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.payments[p.ID] = p
}

// Payment is a payment as the gateway has it now.
func (g *Gateway) Payment(id domain.PaymentID) (domain.Payment, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[id]
	return p, ok
}

// PreRegistered is the amount registered for a payment.
func (g *Gateway) PreRegistered(id domain.PaymentID) (domain.Money, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.preRegister[id]
	return m, ok
}

// Cancels lists every cancel asked, retries included.
func (g *Gateway) Cancels() []application.CancelRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.cancels)
}

// Cancellations is how many distinct cancellations were carried out.
func (g *Gateway) Cancellations() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.cancelled)
}

// FailWith makes every call fail with err; nil heals.
func (g *Gateway) FailWith(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = err
}

// FailGet makes reading one payment fail with err; nil heals.
func (g *Gateway) FailGet(id domain.PaymentID, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil {
		delete(g.failGet, id)
	} else {
		g.failGet[id] = err
	}
}

// SetPageSize fixes ListPayments' page size (else it is what it is asked).
func (g *Gateway) SetPageSize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pageSize = n
}

// Lists are the ListPayments queries received.
func (g *Gateway) Lists() []application.PaymentListQuery {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.lists)
}

func (g *Gateway) GetPayment(_ context.Context, id domain.PaymentID) (domain.Payment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return domain.Payment{}, g.fail
	}
	if err := g.failGet[id]; err != nil {
		return domain.Payment{}, err
	}
	p, ok := g.payments[id]
	if !ok {
		return domain.Payment{}, application.ErrPaymentNotFound
	}
	return p, nil
}

func (g *Gateway) PreRegister(_ context.Context, id domain.PaymentID, total domain.Money) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return g.fail
	}
	g.preRegister[id] = total
	return nil
}

func (g *Gateway) Cancel(_ context.Context, c application.CancelRequest) (domain.PaymentCancellation, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return domain.PaymentCancellation{}, g.fail
	}
	g.cancels = append(g.cancels, c)
	if done, ok := g.cancelled[c.IdempotencyKey]; ok && !g.keyless {
		return done, nil
	}
	p, ok := g.payments[c.Payment]
	if !ok {
		return domain.PaymentCancellation{}, &application.GatewayError{Status: http.StatusNotFound, Type: "PAYMENT_NOT_FOUND"}
	}
	left := p.Total - p.Cancelled
	amount := left
	if c.Amount != nil {
		amount = *c.Amount
	}
	refuse := func(typ string) (domain.PaymentCancellation, error) {
		return domain.PaymentCancellation{}, &application.GatewayError{Status: http.StatusConflict, Type: typ}
	}
	switch {
	case p.Status != domain.PaymentPaid && p.Status != domain.PaymentPartialCancelled:
		return refuse(application.GatewayErrNotPaid)
	case c.CancellableBefore != left:
		return refuse(application.GatewayErrCancellableAmountMismatch)
	case amount > left:
		return refuse("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")
	}
	p.Cancelled += amount
	p.Status = domain.PaymentPartialCancelled
	if p.Cancelled == p.Total {
		p.Status = domain.PaymentCancelled
	}
	done := domain.PaymentCancellation{ID: fmt.Sprintf("cancellation-%d", len(g.cancelled)+1), Status: domain.CancellationSucceeded,
		Amount: amount, Reason: c.Reason, Trigger: "API"}
	p.Cancellations = append(p.Cancellations, done)
	g.payments[c.Payment] = p
	g.cancelled[c.IdempotencyKey] = done
	if g.loseCancelAnswers > 0 {
		g.loseCancelAnswers--
		return domain.PaymentCancellation{}, fmt.Errorf("%w: the answer was lost", application.ErrUnavailable)
	}
	return done, nil
}

// ListPayments pages through every payment in id order (windows are the
// test's business: see Lists); the cursor is the index of the next one.
func (g *Gateway) ListPayments(_ context.Context, q application.PaymentListQuery) (application.PaymentPage, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lists = append(g.lists, q)
	if g.fail != nil {
		return application.PaymentPage{}, g.fail
	}
	ids := slices.SortedFunc(maps.Keys(g.payments), func(a, b domain.PaymentID) int { return cmp.Compare(a.String(), b.String()) })
	from := 0
	if q.Cursor != "" {
		var err error
		if from, err = strconv.Atoi(q.Cursor); err != nil || from < 0 || from > len(ids) {
			return application.PaymentPage{}, fmt.Errorf("bad cursor %q", q.Cursor)
		}
	}
	size := cmp.Or(g.pageSize, q.Size, 10)
	to := min(from+size, len(ids))
	page := application.PaymentPage{}
	for _, id := range ids[from:to] {
		page.Items = append(page.Items, g.payments[id])
	}
	if to < len(ids) {
		page.Next = strconv.Itoa(to)
	}
	return page, nil
}
