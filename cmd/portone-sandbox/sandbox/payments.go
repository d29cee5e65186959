package sandbox

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Payment statuses, as in a PortOne Payment object.
const (
	StatusReady                = "READY"
	StatusPayPending           = "PAY_PENDING"
	StatusVirtualAccountIssued = "VIRTUAL_ACCOUNT_ISSUED"
	StatusPaid                 = "PAID"
	StatusFailed               = "FAILED"
	StatusPartialCancelled     = "PARTIAL_CANCELLED"
	StatusCancelled            = "CANCELLED"
)

// The APIs a payment can be made through (Payment.Version, as PortOne's
// V2 Payment object names them).
const (
	VersionV1 = "V1"
	VersionV2 = "V2"
)

// Payment is a payment as the sandbox holds it. Amounts are in minor units.
type Payment struct {
	ID string
	// Version is the API the payment was made through: VersionV1 (IMP.request_pay)
	// announces its changes by V1 webhooks, VersionV2 (the default) by V2's.
	Version string
	// NoticeURL is V1's notice_url: where a V1 payment's webhooks go
	// instead of Config.V1WebhookURL.
	NoticeURL string
	// ImpUID is the payment's V1 id (imp_uid); default "imp_" and 12 digits.
	ImpUID        string
	Status        string // one of the Status constants
	TransactionID string // default: a fresh UUID
	StoreID       string // default: the sandbox's StoreID
	OrderName     string
	Currency      string // default KRW
	CustomData    string
	Customer      Customer
	Total         int64
	TaxFree       int64
	Paid          int64 // default Total once paid (PAID and the cancelled statuses)
	Cancelled     int64
	// CancelledTaxFree is the tax-free part of Cancelled.
	CancelledTaxFree int64
	RequestedAt      time.Time // default now; the lists filter on it
	StatusChangedAt  time.Time // default the latest of the times below
	PaidAt           time.Time
	FailedAt         time.Time
	CancelledAt      time.Time
	Failure          Failure
	// VirtualAccount, if set, makes the method a PaymentMethodVirtualAccount
	// (else a card, once past READY).
	VirtualAccount *VirtualAccount
	Cancellations  []Cancellation
	// Webhooks are the delivery attempts about this payment, oldest first,
	// the last maxWebhooksPerPay of them.
	Webhooks []PaymentWebhook
	// History is every status the payment had, oldest first.
	History []StatusChange

	seq int // creation order, for cursors and the newest-first listing
}

// Customer is the buyer, as requestPayment named them (all optional).
type Customer struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// Failure is a FAILED payment's failure.
type Failure struct {
	Reason    string
	PgCode    string
	PgMessage string
}

// StatusChange is one entry of a payment's history.
type StatusChange struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// VirtualAccount is a PaymentMethodVirtualAccount.
type VirtualAccount struct {
	Bank          string // e.g. SHINHAN
	AccountNumber string
	RemitteeName  string
	ExpiredAt     time.Time
	IssuedAt      time.Time
}

// Cancellation is one PaymentCancellation.
type Cancellation struct {
	ID          string
	Status      string // SUCCEEDED (the sandbox makes no others)
	Amount      int64  // totalAmount
	TaxFree     int64  // taxFreeAmount
	Vat         int64  // vatAmount
	Reason      string
	Trigger     string // API or CONSOLE
	RequestedAt time.Time
	CancelledAt time.Time
}

// PaidWith describes a payment for Ready, Pay, PayPending and
// IssueVirtualAccount.
type PaidWith struct {
	Total      int64
	TaxFree    int64
	Currency   string // default KRW
	OrderName  string
	StoreID    string // default the sandbox's
	CustomData string
	Customer   Customer
	Version    string // VersionV1 makes a V1 payment (V1 webhooks); default VersionV2
	NoticeURL  string // a V1 payment's notice_url
}

