package sandbox

import (
	"cmp"
	"time"
)

// The JSON PortOne answers with: every field each status requires (per the
// V2 schema), in PortOne's names, so a client that reads one works here.

type wirePayment struct {
	Status          string              `json:"status"`
	ID              string              `json:"id"`
	TransactionID   string              `json:"transactionId"`
	MerchantID      string              `json:"merchantId"`
	StoreID         string              `json:"storeId"`
	Method          any                 `json:"method,omitempty"`
	Channel         *wireChannel        `json:"channel,omitempty"`
	Version         string              `json:"version"`
	Webhooks        []PaymentWebhook    `json:"webhooks,omitempty"`
	RequestedAt     time.Time           `json:"requestedAt"`
	UpdatedAt       time.Time           `json:"updatedAt"`
	StatusChangedAt time.Time           `json:"statusChangedAt"`
	OrderName       string              `json:"orderName"`
	Amount          wireAmount          `json:"amount"`
	Currency        string              `json:"currency"`
	Customer        Customer            `json:"customer"`
	Origin          wireOrigin          `json:"origin"`
	CustomData      string              `json:"customData,omitempty"`
	PaidAt          *time.Time          `json:"paidAt,omitempty"`
	PgTxID          string              `json:"pgTxId,omitempty"`
	ReceiptURL      string              `json:"receiptUrl,omitempty"`
	Disputes        *[]struct{}         `json:"disputes,omitempty"`
	Cancellations   *[]wireCancellation `json:"cancellations,omitempty"`
	CancelledAt     *time.Time          `json:"cancelledAt,omitempty"`
	FailedAt        *time.Time          `json:"failedAt,omitempty"`
	Failure         *wireFailure        `json:"failure,omitempty"`
}

type wireChannel struct {
	Type         string `json:"type"`
	ID           string `json:"id"`
	Key          string `json:"key"`
	Name         string `json:"name"`
	PgProvider   string `json:"pgProvider"`
	PgMerchantID string `json:"pgMerchantId"`
}

type wireAmount struct {
	Total            int64 `json:"total"`
	TaxFree          int64 `json:"taxFree"`
	Vat              int64 `json:"vat"`
	Supply           int64 `json:"supply"`
	Discount         int64 `json:"discount"`
	Paid             int64 `json:"paid"`
	Cancelled        int64 `json:"cancelled"`
	CancelledTaxFree int64 `json:"cancelledTaxFree"`
}

type wireOrigin struct {
	PlatformType string `json:"platformType"`
	IPAddress    string `json:"ipAddress"`
}

type wireFailure struct {
	Reason    string `json:"reason,omitempty"`
	PgCode    string `json:"pgCode,omitempty"`
	PgMessage string `json:"pgMessage,omitempty"`
}

type wireCard struct {
	Type           string `json:"type"`
	Card           any    `json:"card"`
	ApprovalNumber string `json:"approvalNumber"`
	Installment    any    `json:"installment"`
	PointUsed      bool   `json:"pointUsed"`
}

type wireVirtualAccount struct {
	Type          string    `json:"type"`
	Bank          string    `json:"bank"`
	AccountNumber string    `json:"accountNumber"`
	AccountType   string    `json:"accountType"`
	RemitteeName  string    `json:"remitteeName"`
	ExpiredAt     time.Time `json:"expiredAt"`
	IssuedAt      time.Time `json:"issuedAt"`
}

type wireCancellation struct {
	Status      string     `json:"status"`
	ID          string     `json:"id"`
	TotalAmount int64      `json:"totalAmount"`
	TaxFreeAmt  int64      `json:"taxFreeAmount"`
	VatAmount   int64      `json:"vatAmount"`
	Reason      string     `json:"reason"`
	RequestedAt time.Time  `json:"requestedAt"`
	CancelledAt *time.Time `json:"cancelledAt,omitempty"`
	Trigger     string     `json:"trigger,omitempty"`
}

