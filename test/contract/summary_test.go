//go:build integration

package contract

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// summaryClock is moved by the test only, so every transaction's time is
// known to it (and a whole microsecond, see start).
type summaryClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *summaryClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *summaryClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// paymentsFake is a payment gateway whose payments the test sets.
type paymentsFake struct {
	mu       sync.Mutex
	payments map[domain.PaymentID]domain.Payment
}

func (g *paymentsFake) GetPayment(_ context.Context, id domain.PaymentID) (domain.Payment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[id]
	if !ok {
		return domain.Payment{}, application.ErrPaymentNotFound
	}
	return p, nil
}
func (g *paymentsFake) PreRegister(context.Context, domain.PaymentID, domain.Money) error { return nil }
func (g *paymentsFake) Cancel(context.Context, application.CancelRequest) (domain.PaymentCancellation, error) {
	return domain.PaymentCancellation{Status: domain.CancellationSucceeded}, nil
}
func (g *paymentsFake) ListPayments(context.Context, application.PaymentListQuery) (application.PaymentPage, error) {
	return application.PaymentPage{}, errors.New("not used")
}

// tallyLot is what the test knows of a lot.
type tallyLot struct {
	source   domain.LotSource
	purchase bool
	amount   domain.Credits
	price    *domain.Money // the order's, for an order's paid lot
}

// tallyMove is one change the test made: delta to a lot (or, for
// "absorbed", credits a clawback recorded as a loss).
type tallyMove struct {
	at    time.Time
	kind  string // granted, consumed, expired, refunded, absorbed, returned, takenBack
	lot   domain.LotID
	delta domain.Credits
}

// tally is the test's own running account of what it did, kept from the
// use cases' answers and its knowledge of the scenario, never from a report.
type tally struct {
	lots  map[domain.LotID]*tallyLot
	moves []tallyMove
	left  map[domain.LotID]domain.Credits // now
}

func (t *tally) move(at time.Time, kind string, lot domain.LotID, delta domain.Credits) {
	t.moves = append(t.moves, tallyMove{at, kind, lot, delta})
	if kind != "absorbed" {
		t.left[lot] = t.left[lot].Add(delta)
	}
}

// spent tallies a spend's or capture's postings on lots.
func (t *tally) spent(tx domain.Transaction) {
	for _, p := range tx.Postings() {
		if !p.IsSystem() && !p.IsDebt() {
			t.move(tx.CreatedAt(), "consumed", p.Lot, p.Amount)
		}
	}
}

// expected is what a summary of [from, to) must say, in render's words.
func (t *tally) expected(from, to time.Time) string {
	var s domain.Summary
	remaining := map[domain.LotID]domain.Credits{}
	for _, m := range t.moves {
		if !m.at.Before(to) {
			continue
		}
		in := !m.at.Before(from)
		if m.kind == "absorbed" {
			if in {
				s.Refunded.Absorbed = s.Refunded.Absorbed.Add(m.delta)
			}
			continue
		}
		remaining[m.lot] = remaining[m.lot].Add(m.delta)
		if !in {
			continue
		}
		l := t.lots[m.lot]
		switch m.kind {
		case "granted":
			g := &s.Granted.Bonus
			if l.source == domain.LotPaid {
				g = &s.Granted.Paid
			}
			if l.purchase {
				g.Purchase = g.Purchase.Add(m.delta)
			} else {
				g.Manual = g.Manual.Add(m.delta)
			}
		case "consumed":
			s.Consumed.Add(l.source, m.delta.Neg())
		case "expired":
			s.Expired.Add(l.source, m.delta.Neg())
		case "refunded":
			s.Refunded.Add(l.source, m.delta.Neg())
		case "returned":
			s.Reversed.Returned.Add(l.source, m.delta)
		case "takenBack":
			s.Reversed.TakenBack.Add(l.source, m.delta.Neg())
		}
	}
	worth := map[string]decimal.Decimal{}
	priced := map[string]domain.Credits{}
	for id, r := range remaining {
		l := t.lots[id]
		s.Outstanding.Add(l.source, r)
		if l.price != nil && r.IsPositive() {
			cur := l.price.Currency().String()
			// Per lot, rounded down to the minor unit.
			worth[cur] = worth[cur].Add(r.Decimal().Mul(decimal.NewFromInt(l.price.Amount())).Div(l.amount.Decimal()).Floor())
			priced[cur] = priced[cur].Add(r)
		}
	}
	out := render(s)
	for _, cur := range []string{"JPY", "KRW", "USD"} {
		if p, ok := priced[cur]; ok {
			out += fmt.Sprintf(" deferred %s %s for %s", cur, worth[cur], p)
		}
	}
	return out
}