func (w PaidWith) payment(id, status string) Payment {
	if w.Currency == "" {
		w.Currency = "KRW"
	}
	return Payment{ID: id, Status: status, Total: w.Total, TaxFree: w.TaxFree, Currency: w.Currency, OrderName: w.OrderName,
		StoreID: w.StoreID, CustomData: w.CustomData, Customer: w.Customer, Version: w.Version, NoticeURL: w.NoticeURL}
}

// clone copies p deeply enough that the copy shares no slice with it.
func (p *Payment) clone() Payment {
	c := *p
	c.Cancellations = slices.Clone(p.Cancellations)
	c.Webhooks = slices.Clone(p.Webhooks)
	c.History = slices.Clone(p.History)
	if p.VirtualAccount != nil {
		va := *p.VirtualAccount
		c.VirtualAccount = &va
	}
	return c
}

// setStatus moves p to status at a time, recording it in the history.
func setStatus(p *Payment, status string, at time.Time) {
	p.Status, p.StatusChangedAt = status, at
	p.History = appendBounded(p.History, StatusChange{status, at}, maxHistoryPerPay)
}

func appendBounded[T any](list []T, v T, limit int) []T {
	list = append(list, v)
	if len(list) > limit {
		list = slices.Delete(list, 0, len(list)-limit)
	}
	return list
}

// SetPayment stores p (a copy), replacing any payment with its id. It sends
// no webhook: the test says what the payment is, not what happened.
func (s *Sandbox) SetPayment(p Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(p)
}

func (s *Sandbox) put(p Payment) *Payment {
	now := s.now()
	if p.TransactionID == "" {
		p.TransactionID = uuid.NewString()
	}
	if p.StoreID == "" {
		p.StoreID = s.StoreID
	}
	if p.Currency == "" {
		p.Currency = "KRW"
	}
	if p.Version == "" {
		p.Version = VersionV2
	}
	if p.RequestedAt.IsZero() {
		p.RequestedAt = now
	}
	if p.Paid == 0 && (p.Status == StatusPaid || p.Status == StatusPartialCancelled || p.Status == StatusCancelled) {
		p.Paid = p.Total
	}
	if p.StatusChangedAt.IsZero() {
		p.StatusChangedAt = latest(p.RequestedAt, p.PaidAt, p.FailedAt, p.CancelledAt)
	}
	old, replaced := s.payments[p.ID]
	if len(p.History) == 0 {
		if replaced { // a new attempt at the same payment id continues its history
			p.History = slices.Clone(old.History)
		}
		p.History = appendBounded(p.History, StatusChange{p.Status, p.StatusChangedAt}, maxHistoryPerPay)
	}
	p = p.clone()
	if replaced {
		p.seq = old.seq
		if len(p.Webhooks) == 0 {
			p.Webhooks = old.Webhooks // a replaced payment keeps its delivery log
		}
	} else {
		s.seq++
		p.seq = s.seq
	}
	if p.ImpUID == "" {
		if replaced {
			p.ImpUID = old.ImpUID
		} else {
			p.ImpUID = fmt.Sprintf("imp_%012d", p.seq)
		}
	}
	delete(s.raw, p.ID)
	s.payments[p.ID] = &p
	return &p
}

// SetRawPayment makes GET /payments/{id} answer body exactly (200), to test
// a client with shapes the sandbox does not make. Such a payment is not listed.
func (s *Sandbox) SetRawPayment(id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw[id] = slices.Clone(body)
}

// Payment returns a copy of a payment as the sandbox holds it now.
func (s *Sandbox) Payment(id string) (Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return Payment{}, false
	}
	return p.clone(), true
}

// PreRegistered returns what was pre-registered for a payment id.
func (s *Sandbox) PreRegistered(id string) (total int64, currency string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.preRegistered[id]
	return r.TotalAmount, r.Currency, ok
}

// Ready creates a READY payment: the buyer opened the payment window.
// PortOne sends no webhook for it here.
func (s *Sandbox) Ready(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(w.payment(id, StatusReady)).clone()
}

