//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestLookupsPageWhileWritesGoOn: paging through accounts, history, holds
// and lots while other goroutines grant, spend and place and settle holds
// returns every row that existed before paging started exactly once (new
// rows may appear or not, but nothing repeats), sees no other tenant's rows,
// and leaves the ledger sound.
func TestLookupsPageWhileWritesGoOn(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	tenantOf := func(name string) domain.TenantID {
		k, err := l.keys.Create(ctx, mustTenant(t, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		return k.Tenant
	}
	acme, other := tenantOf("acme"), tenantOf("other")
	acct := func(s string) domain.AccountID {
		a, err := domain.ParseAccountID(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	grant := func(tenant domain.TenantID, account string, amount string, priority int, expiresAt *time.Time) domain.Transaction {
		tx, _, err := l.accounts.Grant(ctx, application.GrantCommand{Tenant: tenant, Account: acct(account), Amount: domain.MustCredits(amount),
			Source: domain.LotBonus, Priority: priority, ExpiresAt: expiresAt}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	lotOf := func(tx domain.Transaction) domain.LotID {
		for _, p := range tx.Postings() {
			if !p.IsSystem() {
				return p.Lot
			}
		}
		t.Fatal("grant without a wallet posting")
		return domain.LotID{}
	}

	// Before paging: 40 accounts, each with an expiring lot that is never
	// spent (priority 100: spends take the priority-0 pool of "hot" first);
	// some share an expiry, to page across ties.
	base := time.Now().UTC().Truncate(time.Microsecond).Add(24 * time.Hour)
	var accounts []string
	var lots []domain.LotID
	for i := range 40 {
		name := fmt.Sprintf("acct-%02d", i*2) // odd numbers are left for accounts created while paging
		at := base.Add(time.Duration(i/3) * time.Hour)
		lots = append(lots, lotOf(grant(acme, name, "5", 100, &at)))
		accounts = append(accounts, name)
	}
	accounts = append(accounts, "hot")
	grant(acme, "hot", "100000", 0, nil)
	for i := range 30 {
		at := base.Add(time.Duration(i) * time.Minute)
		lots = append(lots, lotOf(grant(acme, "hot", "1", 100, &at)))
	}
	var holds []domain.HoldID
	for range 25 {
		h, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: acme, Account: acct("hot"), Amount: domain.MustCredits("1"), ExpiresIn: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, h.ID())
	}
	var history []domain.TransactionID
	for range 20 {
		tx, _, err := l.accounts.Spend(ctx, application.SpendCommand{Tenant: acme, Account: acct("hot"), Amount: domain.MustCredits("1")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, tx.ID())
	}
	// Another tenant's rows, with the same account names, interleaved in every order.
	var foreign []domain.TransactionID
	for i := range 10 {
		at := base.Add(time.Duration(i) * time.Minute)
		foreign = append(foreign, grant(other, fmt.Sprintf("acct-%02d", i), "3", 100, &at).ID())
	}
	page, err := l.accounts.ListTransactions(ctx, acme, acct("hot"), application.MaxPageSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	history = history[:0]
	for _, tx := range page.Items {
		history = append(history, tx.ID())
	}

	// Writers: new accounts between the old ones, spends, grants and holds on
	// "hot", captures and releases of its old holds.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 5 {
				case 0:
					at := base.Add(time.Duration(i) * time.Second)
					_, _, err = l.accounts.Grant(ctx, application.GrantCommand{Tenant: acme, Account: acct(fmt.Sprintf("acct-%02d-%d-%d", (i%40)*2+1, w, i)),
						Amount: domain.MustCredits("1"), Source: domain.LotPaid, Priority: 100, ExpiresAt: &at}, nil)
				case 1:
					_, _, err = l.accounts.Spend(ctx, application.SpendCommand{Tenant: acme, Account: acct("hot"), Amount: domain.MustCredits("0.5")}, nil)
				case 2:
					_, _, err = l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: acme, Account: acct("hot"), Amount: domain.MustCredits("1"), ExpiresIn: time.Hour}, nil)
				case 3:
					_, _, err = l.holds.Capture(ctx, application.CaptureCommand{Tenant: acme, Hold: holds[(i+w)%len(holds)], Amount: domain.MustCredits("0.25")}, nil)
				case 4:
					_, _, err = l.holds.Release(ctx, application.ReleaseCommand{Tenant: acme, Hold: holds[(i*7+w)%len(holds)]}, nil)
				}
				if err != nil && !errors.Is(err, domain.ErrHoldNotCapturable) && !errors.Is(err, domain.ErrHoldNotReleasable) &&
					!errors.Is(err, domain.ErrCaptureExceedsHold) {
					t.Errorf("writer: %v", err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	// pageThrough pages with a small limit, pausing between pages so writes land in between.
	pageThrough := func(next func() (more bool)) {
		for pages := 0; next(); pages++ {
			if pages > 10000 {
				t.Fatal("paging does not end")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	var gotAccounts []string
	var afterAccount *domain.AccountID
	pageThrough(func() bool {
		p, err := l.accounts.ListAccounts(ctx, acme, afterAccount, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Items {
			gotAccounts = append(gotAccounts, v.Account.String())
		}
		afterAccount = p.Next
		return p.Next != nil
	})
	var gotHistory []domain.TransactionID
	var beforeTx *domain.TransactionID
	pageThrough(func() bool {
		p, err := l.accounts.ListHistory(ctx, application.HistoryQuery{Tenant: acme, Account: acct("hot"), Before: beforeTx, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range p.Items {
			gotHistory = append(gotHistory, tx.ID())
		}
		beforeTx = p.Next
		return p.Next != nil
	})
	var gotHolds []domain.HoldID
	var beforeHold *domain.HoldID
	pageThrough(func() bool {
		p, err := l.holds.List(ctx, application.HoldsQuery{Tenant: acme, Account: acct("hot"), Before: beforeHold, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range p.Items {
			gotHolds = append(gotHolds, h.ID())
		}
		beforeHold = p.Next
		return p.Next != nil
	})
	var gotLots []domain.LotID
	var gotLotAccounts []string
	var afterLot *application.LotCursor
	pageThrough(func() bool {
		p, err := l.accounts.ListExpiringLots(ctx, acme, base.Add(30*24*time.Hour), afterLot, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			gotLots = append(gotLots, it.Lot.ID())
			gotLotAccounts = append(gotLotAccounts, it.Account.String())
		}
		afterLot = p.Next
		return p.Next != nil
	})
	close(stop)
	wg.Wait()
	if writes.Load() < 20 {
		t.Fatalf("only %d writes while paging: the test did not race anything", writes.Load())
	}

	exactlyOnce(t, "accounts", accounts, gotAccounts)
	if !slices.IsSorted(gotAccounts) {
		t.Error("accounts out of order")
	}
	exactlyOnce(t, "history", history, gotHistory)
	exactlyOnce(t, "holds", holds, gotHolds)
	exactlyOnce(t, "lots", lots, gotLots)
	for _, a := range gotLotAccounts {
		if a == "acct-01" || a == "acct-03" { // names only the other tenant's accounts have
			t.Errorf("lot of another tenant's account %s", a)
		}
	}

	// Tenant isolation: the other tenant sees its own and only its own.
	p, err := l.accounts.ListAccounts(ctx, other, nil, application.MaxPageSize)
	if err != nil || len(p.Items) != 10 {
		t.Fatalf("other tenant's accounts: %d, %v", len(p.Items), err)
	}
	if _, err := l.accounts.GetTransaction(ctx, acme, foreign[0]); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("another tenant's transaction: %v, want not found", err)
	}
	if tx, err := l.accounts.GetTransaction(ctx, other, foreign[0]); err != nil || tx.ID() != foreign[0] {
		t.Errorf("own transaction: %v", err)
	}
	ol, err := l.accounts.ListExpiringLots(ctx, other, base.Add(30*24*time.Hour), nil, application.MaxPageSize)
	if err != nil || len(ol.Items) != 10 {
		t.Errorf("other tenant's lots: %d, %v", len(ol.Items), err)
	}
	l.requireSound(t)
}

// exactlyOnce fails unless every one of want appears in got once, and nothing in got twice.
func exactlyOnce[T comparable](t *testing.T, what string, want, got []T) {
	t.Helper()
	seen := map[T]int{}
	for _, g := range got {
		seen[g]++
		if seen[g] == 2 {
			t.Errorf("%s: %v listed twice", what, g)
		}
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("%s: %v, which existed before paging, is missing", what, w)
		}
	}
}

// TestLookupFiltersOnPostgres: the history's type and time filters and the
// holds' status filter select exactly the rows they name, on PostgreSQL.
func TestLookupFiltersOnPostgres(t *testing.T) {
	t.Parallel()
	clock := &steppedClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	l := newLedger(t, clock)
	ctx := context.Background()
	tenant, a := seed(t, l, "u", "100")
	clock.advance(time.Hour)
	s, _, err := l.accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: a, Amount: domain.MustCredits("1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	h1, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: a, Amount: domain.MustCredits("3"), ExpiresIn: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := l.holds.Capture(ctx, application.CaptureCommand{Tenant: tenant, Hold: h1.ID(), Amount: domain.MustCredits("1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h2, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: a, Amount: domain.MustCredits("1"), ExpiresIn: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h3, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: a, Amount: domain.MustCredits("1"), ExpiresIn: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.holds.Release(ctx, application.ReleaseCommand{Tenant: tenant, Hold: h3.ID()}, nil); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute) // h2 is past its expiry, not swept

	at := func(h int) *time.Time { t := time.Date(2026, 3, 1, 9+h, 0, 0, 0, time.UTC); return &t }
	ids := func(q application.HistoryQuery) []domain.TransactionID {
		q.Tenant, q.Account, q.Limit = tenant, a, application.MaxPageSize
		p, err := l.accounts.ListHistory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []domain.TransactionID
		for _, tx := range p.Items {
			out = append(out, tx.ID())
		}
		return out
	}
	if got := ids(application.HistoryQuery{Types: []domain.TransactionType{domain.TransactionSpend, domain.TransactionCapture}}); !slices.Equal(got, []domain.TransactionID{c.Transaction.ID(), s.ID()}) {
		t.Errorf("SPEND,CAPTURE: %v", got)
	}
	if got := ids(application.HistoryQuery{From: at(1), To: at(2)}); !slices.Equal(got, []domain.TransactionID{s.ID()}) {
		t.Errorf("[10:00, 11:00): %v", got)
	}
	if got := ids(application.HistoryQuery{From: at(2)}); !slices.Equal(got, []domain.TransactionID{c.Transaction.ID()}) {
		t.Errorf("from 11:00: %v", got)
	}
	if got := ids(application.HistoryQuery{To: at(1), Types: []domain.TransactionType{domain.TransactionGrant}}); len(got) != 1 {
		t.Errorf("grants before 10:00: %v", got)
	}
	holdIDs := func(st ...domain.HoldStatus) []domain.HoldID {
		p, err := l.holds.List(ctx, application.HoldsQuery{Tenant: tenant, Account: a, Statuses: st, Limit: application.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		var out []domain.HoldID
		for _, h := range p.Items {
			out = append(out, h.ID())
		}
		return out
	}
	for _, tc := range []struct {
		statuses []domain.HoldStatus
		want     []domain.HoldID
	}{
		{nil, []domain.HoldID{h3.ID(), h2.ID(), h1.ID()}},
		{[]domain.HoldStatus{domain.HoldActive, domain.HoldPartiallyCaptured}, []domain.HoldID{h1.ID()}},
		{[]domain.HoldStatus{domain.HoldExpired}, []domain.HoldID{h2.ID()}},
		{[]domain.HoldStatus{domain.HoldReleased}, []domain.HoldID{h3.ID()}},
		{[]domain.HoldStatus{domain.HoldActive}, nil},
		{[]domain.HoldStatus{domain.HoldCaptured}, nil},
	} {
		if got := holdIDs(tc.statuses...); !slices.Equal(got, tc.want) {
			t.Errorf("holds %v: %v, want %v", tc.statuses, got, tc.want)
		}
	}
	l.requireSound(t)
}