// render names every figure of a summary but its window and deferred revenue.
func render(s domain.Summary) string {
	return fmt.Sprintf("granted paid %s+%s bonus %s+%s; consumed %s/%s; expired %s/%s; refunded %s/%s debt %s absorbed %s; "+
		"reversed +%s/%s -%s/%s; debt repaid %s/%s; outstanding %s/%s debt %s;",
		s.Granted.Paid.Purchase, s.Granted.Paid.Manual, s.Granted.Bonus.Purchase, s.Granted.Bonus.Manual,
		s.Consumed.Paid, s.Consumed.Bonus, s.Expired.Paid, s.Expired.Bonus,
		s.Refunded.Paid, s.Refunded.Bonus, s.Refunded.Debt, s.Refunded.Absorbed,
		s.Reversed.Returned.Paid, s.Reversed.Returned.Bonus, s.Reversed.TakenBack.Paid, s.Reversed.TakenBack.Bonus,
		s.DebtRepaid.Paid, s.DebtRepaid.Bonus, s.Outstanding.Paid, s.Outstanding.Bonus, s.Outstanding.Debt)
}

func renderWithDeferred(s domain.Summary) string {
	out := render(s)
	for _, d := range s.DeferredRevenue {
		out += fmt.Sprintf(" deferred %s %s for %s", d.Currency, d.Amount, d.Credits)
	}
	return out
}