// Pay creates (or replaces) a PAID payment, paid by card now, and sends
// Transaction.Paid (a V1 payment: V1's paid notice). When the id was pre-registered with another amount or
// currency (and pre-registration is enforced), the payment is FAILED
// instead, as PortOne refuses it, and Transaction.Failed is sent.
func (s *Sandbox) Pay(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payLocked(w.payment(id, StatusPaid), false).clone()
}

// PayV1 is Pay of a payment made through V1 (IMP.request_pay): its
// webhooks are V1's, {imp_uid, merchant_uid, status}.
func (s *Sandbox) PayV1(merchantUID string, w PaidWith) Payment {
	w.Version = VersionV1
	return s.Pay(merchantUID, w)
}

// payLocked makes p (built as PAID) paid by card or, with virtualAccount, a
// virtual account waiting for its deposit, unless its pre-registration
// refuses it.
func (s *Sandbox) payLocked(p Payment, virtualAccount bool) *Payment {
	now := s.now()
	p.StatusChangedAt, p.Failure = now, Failure{}
	if refusal := s.preRegistrationRefusal(p); refusal != "" {
		p.Status, p.FailedAt = StatusFailed, now
		p.Failure = Failure{Reason: refusal, PgCode: codeAmountNotEqualToPredefined, PgMessage: refusal}
		stored := s.put(p)
		s.emit(stored, "Transaction.Failed", "", "", false)
		return stored
	}
	if virtualAccount {
		p.Status = StatusVirtualAccountIssued
		p.VirtualAccount = &VirtualAccount{
			Bank: "SHINHAN", AccountNumber: fmt.Sprintf("5621%010d", s.seq+1), RemitteeName: "creditd",
			ExpiredAt: now.Add(72 * time.Hour), IssuedAt: now,
		}
		stored := s.put(p)
		s.emit(stored, "Transaction.VirtualAccountIssued", "", "", false)
		return stored
	}
	p.PaidAt = now
	stored := s.put(p)
	s.emit(stored, "Transaction.Paid", "", "", false)
	return stored
}

// codeAmountNotEqualToPredefined is the browser SDK's code for a payment
// that differs from its pre-registration.
const codeAmountNotEqualToPredefined = "AmountNotEqualToPredefined"

// preRegistrationRefusal says why PortOne refuses p, "" when it does not.
func (s *Sandbox) preRegistrationRefusal(p Payment) string {
	r, ok := s.preRegistered[p.ID]
	if !ok || !s.enforcePreReg || (r.TotalAmount == p.Total && r.Currency == p.Currency && r.TaxFreeAmount == p.TaxFree) {
		return ""
	}
	return fmt.Sprintf("결제 금액이 사전 등록된 금액과 다릅니다: paid %d %s (tax-free %d), pre-registered %d %s (tax-free %d)",
		p.Total, p.Currency, p.TaxFree, r.TotalAmount, r.Currency, r.TaxFreeAmount)
}

// PayPending creates a PAY_PENDING payment (approval awaited, as PayPal
// does) and sends Transaction.PayPending.
func (s *Sandbox) PayPending(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.put(w.payment(id, StatusPayPending))
	s.emit(p, "Transaction.PayPending", "", "", false)
	return p.clone()
}

// IssueVirtualAccount creates a VIRTUAL_ACCOUNT_ISSUED payment, a SHINHAN
// account due in three days waiting for Deposit, and sends
// Transaction.VirtualAccountIssued (or FAILED, as Pay, when its
// pre-registration refuses it).
func (s *Sandbox) IssueVirtualAccount(id string, w PaidWith) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payLocked(w.payment(id, StatusPaid), true).clone()
}