func (s *Sandbox) render(p *Payment) wirePayment {
	changed := latest(p.RequestedAt, p.PaidAt, p.FailedAt, p.CancelledAt)
	taxable := vat(p.Total - p.TaxFree)
	w := wirePayment{
		Status: p.Status, ID: p.ID, TransactionID: p.TransactionID,
		MerchantID: "merchant-sandbox", StoreID: p.StoreID, Version: cmp.Or(p.Version, VersionV2), Webhooks: p.Webhooks,
		RequestedAt: p.RequestedAt, UpdatedAt: latest(changed, p.StatusChangedAt), StatusChangedAt: p.StatusChangedAt,
		OrderName: p.OrderName, Currency: p.Currency, CustomData: p.CustomData, Customer: p.Customer,
		Amount: wireAmount{Total: p.Total, TaxFree: p.TaxFree, Vat: taxable, Supply: p.Total - p.TaxFree - taxable,
			Paid: p.Paid, Cancelled: p.Cancelled, CancelledTaxFree: p.CancelledTaxFree},
		Origin: wireOrigin{PlatformType: "PC", IPAddress: "127.0.0.1"},
	}
	if w.StatusChangedAt.IsZero() {
		w.StatusChangedAt = changed
	}
	// READY and FAILED payments may have no channel yet; the others must.
	if p.Status != StatusReady && p.Status != StatusFailed {
		w.Channel = &wireChannel{Type: "TEST", ID: "channel-sandbox", Key: s.ChannelKey, Name: "portone-sandbox", PgProvider: "TOSSPAYMENTS", PgMerchantID: "tosstest"}
		w.PgTxID = "pg-" + p.TransactionID
	}
	switch {
	case p.VirtualAccount != nil:
		va := p.VirtualAccount
		w.Method = wireVirtualAccount{Type: "PaymentMethodVirtualAccount", Bank: va.Bank, AccountNumber: va.AccountNumber, AccountType: "NORMAL",
			RemitteeName: va.RemitteeName, ExpiredAt: va.ExpiredAt, IssuedAt: va.IssuedAt}
	case p.Status != StatusReady:
		w.Method = wireCard{Type: "PaymentMethodCard",
			Card:           map[string]string{"brand": "LOCAL", "type": "CREDIT", "ownerType": "PERSONAL", "bin": "53275000", "name": "sandbox card", "number": "53275000****123*"},
			ApprovalNumber: "30012345", Installment: map[string]any{"month": 0, "isInterestFree": false}}
	}
	if !p.PaidAt.IsZero() {
		w.PaidAt = &p.PaidAt
	}
	cancellations := make([]wireCancellation, 0, len(p.Cancellations))
	for _, c := range p.Cancellations {
		cancellations = append(cancellations, renderCancellation(c))
	}
	switch p.Status {
	case StatusPaid:
		w.Disputes = &[]struct{}{}
		w.ReceiptURL = "https://sandbox.invalid/receipts/" + p.TransactionID
		if len(cancellations) > 0 {
			w.Cancellations = &cancellations
		}
	case StatusPartialCancelled, StatusCancelled:
		w.Cancellations = &cancellations
		at := p.CancelledAt
		if at.IsZero() {
			at = changed
		}
		w.CancelledAt = &at
	case StatusFailed:
		at := p.FailedAt
		if at.IsZero() {
			at = changed
		}
		w.FailedAt = &at
		w.Failure = &wireFailure{Reason: p.Failure.Reason, PgCode: p.Failure.PgCode, PgMessage: p.Failure.PgMessage}
	}
	return w
}

func renderCancellation(c Cancellation) wireCancellation {
	w := wireCancellation{Status: c.Status, ID: c.ID, TotalAmount: c.Amount, TaxFreeAmt: c.TaxFree, VatAmount: c.Vat, Reason: c.Reason,
		RequestedAt: c.RequestedAt, Trigger: c.Trigger}
	if !c.CancelledAt.IsZero() {
		w.CancelledAt = &c.CancelledAt
	}
	return w
}
