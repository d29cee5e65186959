package domain

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// MaxReportYears bounds a report's window: long enough for any finance
// question, short enough that a typo (year 20260) is refused, not scanned.
const MaxReportYears = 10

// ReportWindow is the half-open interval [From, To) a report covers.
type ReportWindow struct{ from, to time.Time }

// CheckReportBound refuses a bound finer than the ledger keeps times
// (TimePrecision): PostgreSQL would round it and the in-memory ledger would
// not, so the same request could count a transaction in one and not the other.
func CheckReportBound(t time.Time) error {
	if !t.Equal(t.Truncate(TimePrecision)) {
		return fmt.Errorf("%w: a bound may have at most 6 fractional digits (microseconds)", ErrInvalidInput)
	}
	return nil
}

// NewReportWindow checks from < to, to at most MaxReportYears after from,
// and both bounds' precision.
func NewReportWindow(from, to time.Time) (ReportWindow, error) {
	if err := CheckReportBound(from); err != nil {
		return ReportWindow{}, err
	}
	if err := CheckReportBound(to); err != nil {
		return ReportWindow{}, err
	}
	if !from.Before(to) {
		return ReportWindow{}, fmt.Errorf("%w: to must be after from", ErrInvalidInput)
	}
	if to.After(from.AddDate(MaxReportYears, 0, 0)) {
		return ReportWindow{}, fmt.Errorf("%w: the window may span at most %d years", ErrInvalidInput, MaxReportYears)
	}
	return ReportWindow{from: from.UTC(), to: to.UTC()}, nil
}

func (w ReportWindow) From() time.Time { return w.from }
func (w ReportWindow) To() time.Time   { return w.to }

// Contains reports whether at falls in [From, To).
func (w ReportWindow) Contains(at time.Time) bool { return !at.Before(w.from) && at.Before(w.to) }

// BySource splits credits by the source of the lots they moved in or out of.
type BySource struct{ Paid, Bonus Credits }

// Total is paid plus bonus.
func (s BySource) Total() Credits { return s.Paid.Add(s.Bonus) }

// Add adds c to the side of src.
func (s *BySource) Add(src LotSource, c Credits) {
	if src == LotPaid {
		s.Paid = s.Paid.Add(c)
	} else {
		s.Bonus = s.Bonus.Add(c)
	}
}

// ByOrigin splits granted credits by what granted them: a paid order
// (purchase) or a grant through the API (manual, whatever its funding reference).
type ByOrigin struct{ Purchase, Manual Credits }

// RefundedCredits is what CLAWBACK transactions (refunds and console
// cancellations) took back: from paid and from bonus lots, as new debt, and
// absorbed as a loss. The four add up to the credits the clawbacks asked for.
type RefundedCredits struct {
	BySource
	Debt     Credits
	Absorbed Credits
}

// ReversedCredits is what REVERSAL transactions moved on lots: credits
// returned to them (a reversed spend or capture) and taken from them (a
// reversed grant).
type ReversedCredits struct{ Returned, TakenBack BySource }

// Outstanding is what wallets held at a moment: credits remaining in lots,
// by source (expired ones not yet swept to breakage included, as in the
// lots), and the debt owed.
type Outstanding struct {
	BySource
	Debt Credits
}

// DeferredRevenue is the money the outstanding paid credits of one
// currency's orders represent at their purchase price.
type DeferredRevenue struct {
	Currency Currency
	// Amount is in the currency's minor unit, an integer; a decimal because
	// a sum over many orders may exceed Money's bound.
	Amount decimal.Decimal
	// Credits are the outstanding paid credits it prices; paid credits
	// granted through the API have no price and are not among them.
	Credits Credits
}

// Summary is a tenant's finance summary over a window, computed from postings.
type Summary struct {
	Window ReportWindow
	// Flows within the window.
	Granted    struct{ Paid, Bonus ByOrigin }
	Consumed   BySource // spends and captures
	Expired    BySource // breakage
	Refunded   RefundedCredits
	Reversed   ReversedCredits
	DebtRepaid BySource // lot credits a grant used to pay the wallet's debt
	// State at the window's end (To), from every posting before it.
	Outstanding     Outstanding
	DeferredRevenue []DeferredRevenue // by currency code
}

// PaidLotWorth prices the remaining credits of a paid lot an order funded:
// price × remaining / amount, rounded down to the minor unit. Per lot, so
// each order's share is a whole amount anyone can recompute and the parts
// add up to the total; down, as refund quotes round, so deferred revenue
// never exceeds what the order's unspent credits could give back (a fully
// unspent lot is worth exactly its price, an empty one nothing).
func PaidLotWorth(price Money, amount, remaining Credits) decimal.Decimal {
	if !amount.IsPositive() || !remaining.IsPositive() {
		return decimal.Zero
	}
	q, _ := remaining.d.Mul(decimal.NewFromInt(price.amount)).QuoRem(amount.d, 0) // exact truncation
	return q
}