// Deposit pays a VIRTUAL_ACCOUNT_ISSUED payment: it becomes PAID, and
// Transaction.Paid (trigger VIRTUAL_ACCOUNT_DEPOSIT) is sent.
func (s *Sandbox) Deposit(id string) (Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok || p.Status != StatusVirtualAccountIssued {
		return Payment{}, fmt.Errorf("sandbox: Deposit(%q): no virtual account waits for a deposit", id)
	}
	now := s.now()
	p.Paid, p.PaidAt = p.Total, now
	setStatus(p, StatusPaid, now)
	s.emit(p, "Transaction.Paid", "", "VIRTUAL_ACCOUNT_DEPOSIT", true)
	return p.clone(), nil
}

// Fail makes a payment FAILED for reason, creating it (with the
// pre-registered amount, if any) when the sandbox does not have it, and
// sends Transaction.Failed.
func (s *Sandbox) Fail(id, reason string) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failLocked(id, Failure{Reason: reason, PgCode: "SANDBOX", PgMessage: reason}).clone()
}

func (s *Sandbox) failLocked(id string, f Failure) *Payment {
	p, ok := s.payments[id]
	if !ok {
		r := s.preRegistered[id]
		p = s.put(PaidWith{Total: r.TotalAmount, Currency: r.Currency}.payment(id, StatusReady))
	}
	now := s.now()
	p.Paid, p.FailedAt, p.Failure = 0, now, f
	setStatus(p, StatusFailed, now)
	s.emit(p, "Transaction.Failed", "", "", false)
	return p
}

// CancelFromConsole cancels amount of a paid payment as a person in
// PortOne's console would (trigger CONSOLE; 0 cancels what is left) and
// sends Transaction.PartialCancelled or Transaction.Cancelled.
func (s *Sandbox) CancelFromConsole(id string, amount int64) (Cancellation, error) {
	return s.CancelFromConsoleFor(id, amount, "콘솔에서 취소")
}

// CancelFromConsoleFor is CancelFromConsole with a reason.
func (s *Sandbox) CancelFromConsoleFor(id string, amount int64, reason string) (Cancellation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok || (p.Status != StatusPaid && p.Status != StatusPartialCancelled) {
		return Cancellation{}, fmt.Errorf("sandbox: CancelFromConsole(%q): no paid payment", id)
	}
	left := p.Total - p.Cancelled
	if amount == 0 {
		amount = left
	}
	if amount <= 0 || amount > left {
		return Cancellation{}, fmt.Errorf("sandbox: CancelFromConsole(%q, %d): %d is cancellable", id, amount, left)
	}
	taxFree := min(amount, p.TaxFree-p.CancelledTaxFree)
	c := s.applyCancel(p, amount, taxFree, vat(amount-taxFree), reason, "CONSOLE")
	s.emitCancel(p, c)
	return c, nil
}

// applyCancel records a succeeded cancellation of amount on p.
func (s *Sandbox) applyCancel(p *Payment, amount, taxFree, vatAmount int64, reason, trigger string) Cancellation {
	now := s.now()
	c := Cancellation{ID: uuid.NewString(), Status: "SUCCEEDED", Amount: amount, TaxFree: taxFree, Vat: vatAmount,
		Reason: reason, Trigger: trigger, RequestedAt: now, CancelledAt: now}
	p.Cancellations = append(p.Cancellations, c)
	p.Cancelled += amount
	p.CancelledTaxFree += taxFree
	p.CancelledAt = now
	status := StatusPartialCancelled
	if p.Cancelled == p.Total {
		status = StatusCancelled
	}
	setStatus(p, status, now)
	return c
}

func (s *Sandbox) emitCancel(p *Payment, c Cancellation) {
	eventType := "Transaction.PartialCancelled"
	if p.Status == StatusCancelled {
		eventType = "Transaction.Cancelled"
	}
	s.emit(p, eventType, c.ID, "", false)
}

// vat is the VAT included in a taxable amount, 1/11 (PortOne's rounding is
// not documented; this floors).
func vat(amount int64) int64 { return amount / 11 }

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
