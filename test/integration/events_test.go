//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// publishingAccounts are the account use cases on l's database with every
// unit of work publishing its events.
func publishingAccounts(t *testing.T, l *ledger) (*application.Accounts, *application.Settings) {
	t.Helper()
	clock, ids := system.Clock{}, system.UUIDv7{}
	settings := application.NewSettings(postgres.NewSettingsStore(l.db), nil, clock)
	uow := application.Publishing(postgres.NewUnitOfWork(l.db, postgres.Config{}, clock), ids, clock, settings)
	return application.NewAccounts(uow, postgres.NewQueries(l.db, postgres.Config{}), clock, ids), settings
}

// outboxEvent is a row of the outbox as a test reads it.
type outboxEvent struct {
	Seq     int64           `bun:"seq"`
	ID      string          `bun:"id"`
	Account string          `bun:"account_id"`
	Type    string          `bun:"type"`
	Data    json.RawMessage `bun:"data"`
}

func readOutbox(t *testing.T, l *ledger) []outboxEvent {
	t.Helper()
	var evs []outboxEvent
	if err := l.db.NewRaw("SELECT seq, id::text, account_id, type, data FROM events ORDER BY seq").Scan(context.Background(), &evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestConcurrentChangesPublishOneEventEachInOrder: 32 clients spend from and
// grant to four accounts at once, many spends refused for want of credits in
// the same group-commit batches as successful ones. Every committed
// transaction has exactly one transaction.created event and no refused one
// has any; per account, the events' balances chain in sequence order (so
// seq is commit order); and balance.low fired exactly once per crossing of
// the tenant's threshold, balance.depleted once per reaching zero.
func TestConcurrentChangesPublishOneEventEachInOrder(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	key, err := l.keys.Create(context.Background(), mustTenant(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant := key.Tenant
	accounts, settings := publishingAccounts(t, l)
	if _, err := settings.ChangeTenant(context.Background(), tenant, application.TenantSettings{
		LowBalanceThreshold: domain.MustCredits("50"), LotsExpiringNotice: application.DefaultLotsExpiringNotice}); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	var refused sync.Map
	for c := range 32 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(c), 7))
			for range 60 {
				acct, _ := domain.ParseAccountID(names[rnd.IntN(len(names))])
				var err error
				if rnd.IntN(6) == 0 { // grants about match spends: balances wander across the threshold
					_, _, err = accounts.Grant(context.Background(), application.GrantCommand{Tenant: tenant, Account: acct,
						Amount: domain.MustCredits("40"), Source: domain.LotBonus, Priority: domain.DefaultLotPriority}, nil)
				} else {
					_, _, err = accounts.Spend(context.Background(), application.SpendCommand{Tenant: tenant, Account: acct,
						Amount: domain.MustCredits(decimal.NewFromInt(int64(1 + rnd.IntN(15))).String())}, nil)
					if errors.Is(err, domain.ErrInsufficientCredits) || errors.Is(err, domain.ErrNotFound) {
						refused.Store(acct, true)
						err = nil
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	var txIDs []string
	if err := l.db.NewRaw("SELECT id::text FROM transactions").Scan(context.Background(), &txIDs); err != nil {
		t.Fatal(err)
	}
	published := map[string]int{}
	balance := map[string]decimal.Decimal{}
	crossings, depletions := map[string]int{}, map[string]int{}
	lows, depleted := map[string]int{}, map[string]int{}
	threshold := decimal.NewFromInt(50)
	for _, ev := range readOutbox(t, l) {
		switch ev.Type {
		case "transaction.created":
			var d application.TransactionData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			published[d.TransactionID]++
			amount, after := decimal.RequireFromString(d.Amount), decimal.RequireFromString(d.BalanceAfter)
			before := balance[ev.Account]
			want := before.Add(amount)
			if d.Type == "SPEND" {
				want = before.Sub(amount)
			}
			if !after.Equal(want) {
				t.Fatalf("account %s, event %d: %s of %s after a balance of %s left %s: events out of commit order", ev.Account, ev.Seq, d.Type, amount, before, after)
			}
			if before.GreaterThanOrEqual(threshold) && after.LessThan(threshold) {
				crossings[ev.Account]++
			}
			if before.IsPositive() && after.IsZero() {
				depletions[ev.Account]++
			}
			balance[ev.Account] = after
		case "balance.low":
			lows[ev.Account]++
		case "balance.depleted":
			depleted[ev.Account]++
		default:
			t.Fatalf("unexpected event %s", ev.Type)
		}
	}
	if len(published) != len(txIDs) {
		t.Fatalf("%d transactions, %d with events", len(txIDs), len(published))
	}
	for _, id := range txIDs {
		if published[id] != 1 {
			t.Fatalf("transaction %s has %d events, want 1", id, published[id])
		}
	}
	total := 0
	for _, n := range names {
		if lows[n] != crossings[n] || depleted[n] != depletions[n] {
			t.Errorf("account %s: %d balance.low for %d crossings, %d balance.depleted for %d depletions", n, lows[n], crossings[n], depleted[n], depletions[n])
		}
		total += lows[n]
	}
	if total == 0 {
		t.Fatal("no account ever crossed the threshold: the test proved nothing")
	}
	t.Logf("%d transactions, %d balance.low, %d balance.depleted", len(txIDs), total, len(depleted))
	l.requireSound(t)
}

// TestLotsExpiringTellsOfEachLotOnce: four replicas sweep at once, in small
// batches; every lot expiring within the tenant's notice is named by
// exactly one lots.expiring event, no other lot is, and lengthening the
// notice tells of the lots it now covers, once.
func TestLotsExpiringTellsOfEachLotOnce(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	key, err := l.keys.Create(context.Background(), mustTenant(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	accounts, settings := publishingAccounts(t, l)
	now := time.Now()
	soon, later := map[string]bool{}, map[string]bool{}
	for i := range 40 {
		acct, _ := domain.ParseAccountID(fmt.Sprintf("user-%d", i%13))
		in := []time.Duration{48 * time.Hour, 20 * 24 * time.Hour, 90 * 24 * time.Hour}[i%3]
		expires := now.Add(in)
		tx, _, err := accounts.Grant(context.Background(), application.GrantCommand{Tenant: key.Tenant, Account: acct,
			Amount: domain.MustCredits("5"), Source: domain.LotBonus, Priority: domain.DefaultLotPriority, ExpiresAt: &expires}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := grantedLot(t, tx)
		switch i % 3 {
		case 0:
			soon[id] = true
		case 1:
			later[id] = true
		}
	}
	sweepConcurrently := func() {
		var wg sync.WaitGroup
		for range 4 {
			notices := application.NewLotNotices(postgres.NewLotNoticeStore(l.db), system.UUIDv7{}, system.Clock{})
			wg.Go(func() {
				for {
					s, err := notices.Sweep(context.Background(), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if s.Due < 3 {
						return
					}
				}
			})
		}
		wg.Wait()
	}
	told := func() map[string]int {
		out := map[string]int{}
		for _, ev := range readOutbox(t, l) {
			if ev.Type != "lots.expiring" {
				continue
			}
			var d application.LotsData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.AccountID != ev.Account || len(d.Lots) == 0 {
				t.Fatalf("event of %s: %+v", ev.Account, d)
			}
			for _, lot := range d.Lots {
				out[lot.LotID]++
			}
		}
		return out
	}
	sweepConcurrently()
	if got := told(); !sameLots(got, soon) {
		t.Fatalf("told of %v, want each of %v once", got, soon)
	}
	if _, err := settings.ChangeTenant(context.Background(), key.Tenant, application.TenantSettings{LotsExpiringNotice: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	sweepConcurrently()
	for id := range later {
		soon[id] = true
	}
	if got := told(); !sameLots(got, soon) {
		t.Fatalf("after lengthening the notice, told of %v, want each of %v once", got, soon)
	}
	l.requireSound(t)
}

func sameLots(told map[string]int, want map[string]bool) bool {
	if len(told) != len(want) {
		return false
	}
	for id, n := range told {
		if n != 1 || !want[id] {
			return false
		}
	}
	return true
}

// grantedLot is the lot a grant created, from its posting.
func grantedLot(t *testing.T, tx domain.Transaction) string {
	t.Helper()
	for _, p := range tx.Postings() {
		if !p.IsSystem() && !p.IsDebt() {
			return p.Lot.String()
		}
	}
	t.Fatalf("grant %s names no lot", tx.ID())
	return ""
}

// TestThresholdsChangeWhileSpendsGoOn: an account's own threshold is set
// and removed while 16 clients spend from it; every change goes through the
// wallet's lock, so no spend undoes a threshold change (the wallet row is
// written whole), the account ends with the last value set, and the ledger
// verifies.
func TestThresholdsChangeWhileSpendsGoOn(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	tenant, acct := seed(t, l, "user-1", "2000")
	accounts, _ := publishingAccounts(t, l)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 40 {
				_, _, err := accounts.Spend(context.Background(), application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("1")}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var mu sync.Mutex
	var last string
	for c := range 4 {
		wg.Go(func() {
			for i := range 26 { // each ends setting a threshold, not removing it
				value := []string{"0", fmt.Sprintf("%d", 100+c*25+i)}[i%2]
				mu.Lock() // the writes serialize here, so the last one set is known
				err := accounts.SetLowBalanceThreshold(context.Background(), tenant, acct, domain.MustCredits(value))
				last = value
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	view, err := accounts.GetAccount(context.Background(), tenant, acct)
	if err != nil {
		t.Fatal(err)
	}
	if !view.LowBalanceThreshold.Equal(domain.MustCredits(last)) || view.Balance.String() != "1360" {
		t.Fatalf("threshold %s (last set %s), balance %s (want 1360)", view.LowBalanceThreshold, last, view.Balance)
	}
	l.requireSound(t)
}