// SummaryBuilder computes a Summary from postings, in any order: the
// in-memory ledger's report, and the specification the SQL one mirrors.
type SummaryBuilder struct {
	s    Summary
	lots map[LotID]*summaryLot
}

type summaryLot struct {
	source    LotSource
	funding   Funding
	amount    Credits // from its grant
	remaining Credits
}

// NewSummaryBuilder starts a summary of w.
func NewSummaryBuilder(w ReportWindow) *SummaryBuilder {
	return &SummaryBuilder{s: Summary{Window: w}, lots: map[LotID]*summaryLot{}}
}

// Add counts one posting of a transaction of type typ made at at. Postings
// at or after the window's end are ignored; those before its start count
// only towards what is outstanding.
func (b *SummaryBuilder) Add(typ TransactionType, at time.Time, p Posting) {
	w := b.s.Window
	if !at.Before(w.to) {
		return
	}
	in := w.Contains(at)
	s := &b.s
	switch {
	case p.IsSystem():
		if in && typ == TransactionClawback && p.System == SystemRefundLosses {
			s.Refunded.Absorbed = s.Refunded.Absorbed.Add(p.Amount)
		}
		return
	case p.IsDebt():
		s.Outstanding.Debt = s.Outstanding.Debt.Sub(p.Amount) // minus the postings is the debt
		if in && typ == TransactionClawback {
			s.Refunded.Debt = s.Refunded.Debt.Sub(p.Amount)
		}
		return
	}
	lot := b.lots[p.Lot]
	if lot == nil {
		lot = &summaryLot{source: p.LotSource, funding: p.LotFunding}
		b.lots[p.Lot] = lot
	}
	lot.remaining = lot.remaining.Add(p.Amount)
	if typ == TransactionGrant && p.Amount.IsPositive() {
		lot.amount = lot.amount.Add(p.Amount)
	}
	if !in {
		return
	}
	out := p.Amount.Neg() // what left the lot
	switch typ.slug {
	case TransactionGrant.slug:
		if p.Amount.IsPositive() {
			origin := &s.Granted.Bonus
			if p.LotSource == LotPaid {
				origin = &s.Granted.Paid
			}
			if p.LotFunding.Kind() == FundedByOrder {
				origin.Purchase = origin.Purchase.Add(p.Amount)
			} else {
				origin.Manual = origin.Manual.Add(p.Amount)
			}
		} else {
			s.DebtRepaid.Add(p.LotSource, out)
		}
	case TransactionSpend.slug, TransactionCapture.slug:
		s.Consumed.Add(p.LotSource, out)
	case TransactionExpiration.slug:
		s.Expired.Add(p.LotSource, out)
	case TransactionClawback.slug:
		s.Refunded.Add(p.LotSource, out)
	case TransactionReversal.slug:
		if p.Amount.IsPositive() {
			s.Reversed.Returned.Add(p.LotSource, p.Amount)
		} else {
			s.Reversed.TakenBack.Add(p.LotSource, out)
		}
	}
}

// Summary finishes the summary. priceOf names the price of the order a
// funding names; false when there is none (a paid lot then has no price).
func (b *SummaryBuilder) Summary(priceOf func(Funding) (Money, bool)) Summary {
	s := b.s
	deferred := map[Currency]*DeferredRevenue{}
	for _, l := range b.lots {
		s.Outstanding.Add(l.source, l.remaining)
		if l.source != LotPaid || l.funding.Kind() != FundedByOrder || !l.remaining.IsPositive() {
			continue
		}
		price, ok := priceOf(l.funding)
		if !ok {
			continue
		}
		d := deferred[price.currency]
		if d == nil {
			d = &DeferredRevenue{Currency: price.currency, Amount: decimal.Zero}
			deferred[price.currency] = d
		}
		d.Amount = d.Amount.Add(PaidLotWorth(price, l.amount, l.remaining))
		d.Credits = d.Credits.Add(l.remaining)
	}
	s.DeferredRevenue = make([]DeferredRevenue, 0, len(deferred))
	for _, d := range deferred {
		s.DeferredRevenue = append(s.DeferredRevenue, *d)
	}
	slices.SortFunc(s.DeferredRevenue, func(a, b DeferredRevenue) int { return cmp.Compare(a.Currency.code, b.Currency.code) })
	return s
}
