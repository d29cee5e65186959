package postgres

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type walletRow struct {
	bun.BaseModel `bun:"table:wallets"`

	ID         uuid.UUID       `bun:"id,pk,type:uuid"`
	TenantID   uuid.UUID       `bun:"tenant_id,type:uuid"`
	AccountID  string          `bun:"account_id"`
	Balance    decimal.Decimal `bun:"balance,type:numeric"` // net: lots' remaining less debt
	Held       decimal.Decimal `bun:"held,type:numeric"`
	Debt       decimal.Decimal `bun:"debt,type:numeric"`
	HoldsDueAt *time.Time      `bun:"holds_due_at"`
	CreatedAt  time.Time       `bun:"created_at"`
	UpdatedAt  time.Time       `bun:"updated_at"`
	// LowBalanceThreshold is the account's own; NULL when it has none.
	LowBalanceThreshold *decimal.Decimal `bun:"low_balance_threshold,type:numeric"`
}

type lotRow struct {
	bun.BaseModel `bun:"table:lots"`

	ID          uuid.UUID       `bun:"id,pk,type:uuid"`
	WalletID    uuid.UUID       `bun:"wallet_id,type:uuid"`
	Source      string          `bun:"source"`
	Amount      decimal.Decimal `bun:"amount,type:numeric"`
	Remaining   decimal.Decimal `bun:"remaining,type:numeric"`
	Held        decimal.Decimal `bun:"held,type:numeric"`
	Priority    int             `bun:"priority"`
	ExpiresAt   *time.Time      `bun:"expires_at"`
	CreatedAt   time.Time       `bun:"created_at"`
	FundingKind *string         `bun:"funding_kind"` // NULL with FundingRef when no funding is known
	FundingRef  *string         `bun:"funding_ref"`
}

type transactionRow struct {
	bun.BaseModel `bun:"table:transactions"`

	ID           uuid.UUID         `bun:"id,pk,type:uuid"`
	TenantID     uuid.UUID         `bun:"tenant_id,type:uuid"`
	WalletID     uuid.UUID         `bun:"wallet_id,type:uuid"`
	AccountID    string            `bun:"account_id"`
	Type         string            `bun:"type"`
	Amount       decimal.Decimal   `bun:"amount,type:numeric"`
	BalanceAfter decimal.Decimal   `bun:"balance_after,type:numeric"`
	HoldID       *uuid.UUID        `bun:"hold_id,type:uuid"`
	Reason       string            `bun:"reason"`
	Metadata     map[string]string `bun:"metadata,type:jsonb"`
	CreatedAt    time.Time         `bun:"created_at"`
}

type postingRow struct {
	bun.BaseModel `bun:"table:postings,alias:p"`

	TransactionID uuid.UUID       `bun:"transaction_id,pk,type:uuid"`
	Seq           int16           `bun:"seq,pk"`
	TenantID      uuid.UUID       `bun:"tenant_id,type:uuid"`
	WalletID      *uuid.UUID      `bun:"wallet_id,type:uuid"`
	LotID         *uuid.UUID      `bun:"lot_id,type:uuid"`
	SystemAccount *string         `bun:"system_account"`
	Amount        decimal.Decimal `bun:"amount,type:numeric"`
}

// reversalRow links a REVERSAL transaction to the transaction it reverses.
type reversalRow struct {
	bun.BaseModel `bun:"table:transaction_reversals,alias:r"`

	TransactionID uuid.UUID       `bun:"transaction_id,pk,type:uuid"`
	OriginalID    uuid.UUID       `bun:"original_id,type:uuid"`
	TenantID      uuid.UUID       `bun:"tenant_id,type:uuid"`
	Amount        decimal.Decimal `bun:"amount,type:numeric"`
}

// eventRow is an event in the outbox; its seq is the database's.
type eventRow struct {
	bun.BaseModel `bun:"table:events"`

	Seq        int64     `bun:"seq,pk,scanonly"`
	ID         uuid.UUID `bun:"id,type:uuid"`
	TenantID   uuid.UUID `bun:"tenant_id,type:uuid"`
	AccountID  string    `bun:"account_id"`
	Type       string    `bun:"type"`
	Data       []byte    `bun:"data,type:jsonb"`
	OccurredAt time.Time `bun:"occurred_at"`
}

func toEventRow(e application.Event) eventRow {
	return eventRow{ID: e.ID, TenantID: uuid.UUID(e.Tenant), AccountID: e.Account.String(), Type: e.Type.String(),
		Data: []byte(jsonText(e.Data)), OccurredAt: e.OccurredAt}
}

