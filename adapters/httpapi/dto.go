package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Request DTOs. Amounts are strings so that JSON numbers (which would pass
// through float64 in many clients) are refused. Fields whose absence means
// the same as their zero value are plain values; the others are pointers.

type grantRequest struct {
	Amount    string            `json:"amount"`
	Source    string            `json:"source"`
	ExpiresAt string            `json:"expiresAt,omitempty"`
	Priority  *int              `json:"priority,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	// FundingReference is the tenant's own reference of what paid for the
	// credits (an invoice, a contract); purchases through creditd's orders
	// carry their order instead.
	FundingReference string `json:"fundingReference,omitempty"`
}

func (r grantRequest) toCommand(tenant domain.TenantID, accountParam string, now time.Time) (application.GrantCommand, error) {
	var fe fieldErrors
	cmd := application.GrantCommand{Tenant: tenant, Priority: domain.DefaultLotPriority}
	cmd.Account = parseAccount(&fe, accountParam)
	cmd.Amount = parseAmount(&fe, "amount", r.Amount)
	if r.Source == "" {
		fe.addf("source", "is required")
	} else if s, err := domain.LotSourceFromString(r.Source); err != nil {
		fe.add("source", err)
	} else {
		cmd.Source = s
	}
	if r.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, r.ExpiresAt)
		switch {
		case err != nil:
			fe.addf("expiresAt", "must be an RFC 3339 date-time such as 2030-01-02T15:04:05Z")
		case !t.After(now):
			fe.addf("expiresAt", "must be in the future")
		default:
			t = t.UTC()
			cmd.ExpiresAt = &t
		}
	}
	if r.Priority != nil {
		if p := *r.Priority; p < domain.MinLotPriority || p > domain.MaxLotPriority {
			fe.addf("priority", "must be between %d and %d", domain.MinLotPriority, domain.MaxLotPriority)
		} else {
			cmd.Priority = p
		}
	}
	cmd.Memo = parseMemo(&fe, r.Reason, r.Metadata)
	if r.FundingReference != "" {
		if f, err := domain.NewFunding(domain.FundedExternally, r.FundingReference); err != nil {
			fe.add("fundingReference", err)
		} else {
			cmd.Funding = f
		}
	}
	return cmd, fe.err()
}

type spendRequest struct {
	Amount   string            `json:"amount"`
	Reason   string            `json:"reason,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (r spendRequest) toCommand(tenant domain.TenantID, accountParam string) (application.SpendCommand, error) {
	var fe fieldErrors
	cmd := application.SpendCommand{Tenant: tenant}
	cmd.Account = parseAccount(&fe, accountParam)
	cmd.Amount = parseAmount(&fe, "amount", r.Amount)
	cmd.Memo = parseMemo(&fe, r.Reason, r.Metadata)
	return cmd, fe.err()
}

type placeHoldRequest struct {
	Amount           string            `json:"amount"`
	ExpiresInSeconds *int64            `json:"expiresInSeconds"`
	Reason           string            `json:"reason,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
}

var (
	minHoldSeconds = int64(domain.MinHoldDuration / time.Second)
	maxHoldSeconds = int64(domain.MaxHoldDuration / time.Second)
)

func (r placeHoldRequest) toCommand(tenant domain.TenantID, accountParam string) (application.PlaceHoldCommand, error) {
	var fe fieldErrors
	cmd := application.PlaceHoldCommand{Tenant: tenant}
	cmd.Account = parseAccount(&fe, accountParam)
	cmd.Amount = parseAmount(&fe, "amount", r.Amount)
	cmd.ExpiresIn = parseExpiresIn(&fe, r.ExpiresInSeconds)
	cmd.Memo = parseMemo(&fe, r.Reason, r.Metadata)
	return cmd, fe.err()
}

// captureRequest: reason and metadata are omitempty so that a capture
// without them fingerprints as it did before they existed.
type captureRequest struct {
	Amount   optionalAmount    `json:"amount"`
	Reason   string            `json:"reason,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (r captureRequest) toCommand(tenant domain.TenantID, holdParam string) (application.CaptureCommand, error) {
	var fe fieldErrors
	cmd := application.CaptureCommand{Tenant: tenant}
	cmd.Hold = parseHold(&fe, holdParam)
	switch {
	case !r.Amount.present: // {} captures the rest; the body itself stays required, so a lost one captures nothing
		cmd.Rest = true
	case r.Amount.notString:
		fe.addf("amount", "must be a decimal string")
	default:
		cmd.Amount = parseAmount(&fe, "amount", r.Amount.value)
	}
	cmd.Memo = parseMemo(&fe, r.Reason, r.Metadata)
	return cmd, fe.err()
}

// optionalAmount is an amount member that may be left out, told apart from
// one sent as null or as a number: only a missing amount means "the rest".
type optionalAmount struct {
	value     string
	present   bool
	notString bool
}

func (a *optionalAmount) UnmarshalJSON(b []byte) error {
	a.present = true
	if jsonv2.Unmarshal(b, &a.value) != nil || string(b) == "null" {
		a.notString = true
	}
	return nil
}

// MarshalJSON keeps the fingerprint of a capture as it was when amount was
// a plain string.
func (a optionalAmount) MarshalJSON() ([]byte, error) { return json.Marshal(a.value) }

type extendHoldRequest struct {
	ExpiresInSeconds *int64 `json:"expiresInSeconds"`
}

func (r extendHoldRequest) toCommand(tenant domain.TenantID, holdParam string) (application.ExtendHoldCommand, error) {
	var fe fieldErrors
	cmd := application.ExtendHoldCommand{Tenant: tenant, Hold: parseHold(&fe, holdParam)}
	cmd.ExpiresIn = parseExpiresIn(&fe, r.ExpiresInSeconds)
	return cmd, fe.err()
}

// parseExpiresIn reads a hold's lifetime from now, bounded as the domain bounds it.
func parseExpiresIn(fe *fieldErrors, s *int64) time.Duration {
	switch {
	case s == nil:
		fe.addf("expiresInSeconds", "is required")
	case *s < minHoldSeconds || *s > maxHoldSeconds:
		fe.addf("expiresInSeconds", "must be between %d and %d", minHoldSeconds, maxHoldSeconds)
	default:
		return time.Duration(*s) * time.Second
	}
	return 0
}

// releaseRequest is empty; decoding it still refuses unknown fields. Its body
// is optional: a release without one is a release.
type releaseRequest struct{}

func (releaseRequest) bodyIsOptional() {}

func (releaseRequest) toCommand(tenant domain.TenantID, holdParam string) (application.ReleaseCommand, error) {
	var fe fieldErrors
	cmd := application.ReleaseCommand{Tenant: tenant, Hold: parseHold(&fe, holdParam)}
	return cmd, fe.err()
}

// defaultPageSize is the page size when limit is not given.
const defaultPageSize = 50

// pageSize reads the limit query parameter, 1 to application.MaxPageSize;
// defaultPageSize when not given.
func (fe *fieldErrors) pageSize(s string, given bool) int {
	if !given {
		return defaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > application.MaxPageSize {
		fe.addf("limit", "must be an integer between 1 and %d", application.MaxPageSize)
		return defaultPageSize
	}
	return n
}

func parseAccount(fe *fieldErrors, s string) domain.AccountID {
	id, err := domain.ParseAccountID(s)
	if err != nil {
		fe.add("accountId", err)
	}
	return id
}

// holdIDLength is the length of a hold id's canonical form. uuid.Parse also
// reads 32 bare digits, braces and "urn:uuid:", but one hold must have one
// spelling in paths, or a retry that spells it differently would not match
// its idempotent request.
const holdIDLength = 36

func parseHold(fe *fieldErrors, s string) domain.HoldID {
	id, err := domain.ParseHoldID(s)
	if err != nil || len(s) != holdIDLength {
		fe.addf("holdId", "must be a hold id: a UUID in its canonical form")
	}
	return id
}

func parseAmount(fe *fieldErrors, field, s string) domain.Credits {
	if s == "" {
		fe.addf(field, "is required")
		return domain.Credits{}
	}
	c, err := domain.ParsePositiveCredits(s)
	if err != nil {
		fe.add(field, err)
	}
	return c
}

func parseMemo(fe *fieldErrors, reason string, metadata map[string]string) domain.Memo {
	if err := domain.ValidateReason(reason); err != nil {
		fe.add("reason", err)
	}
	if err := domain.ValidateMetadata(metadata); err != nil {
		fe.add("metadata", err)
	}
	return domain.Memo{Reason: reason, Metadata: domain.Metadata(metadata)}
}

// Response DTOs. Amounts are decimal strings and times RFC 3339 in UTC.

type accountResponse struct {
	ID        string        `json:"id"`
	Balance   string        `json:"balance"` // net of debt: negative only while in debt
	Held      string        `json:"held"`
	Available string        `json:"available"`
	Debt      string        `json:"debt"` // "0" when none
	Lots      []lotResponse `json:"lots"`
	// LowBalanceThreshold is the account's own; null when it has none (the tenant's applies).
	LowBalanceThreshold *string `json:"lowBalanceThreshold"`
}

type lotResponse struct {
	ID        string           `json:"id"`
	Source    string           `json:"source"`
	Remaining string           `json:"remaining"`
	ExpiresAt *string          `json:"expiresAt"` // null: the lot never expires
	Priority  int              `json:"priority"`
	Funding   *fundingResponse `json:"funding"` // null: no funding was named
}

// fundingResponse is what paid for a lot.
type fundingResponse struct {
	Kind      string `json:"kind"` // order or external
	Reference string `json:"reference"`
}

func toFundingResponse(f domain.Funding) *fundingResponse {
	if f.IsZero() {
		return nil
	}
	return &fundingResponse{Kind: f.Kind().String(), Reference: f.Reference()}
}

func toAccountResponse(v application.AccountView) accountResponse {
	out := accountResponse{ID: v.Account.String(), Balance: v.Balance.String(), Held: v.Held.String(),
		Available: v.Available.String(), Debt: v.Debt.String(), Lots: make([]lotResponse, 0, len(v.Lots))}
	if v.LowBalanceThreshold.IsPositive() {
		t := v.LowBalanceThreshold.String()
		out.LowBalanceThreshold = &t
	}
	for _, l := range v.Lots {
		lot := lotResponse{ID: l.ID().String(), Source: l.Source().String(), Remaining: l.Remaining().String(), Priority: l.Priority(),
			Funding: toFundingResponse(l.Funding())}
		if e := l.ExpiresAt(); e != nil {
			s := formatTime(*e)
			lot.ExpiresAt = &s
		}
		out.Lots = append(out.Lots, lot)
	}
	return out
}

type transactionResponse struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	AccountID    string            `json:"accountId"`
	Amount       string            `json:"amount"`
	BalanceAfter string            `json:"balanceAfter"`
	CreatedAt    string            `json:"createdAt"`
	Reason       string            `json:"reason"`
	Metadata     map[string]string `json:"metadata"`
	Funding      *fundingResponse  `json:"funding"` // what funded a grant's lot; null otherwise
	Postings     []postingResponse `json:"postings"`
	// Reversals, each shown only when there is one: on a REVERSAL, what it
	// reverses; on a reversed transaction (in history), how much reversals
	// took back, and which.
	ReversalOf     *string  `json:"reversalOf,omitempty"`
	ReversedAmount string   `json:"reversedAmount,omitempty"`
	Reversals      []string `json:"reversals,omitempty"`
}

// postingResponse is one leg. A wallet posting names its lot and says what
// the lot's credits are (paid or bonus, and what funded them); a wallet
// posting without a lot is on the wallet's debt.
type postingResponse struct {
	Account     string           `json:"account"`
	AccountType string           `json:"accountType"`
	LotID       string           `json:"lotId,omitempty"`
	LotSource   string           `json:"lotSource,omitempty"`
	LotFunding  *fundingResponse `json:"lotFunding,omitempty"`
	Amount      string           `json:"amount"`
}

func toTransactionResponse(t domain.Transaction) transactionResponse {
	memo := t.Memo()
	out := transactionResponse{ID: t.ID().String(), Type: t.Type().String(), AccountID: t.AccountID().String(),
		Amount: t.Amount().String(), BalanceAfter: t.BalanceAfter().String(), CreatedAt: formatTime(t.CreatedAt()),
		Reason: memo.Reason, Metadata: map[string]string{}, Funding: toFundingResponse(t.Funding()), Postings: []postingResponse{}}
	for k, v := range memo.Metadata {
		out.Metadata[k] = v
	}
	if of := t.ReversalOf(); of != nil {
		s := of.String()
		out.ReversalOf = &s
	}
	for _, p := range t.Postings() {
		if p.IsSystem() {
			out.Postings = append(out.Postings, postingResponse{Account: p.System.String(), AccountType: "system", Amount: p.Amount.String()})
			continue
		}
		if p.IsDebt() {
			out.Postings = append(out.Postings, postingResponse{Account: p.AccountID.String(), AccountType: "wallet", Amount: p.Amount.String()})
			continue
		}
		out.Postings = append(out.Postings, postingResponse{Account: p.AccountID.String(), AccountType: "wallet",
			LotID: p.Lot.String(), LotSource: p.LotSource.String(), LotFunding: toFundingResponse(p.LotFunding), Amount: p.Amount.String()})
	}
	return out
}

type holdResponse struct {
	ID        string              `json:"id"`
	AccountID string              `json:"accountId"`
	Amount    string              `json:"amount"`
	Captured  string              `json:"captured"`
	Remaining string              `json:"remaining"`
	Released  string              `json:"released"`
	Status    string              `json:"status"`
	ExpiresAt string              `json:"expiresAt"`
	CreatedAt string              `json:"createdAt"`
	Reason    string              `json:"reason"`
	Metadata  map[string]string   `json:"metadata"`
	Captures  []holdCaptureResult `json:"captures"` // oldest first
}

// holdCaptureResult is one capture of a hold.
type holdCaptureResult struct {
	TransactionID string            `json:"transactionId"`
	Amount        string            `json:"amount"`
	Reason        string            `json:"reason"`
	Metadata      map[string]string `json:"metadata"`
	CapturedAt    string            `json:"capturedAt"`
}

// toHoldResponse shows the status as of now, so a hold past its expiry reads
// EXPIRED (and what it reserved, released) before the expiry job has swept it.
func toHoldResponse(v application.HoldView, now time.Time) holdResponse {
	h := v.Hold
	out := holdResponse{ID: h.ID().String(), AccountID: h.AccountID().String(), Amount: h.Amount().String(),
		Captured: h.Captured().String(), Remaining: h.Remaining().String(), Released: h.ReleasedAt(now).String(),
		Status: h.StatusAt(now).String(), ExpiresAt: formatTime(h.ExpiresAt()), CreatedAt: formatTime(h.CreatedAt()),
		Reason: h.Memo().Reason, Metadata: cloneMetadata(h.Memo().Metadata), Captures: make([]holdCaptureResult, 0, len(v.Captures))}
	for _, c := range v.Captures {
		out.Captures = append(out.Captures, holdCaptureResult{TransactionID: c.Transaction.String(), Amount: c.Amount.String(),
			Reason: c.Memo.Reason, Metadata: cloneMetadata(c.Memo.Metadata), CapturedAt: formatTime(c.CapturedAt)})
	}
	return out
}

// cloneMetadata is metadata as responses show it: an object, never null.
func cloneMetadata(m domain.Metadata) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type captureResponse struct {
	Hold        holdResponse        `json:"hold"`
	Transaction transactionResponse `json:"transaction"`
}

type historyResponse struct {
	Items      []transactionResponse `json:"items"`
	NextCursor *string               `json:"nextCursor"` // null on the last page
}

// toHistoryResponse renders a page; cursor makes the cursor of the next one.
func toHistoryResponse(p application.HistoryPage, cursor func(domain.TransactionID) string) historyResponse {
	out := historyResponse{Items: make([]transactionResponse, 0, len(p.Items))}
	for _, t := range p.Items {
		out.Items = append(out.Items, withReversals(toTransactionResponse(t), p.Reversals[t.ID()]))
	}
	if p.Next != nil {
		c := cursor(*p.Next)
		out.NextCursor = &c
	}
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