// TestSummaryEqualsTheTestsOwnTally builds a ledger through the use cases
// (orders paid and cancelled through a fake gateway, manual paid and bonus
// grants, spends across lots, a captured hold, expiries swept at times the
// test's clock sets) while keeping its own tally, then requires the summary
// of several windows to equal it, on both implementations; verify is clean after.
func TestSummaryEqualsTheTestsOwnTally(t *testing.T) {
	day := 24 * time.Hour
	for _, f := range factories {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &summaryClock{now: start}
			p := f.new(t, clock)
			ids := system.UUIDv7{}
			accounts := application.NewAccounts(p.uow, p.queries, clock, ids)
			holds := application.NewHolds(p.uow, p.queries, clock, ids)
			expiry := application.NewExpiry(p.uow, p.queries, clock, ids)
			reports := application.NewReports(p.queries)
			reversals := application.NewReversals(p.uow, p.queries, clock, ids, application.ReversalsConfig{Shortfall: domain.ShortfallAbsorb})
			name, _ := domain.ParseTenantName("acme")
			key, err := application.NewAPIKeys(p.keys, clock, ids).Create(ctx, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			tenant := key.Tenant
			catalog := application.NewCatalog(p.products, clock)
			ten := 10
			for _, pr := range []struct {
				id, price string
				cur       domain.Currency
				spec      domain.ProductSpec
			}{
				{"kr", "10000", domain.KRW, domain.ProductSpec{Name: "100 credits", Credits: domain.MustCredits("100"), BonusCredits: domain.MustCredits("10")}},
				{"us", "999", domain.USD, domain.ProductSpec{Name: "50 credits", Credits: domain.MustCredits("50"), BonusCredits: domain.MustCredits("5"), CreditValidityDays: &ten}},
			} {
				pid, _ := domain.ParseProductID(pr.id)
				pr.spec.Price, _ = domain.ParseMoney(pr.price, pr.cur)
				if _, err := catalog.Create(ctx, tenant, pid, pr.spec); err != nil {
					t.Fatal(err)
				}
			}
			gw := &paymentsFake{payments: map[domain.PaymentID]domain.Payment{}}
			orders := application.NewOrders(p.uow, p.queries, p.products, gw, clock, ids, application.OrdersConfig{
				Checkout: application.Checkout{StoreID: "store", ChannelKey: "channel"}, CancelRejected: true, Shortfall: domain.ShortfallAbsorb})

			tl := &tally{lots: map[domain.LotID]*tallyLot{}, left: map[domain.LotID]domain.Credits{}}
			acct := func(s string) domain.AccountID { a, _ := domain.ParseAccountID(s); return a }
			fundedLots := func(account domain.AccountID, o *domain.Order) []*domain.Lot {
				v, err := accounts.GetAccount(ctx, tenant, account)
				if err != nil {
					t.Fatal(err)
				}
				var out []*domain.Lot
				for _, l := range v.Lots {
					if l.Funding() == o.Funding() {
						out = append(out, l)
					}
				}
				return out
			}
			payment := func(o *domain.Order, status domain.PaymentStatus, cancelled int64) {
				gw.mu.Lock()
				gw.payments[o.PaymentID()] = domain.Payment{ID: o.PaymentID(), Status: status, StoreID: "store", OrderName: o.OrderName(),
					Currency: o.Price().Currency().String(), Total: o.Price().Amount(), Paid: o.Price().Amount(), Cancelled: cancelled, CustomData: o.CustomData()}
				gw.mu.Unlock()
				if _, err := orders.SyncOrder(ctx, o.PaymentID()); err != nil {
					t.Fatal(err)
				}
			}
			buy := func(account domain.AccountID, product string) (*domain.Order, []domain.LotID) {
				pid, _ := domain.ParseProductID(product)
				o, _, err := orders.Create(ctx, application.CreateOrderCommand{Tenant: tenant, Account: account, Product: pid}, nil)
				if err != nil {
					t.Fatal(err)
				}
				payment(o, domain.PaymentPaid, 0)
				price := o.Price()
				var lots []domain.LotID
				for _, l := range fundedLots(account, o) {
					lots = append(lots, l.ID())
					tl.lots[l.ID()] = &tallyLot{source: l.Source(), purchase: true, amount: l.Amount()}
					if l.Source() == domain.LotPaid {
						tl.lots[l.ID()].price = &price
					}
					tl.move(clock.Now(), "granted", l.ID(), l.Amount())
				}
				return o, lots
			}
			// cancel is a full console cancellation; under the absorb policy the
			// clawback takes what the order's lots have left (no hold pins them
			// here) and records the rest as a loss.
			cancel := func(account domain.AccountID, o *domain.Order) {
				lots := fundedLots(account, o)
				payment(o, domain.PaymentCancelled, o.Price().Amount())
				taken := domain.ZeroCredits
				for _, l := range lots {
					tl.move(clock.Now(), "refunded", l.ID(), l.Remaining().Neg())
					taken = taken.Add(l.Remaining())
				}
				if rest := o.Credits().Sub(taken); rest.IsPositive() {
					tl.move(clock.Now(), "absorbed", domain.LotID{}, rest)
				}
			}
			grant := func(account domain.AccountID, amount string, src domain.LotSource, priority int, expires *time.Time, funding string) domain.TransactionID {
				cmd := application.GrantCommand{Tenant: tenant, Account: account, Amount: domain.MustCredits(amount), Source: src, Priority: priority, ExpiresAt: expires}
				if funding != "" {
					cmd.Funding, _ = domain.NewFunding(domain.FundedExternally, funding)
				}
				tx, _, err := accounts.Grant(ctx, cmd, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range tx.Postings() {
					if !p.IsSystem() {
						tl.lots[p.Lot] = &tallyLot{source: src, amount: cmd.Amount}
						tl.move(tx.CreatedAt(), "granted", p.Lot, p.Amount)
					}
				}
				return tx.ID()
			}
			spend := func(account domain.AccountID, amount string) domain.TransactionID {
				tx, _, err := accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: account, Amount: domain.MustCredits(amount)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				tl.spent(tx)
				return tx.ID()
			}
			// reverse tallies what the reversal moved on lots: credits a
			// spend's reversal returns, or what a grant's takes back.
			reverse := func(original domain.TransactionID, amount string) {
				amt := domain.MustCredits(amount)
				rev, _, err := reversals.Reverse(ctx, application.ReverseCommand{Tenant: tenant, Transaction: original, Amount: &amt,
					Memo: domain.Memo{Reason: "a mistake"}}, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range rev.Postings() {
					if !p.IsSystem() && !p.IsDebt() {
						kind := "returned"
						if p.Amount.IsNegative() {
							kind = "takenBack"
						}
						tl.move(rev.CreatedAt(), kind, p.Lot, p.Amount)
					}
				}
			}
			// expire sweeps; the lots the test knows to be past expiry lose what is left.
			expire := func(due ...domain.LotID) {
				if _, err := expiry.ExpireLots(ctx, 100); err != nil {
					t.Fatal(err)
				}
				for _, id := range due {
					tl.move(clock.Now(), "expired", id, tl.left[id].Neg())
				}
			}
			at := func(d time.Duration) { clock.set(start.Add(d)) }
			a, b := acct("alice"), acct("bob")

			at(0)
			buy(a, "kr") // O1: paid 100 + bonus 10, never expiring, priority 50
			at(time.Hour)
			grant(a, "20", domain.LotPaid, 10, nil, "invoice-1") // consumed first
			at(2 * time.Hour)
			bonusExpiry := start.Add(3 * day)
			grant(a, "30", domain.LotBonus, 20, &bonusExpiry, "")
			var manualBonus domain.LotID
			for id, l := range tl.lots {
				if l.source == domain.LotBonus && !l.purchase {
					manualBonus = id
				}
			}
			at(day)
			mistake := spend(a, "25") // 20 manual paid, 5 manual bonus
			at(day + 30*time.Minute)
			reverse(mistake, "5") // back to the manual bonus lot, undone last posting first
			at(day + 40*time.Minute)
			reverse(grant(acct("carol"), "8", domain.LotBonus, 50, nil, ""), "3") // takes 3 of its lot back
			at(2 * day)
			h, _, err := holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: a, Amount: domain.MustCredits("10"), ExpiresIn: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			at(2*day + time.Minute)
			c, _, err := holds.Capture(ctx, application.CaptureCommand{Tenant: tenant, Hold: h.ID(), Amount: domain.MustCredits("4.5")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tl.spent(c.Transaction)
			if _, _, err := holds.Release(ctx, application.ReleaseCommand{Tenant: tenant, Hold: h.ID()}, nil); err != nil {
				t.Fatal(err)
			}
			at(3 * day)
			_, o2Lots := buy(b, "us") // O2: paid 50 + bonus 5 expiring in 10 days
			at(3*day + time.Hour)
			spend(b, "52.25")
			at(3*day + 12*time.Hour)
			expire(manualBonus) // alice's manual bonus lot expired at day 3: 20.5 left
			at(4 * day)
			o3, _ := buy(a, "kr")
			at(4*day + time.Hour)
			spend(a, "150") // the rest of O1 (110), then 40 of O3
			at(5 * day)
			cancel(a, o3) // takes 70 of O3's lots back, absorbs 40
			at(6 * day)
			buy(a, "kr") // O4, left untouched
			at(7 * day)
			spend(a, "0.000001")
			at(14 * day)
			expire(o2Lots...) // bob's O2 lots expired at day 13: 2.75 left
			at(15 * day)

			check := func(name string, from, to time.Time) {
				t.Helper()
				w, err := domain.NewReportWindow(from, to)
				if err != nil {
					t.Fatal(err)
				}
				got, err := reports.Summary(ctx, tenant, w)
				if err != nil {
					t.Fatal(err)
				}
				if g, want := renderWithDeferred(got), tl.expected(from, to); g != want {
					t.Errorf("%s [%s, %s):\n got  %s\n want %s", name, from.Format(time.RFC3339), to.Format(time.RFC3339), g, want)
				}
			}
			check("whole period", start, start.Add(15*day))
			check("middle", start.Add(2*day), start.Add(5*day))
			check("a bound on a transaction's time", start.Add(2*day+time.Minute), start.Add(4*day))
			check("empty, after everything", start.Add(20*day), start.Add(30*day))
			check("empty, before anything", start.Add(-day), start)
			check("first hour", start, start.Add(time.Hour))
			check("while bob's USD credits are unspent", start, start.Add(3*day+30*time.Minute))

			// Another tenant sees nothing of alice's and bob's.
			other, err := application.NewAPIKeys(p.keys, clock, ids).Create(ctx, mustTenantName(t, "other"), nil)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := domain.NewReportWindow(start, start.Add(15*day))
			if s, err := reports.Summary(ctx, other.Tenant, w); err != nil || renderWithDeferred(s) != render(domain.Summary{}) {
				t.Errorf("another tenant's summary: %s, %v", renderWithDeferred(s), err)
			}

			report, err := application.NewVerifier(p.auditor).Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range report.Drifts {
				t.Error("drift:", d)
			}
		})
	}
}

func mustTenantName(t *testing.T, s string) domain.TenantName {
	t.Helper()
	n, err := domain.ParseTenantName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