type holdRow struct {
	bun.BaseModel `bun:"table:holds"`

	ID          uuid.UUID         `bun:"id,pk,type:uuid"`
	TenantID    uuid.UUID         `bun:"tenant_id,type:uuid"`
	WalletID    uuid.UUID         `bun:"wallet_id,type:uuid"`
	AccountID   string            `bun:"account_id"`
	Amount      decimal.Decimal   `bun:"amount,type:numeric"`
	Captured    decimal.Decimal   `bun:"captured,type:numeric"`
	Status      string            `bun:"status"`
	Reason      string            `bun:"reason"`
	Metadata    map[string]string `bun:"metadata,type:jsonb"`
	Allocations []allocationJSON  `bun:"allocations,type:jsonb"`
	ExpiresAt   time.Time         `bun:"expires_at"`
	CreatedAt   time.Time         `bun:"created_at"`
	UpdatedAt   time.Time         `bun:"updated_at"`
}

type allocationJSON struct {
	Lot    uuid.UUID       `json:"lot"`
	Amount decimal.Decimal `json:"amount"`
}

type idempotencyRow struct {
	bun.BaseModel `bun:"table:idempotency_records"`

	TenantID    uuid.UUID `bun:"tenant_id,pk,type:uuid"`
	Key         string    `bun:"key,pk"`
	Fingerprint []byte    `bun:"fingerprint"`
	Status      int       `bun:"status"`
	Body        []byte    `bun:"body"`
	CreatedAt   time.Time `bun:"created_at"`
}

type tenantRow struct {
	bun.BaseModel `bun:"table:tenants"`

	ID   uuid.UUID `bun:"id,pk,type:uuid"`
	Name string    `bun:"name"`
}

