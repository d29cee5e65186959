//go:build integration

package contract

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/adapters/memory"
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

// tallyLot is what the test knows of a lot.
type tallyLot struct {
	source   domain.LotSource
	purchase bool
	amount   domain.Credits
	price    *domain.Money // the order's, for an order's paid lot
}

// tallyMove is one change the test made: delta to a lot (or, for
// "absorbed", credits a clawback recorded as a loss; for "indebted", credits
// a clawback added to a wallet's debt; neither names a lot).
type tallyMove struct {
	at    time.Time
	kind  string // granted, consumed, expired, refunded, absorbed, indebted, repaid, returned, takenBack
	lot   domain.LotID
	delta domain.Credits
}

// tally is the test's own running account of what it did, kept from the
// use cases' answers and its knowledge of the scenario, never from a report.
type tally struct {
	lots  map[domain.LotID]*tallyLot
	moves []tallyMove
	left  map[domain.LotID]domain.Credits // now
	debt  domain.Credits                  // owed now, by every wallet
}

func (t *tally) move(at time.Time, kind string, lot domain.LotID, delta domain.Credits) {
	t.moves = append(t.moves, tallyMove{at, kind, lot, delta})
	switch kind {
	case "absorbed":
	case "indebted":
		t.debt = t.debt.Add(delta)
	case "repaid": // delta, negative, leaves the lot for the debt
		t.left[lot] = t.left[lot].Add(delta)
		t.debt = t.debt.Add(delta)
	default:
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
		switch m.kind {
		case "absorbed":
			if in {
				s.Refunded.Absorbed = s.Refunded.Absorbed.Add(m.delta)
			}
			continue
		case "indebted":
			s.Outstanding.Debt = s.Outstanding.Debt.Add(m.delta)
			if in {
				s.Refunded.Debt = s.Refunded.Debt.Add(m.delta)
			}
			continue
		case "repaid":
			s.Outstanding.Debt = s.Outstanding.Debt.Add(m.delta)
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
		case "repaid":
			s.DebtRepaid.Add(l.source, m.delta.Neg())
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
// test's clock sets; then, under the debt shortfall policy, a partial and a
// full console cancellation that put a wallet in debt, and a manual grant and
// a purchase that pay it) while keeping its own tally, then requires the
// summary of several windows to equal it, on both implementations; verify is
// clean after.
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
			gw := memory.NewGateway()
			orders := application.NewOrders(p.uow, p.queries, p.products, application.PaymentGateways{domain.GatewayPortOneV2: gw}, clock, ids, application.OrdersConfig{
				Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: "store", ChannelKey: "channel"}}, CancelRejected: true, Shortfall: domain.ShortfallAbsorb})

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
				gw.Set(domain.Payment{ID: o.PaymentID(), Status: status, StoreID: "store", OrderName: o.OrderName(),
					Currency: o.Price().Currency().String(), Total: o.Price().Amount(), Paid: o.Price().Amount(), Cancelled: cancelled, CustomData: o.CustomData()})
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
				owed := tl.debt // every wallet's, but only the buyer's is ever in debt here
				payment(o, domain.PaymentPaid, 0)
				price := o.Price()
				var lots []domain.LotID
				repaid := domain.ZeroCredits
				for _, l := range fundedLots(account, o) {
					lots = append(lots, l.ID())
					tl.lots[l.ID()] = &tallyLot{source: l.Source(), purchase: true, amount: l.Amount()}
					if l.Source() == domain.LotPaid {
						tl.lots[l.ID()].price = &price
					}
					tl.move(clock.Now(), "granted", l.ID(), l.Amount())
					// Which of the order's lots paid the debt is the wallet's
					// business; how much they paid in all is checked below.
					if p := l.Amount().Sub(l.Remaining()); p.IsPositive() {
						tl.move(clock.Now(), "repaid", l.ID(), p.Neg())
						repaid = repaid.Add(p)
					}
				}
				if want := domain.MinCredits(o.Credits(), owed); !repaid.Equal(want) {
					t.Fatalf("order %s repaid %s of the debt, want %s", o.PaymentID(), repaid, want)
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
				// A wallet in debt pays it first from the new lot.
				var lot domain.LotID
				for _, p := range tx.Postings() {
					if !p.IsSystem() && !p.IsDebt() {
						lot = p.Lot
					}
				}
				tl.lots[lot] = &tallyLot{source: src, amount: cmd.Amount}
				tl.move(tx.CreatedAt(), "granted", lot, cmd.Amount)
				if p := domain.MinCredits(cmd.Amount, tl.debt); p.IsPositive() {
					tl.move(tx.CreatedAt(), "repaid", lot, p.Neg())
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

			// Debt. From here the tenant's orders take a cancellation's
			// shortfall from the wallet's other free credits, and make what is
			// still missing debt, which later grants pay first.
			orders = application.NewOrders(p.uow, p.queries, p.products, application.PaymentGateways{domain.GatewayPortOneV2: gw}, clock, ids, application.OrdersConfig{
				Checkouts: map[domain.Gateway]application.Checkout{domain.GatewayPortOneV2: {StoreID: "store", ChannelKey: "channel"}}, CancelRejected: true, Shortfall: domain.ShortfallDebt})
			// claw has the console cancel o's payment down to cancelled (of
			// its price), which claws back the credits the test names: from
			// the order's lots, then from the others (in consumption order),
			// and what is still missing becomes debt.
			claw := func(account domain.AccountID, o *domain.Order, status domain.PaymentStatus, cancelled int64, credits string, others ...domain.LotID) {
				var lots []domain.LotID
				for _, l := range fundedLots(account, o) {
					lots = append(lots, l.ID())
				}
				payment(o, status, cancelled)
				left := domain.MustCredits(credits)
				for _, id := range append(lots, others...) {
					if n := domain.MinCredits(tl.left[id], left); n.IsPositive() {
						tl.move(clock.Now(), "refunded", id, n.Neg())
						left = left.Sub(n)
					}
				}
				if left.IsPositive() {
					tl.move(clock.Now(), "indebted", domain.LotID{}, left)
				}
			}
			d := acct("dave")
			at(16 * day)
			o5, _ := buy(d, "kr") // O5: paid 100 + bonus 10, KRW 10000
			at(16*day + time.Hour)
			spend(d, "95") // 15 left in O5's lots
			at(16*day + 2*time.Hour)
			grant(d, "6", domain.LotBonus, 20, nil, "")
			var daveBonus domain.LotID
			for id, l := range tl.lots {
				if l.source == domain.LotBonus && !l.purchase && l.amount.Equal(domain.MustCredits("6")) {
					daveBonus = id
				}
			}
			at(17 * day)
			// 4000 of 10000 cancelled: 44 credits, 15 from O5's lots, 6 from
			// the manual bonus lot, 23 debt.
			claw(d, o5, domain.PaymentPartialCancelled, 4000, "44", daveBonus)
			at(18 * day)
			grant(d, "20", domain.LotBonus, 10, nil, "") // pays 20 of the debt, keeps nothing: 3 owed
			at(19 * day)
			// The rest cancelled: 110 − 44 = 66 more, all debt (69 owed).
			claw(d, o5, domain.PaymentCancelled, 10000, "66", daveBonus)
			at(20 * day)
			buy(d, "kr") // O6 pays the 69 first and keeps 41
			at(21 * day)
			if !tl.debt.IsZero() {
				t.Fatalf("the tally says %s is still owed", tl.debt)
			}
			check("before dave's debt", start, start.Add(17*day))
			check("the partial cancellation", start.Add(17*day), start.Add(18*day))
			check("the manual grant that pays part of the debt", start.Add(18*day), start.Add(19*day))
			check("up to the manual grant", start.Add(16*day), start.Add(18*day))
			check("the full cancellation", start.Add(19*day), start.Add(20*day))
			check("the purchase that pays the rest", start.Add(20*day), start.Add(21*day))
			check("the debt chapter", start.Add(16*day), start.Add(21*day))
			check("the whole period, debt and all", start, start.Add(21*day))

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