type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys,alias:k"`

	ID        uuid.UUID  `bun:"id,pk,type:uuid"`
	TenantID  uuid.UUID  `bun:"tenant_id,type:uuid"`
	Hash      []byte     `bun:"hash"`
	Scopes    []string   `bun:"scopes,array"`
	CreatedAt time.Time  `bun:"created_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

func credits(d decimal.Decimal, field string) (domain.Credits, error) {
	c, err := domain.CreditsFromDecimal(d)
	if err != nil {
		return domain.Credits{}, fmt.Errorf("stored %s %s: %w", field, d, err)
	}
	return c, nil
}

func toWalletRow(w *domain.Wallet, now time.Time) walletRow {
	return walletRow{ID: uuid.UUID(w.ID()), TenantID: uuid.UUID(w.Tenant()), AccountID: w.AccountID().String(),
		Balance: w.Balance().Decimal(), Held: w.Held().Decimal(), Debt: w.Debt().Decimal(), HoldsDueAt: w.HoldsDueAt(), CreatedAt: w.CreatedAt(), UpdatedAt: now,
		LowBalanceThreshold: optionalDecimal(w.LowBalanceThreshold())}
}

// optionalDecimal stores zero credits as NULL.
func optionalDecimal(c domain.Credits) *decimal.Decimal {
	if c.IsZero() {
		return nil
	}
	d := c.Decimal()
	return &d
}

func toLotRow(w domain.WalletID, l *domain.Lot) lotRow {
	kind, ref := fundingColumns(l.Funding())
	return lotRow{ID: uuid.UUID(l.ID()), WalletID: uuid.UUID(w), Source: l.Source().String(),
		Amount: l.Amount().Decimal(), Remaining: l.Remaining().Decimal(), Held: l.Held().Decimal(),
		Priority: l.Priority(), ExpiresAt: l.ExpiresAt(), CreatedAt: l.CreatedAt(), FundingKind: kind, FundingRef: ref}
}

// fundingColumns stores a funding as two nullable columns.
func fundingColumns(f domain.Funding) (kind, ref *string) {
	if f.IsZero() {
		return nil, nil
	}
	k, r := f.Kind().String(), f.Reference()
	return &k, &r
}

// fundingFromColumns reads them back.
func fundingFromColumns(kind, ref *string) (domain.Funding, error) {
	if kind == nil || ref == nil {
		return domain.Funding{}, nil
	}
	k, err := domain.FundingKindFromString(*kind)
	if err != nil {
		return domain.Funding{}, err
	}
	return domain.NewFunding(k, *ref)
}

func (r lotRow) toDomain() (*domain.Lot, error) {
	source, err := domain.LotSourceFromString(r.Source)
	if err != nil {
		return nil, err
	}
	amount, err := credits(r.Amount, "lot amount")
	if err != nil {
		return nil, err
	}
	remaining, err := credits(r.Remaining, "lot remaining")
	if err != nil {
		return nil, err
	}
	held, err := credits(r.Held, "lot held")
	if err != nil {
		return nil, err
	}
	funding, err := fundingFromColumns(r.FundingKind, r.FundingRef)
	if err != nil {
		return nil, fmt.Errorf("lot %s: %w", r.ID, err)
	}
	return domain.RehydrateLot(domain.LotID(r.ID), source, amount, remaining, held, r.Priority, utcPtr(r.ExpiresAt), r.CreatedAt.UTC(), funding), nil
}

func (r walletRow) toDomain(lots []*domain.Lot) (*domain.Wallet, error) {
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return nil, err
	}
	balance, err := credits(r.Balance, "wallet balance")
	if err != nil {
		return nil, err
	}
	held, err := credits(r.Held, "wallet held")
	if err != nil {
		return nil, err
	}
	debt, err := credits(r.Debt, "wallet debt")
	if err != nil {
		return nil, err
	}
	w := domain.RehydrateWallet(domain.WalletID(r.ID), domain.TenantID(r.TenantID), account, balance, held, debt, r.CreatedAt.UTC(), lots, utcPtr(r.HoldsDueAt))
	if r.LowBalanceThreshold != nil {
		threshold, err := credits(*r.LowBalanceThreshold, "low-balance threshold")
		if err != nil {
			return nil, err
		}
		if err := w.SetLowBalanceThreshold(threshold); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func toHoldRow(h *domain.Hold, now time.Time) holdRow {
	allocs := make([]allocationJSON, 0, len(h.Allocations()))
	for _, a := range h.Allocations() {
		allocs = append(allocs, allocationJSON{Lot: uuid.UUID(a.Lot), Amount: a.Amount.Decimal()})
	}
	return holdRow{ID: uuid.UUID(h.ID()), TenantID: uuid.UUID(h.Tenant()), WalletID: uuid.UUID(h.Wallet()),
		AccountID: h.AccountID().String(), Amount: h.Amount().Decimal(), Captured: h.Captured().Decimal(),
		Status: h.Status().String(), Reason: h.Memo().Reason, Metadata: nonNil(h.Memo().Metadata), Allocations: allocs,
		ExpiresAt: h.ExpiresAt(), CreatedAt: h.CreatedAt(), UpdatedAt: now}
}

func (r holdRow) toDomain() (*domain.Hold, error) {
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return nil, err
	}
	amount, err := credits(r.Amount, "hold amount")
	if err != nil {
		return nil, err
	}
	captured, err := credits(r.Captured, "hold captured")
	if err != nil {
		return nil, err
	}
	status, err := domain.HoldStatusFromString(r.Status)
	if err != nil {
		return nil, err
	}
	allocs := make([]domain.HoldAllocation, 0, len(r.Allocations))
	for _, a := range r.Allocations {
		amt, err := credits(a.Amount, "hold allocation")
		if err != nil {
			return nil, err
		}
		allocs = append(allocs, domain.HoldAllocation{Lot: domain.LotID(a.Lot), Amount: amt})
	}
	return domain.RehydrateHold(domain.HoldID(r.ID), domain.TenantID(r.TenantID), domain.WalletID(r.WalletID), account,
		amount, captured, status, domain.Memo{Reason: r.Reason, Metadata: r.Metadata}, r.ExpiresAt.UTC(), r.CreatedAt.UTC(), allocs), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// deref is a nullable text column's value, "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func walletFromRows(row walletRow, lots []lotRow) (*domain.Wallet, error) {
	ls := make([]*domain.Lot, 0, len(lots))
	for _, lr := range lots {
		l, err := lr.toDomain()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return row.toDomain(ls)
}

func (r holdRow) isOpen() bool {
	s, err := domain.HoldStatusFromString(r.Status)
	return err == nil && s.IsOpen()
}

func holdsFromRows(rows []holdRow) ([]*domain.Hold, error) {
	holds := make([]*domain.Hold, 0, len(rows))
	for _, row := range rows {
		h, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		holds = append(holds, h)
	}
	return holds, nil
}

// toReversalRows are the links of the reversals among txs.
func toReversalRows(txs []domain.Transaction) []reversalRow {
	var rows []reversalRow
	for _, t := range txs {
		if of := t.ReversalOf(); of != nil {
			rows = append(rows, reversalRow{TransactionID: uuid.UUID(t.ID()), OriginalID: uuid.UUID(*of), TenantID: uuid.UUID(t.Tenant()),
				Amount: t.Amount().Decimal()})
		}
	}
	return rows
}

// toLedgerRows turns transactions into their rows and their postings' rows.
func toLedgerRows(txs []domain.Transaction) ([]transactionRow, []postingRow) {
	txRows := make([]transactionRow, 0, len(txs))
	var postingRows []postingRow
	for _, t := range txs {
		var hold *uuid.UUID
		if h := t.Hold(); h != nil {
			u := uuid.UUID(*h)
			hold = &u
		}
		txRows = append(txRows, transactionRow{ID: uuid.UUID(t.ID()), TenantID: uuid.UUID(t.Tenant()), WalletID: uuid.UUID(t.Wallet()),
			AccountID: t.AccountID().String(), Type: t.Type().String(), Amount: t.Amount().Decimal(), BalanceAfter: t.BalanceAfter().Decimal(), HoldID: hold,
			Reason: t.Memo().Reason, Metadata: nonNil(t.Memo().Metadata), CreatedAt: t.CreatedAt()})
		for i, p := range t.Postings() {
			row := postingRow{TransactionID: uuid.UUID(t.ID()), Seq: int16(i), TenantID: uuid.UUID(t.Tenant()), Amount: p.Amount.Decimal()}
			if p.IsSystem() {
				s := p.System.String()
				row.SystemAccount = &s
			} else {
				w := uuid.UUID(p.Wallet)
				row.WalletID = &w
				if !p.IsDebt() { // the debt leg has no lot
					l := uuid.UUID(p.Lot)
					row.LotID = &l
				}
			}
			postingRows = append(postingRows, row)
		}
	}
	return txRows, postingRows
}

// postingWithLot is a posting with what its lot says of its credits, as
// history reads it (the lot columns are NULL on system postings).
type postingWithLot struct {
	postingRow     `bun:",extend"`
	LotSource      *string `bun:"lot_source"`
	LotFundingKind *string `bun:"lot_funding_kind"`
	LotFundingRef  *string `bun:"lot_funding_ref"`
}

func (r transactionRow) toDomain(postings []postingWithLot) (domain.Transaction, error) {
	typ, err := domain.TransactionTypeFromString(r.Type)
	if err != nil {
		return domain.Transaction{}, err
	}
	amount, err := credits(r.Amount, "transaction amount")
	if err != nil {
		return domain.Transaction{}, err
	}
	after, err := credits(r.BalanceAfter, "balance after")
	if err != nil {
		return domain.Transaction{}, err
	}
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return domain.Transaction{}, err
	}
	ps := make([]domain.Posting, 0, len(postings))
	for _, p := range postings {
		amt, err := credits(p.Amount, "posting amount")
		if err != nil {
			return domain.Transaction{}, err
		}
		posting := domain.Posting{Amount: amt}
		if p.SystemAccount != nil {
			if posting.System, err = domain.SystemAccountFromString(*p.SystemAccount); err != nil {
				return domain.Transaction{}, err
			}
		} else if p.LotID == nil { // the debt leg
			posting.Wallet, posting.AccountID = domain.WalletID(*p.WalletID), account
		} else {
			posting.Wallet, posting.AccountID, posting.Lot = domain.WalletID(*p.WalletID), account, domain.LotID(*p.LotID)
			if p.LotSource == nil {
				return domain.Transaction{}, fmt.Errorf("posting %s/%d: its lot was not read", p.TransactionID, p.Seq)
			}
			if posting.LotSource, err = domain.LotSourceFromString(*p.LotSource); err != nil {
				return domain.Transaction{}, err
			}
			if posting.LotFunding, err = fundingFromColumns(p.LotFundingKind, p.LotFundingRef); err != nil {
				return domain.Transaction{}, err
			}
		}
		ps = append(ps, posting)
	}
	var hold *domain.HoldID
	if r.HoldID != nil {
		h := domain.HoldID(*r.HoldID)
		hold = &h
	}
	return domain.RehydrateTransaction(domain.TransactionID(r.ID), domain.TenantID(r.TenantID), typ, domain.WalletID(r.WalletID),
		account, amount, after, hold, domain.Memo{Reason: r.Reason, Metadata: r.Metadata}, r.CreatedAt.UTC(), ps)
}

func toIdempotencyRow(rec application.IdempotencyRecord) idempotencyRow {
	return idempotencyRow{TenantID: uuid.UUID(rec.Tenant), Key: rec.Key, Fingerprint: nonNilBytes(rec.Fingerprint),
		Status: rec.Receipt.Status, Body: nonNilBytes(rec.Receipt.Body), CreatedAt: rec.CreatedAt}
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// toCapture is the capture a CAPTURE transaction's row records.
func (r transactionRow) toCapture() (domain.HoldCapture, error) {
	amount, err := credits(r.Amount, "capture amount")
	if err != nil {
		return domain.HoldCapture{}, err
	}
	return domain.HoldCapture{Transaction: domain.TransactionID(r.ID), Amount: amount,
		Memo: domain.Memo{Reason: r.Reason, Metadata: r.Metadata}, CapturedAt: r.CreatedAt.UTC()}, nil
}

// capturesFromRows turns CAPTURE transaction rows into captures, oldest first.
func capturesFromRows(rows []transactionRow) ([]domain.HoldCapture, error) {
	slices.SortFunc(rows, func(a, b transactionRow) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	out := make([]domain.HoldCapture, 0, len(rows))
	for _, row := range rows {
		c, err := row.toCapture()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
