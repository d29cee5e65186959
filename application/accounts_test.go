package application_test

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestGrantOpensWalletAndAddsLot(t *testing.T) {
	e := newEnv(t)
	if _, err := e.accounts.GetAccount(e.ctx, e.tenant, acct("alice")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetAccount before any grant: %v, want ErrNotFound", err)
	}
	tx := e.grant("alice", "100.5", func(c *application.GrantCommand) {
		c.Source = domain.LotPaid
		c.Memo = domain.Memo{Reason: "order 7", Metadata: domain.Metadata{"order": "7"}}
	})
	if tx.Type() != domain.TransactionGrant || !tx.Amount().Equal(cr("100.5")) || !tx.BalanceAfter().Equal(cr("100.5")) {
		t.Fatalf("grant transaction: %s of %s, balance after %s", tx.Type(), tx.Amount(), tx.BalanceAfter())
	}
	if p := tx.Postings(); len(p) != 2 || p[0].System != domain.SystemPurchases || !p[0].Amount.Equal(cr("-100.5")) {
		t.Fatalf("paid grant postings %+v, want the purchases account debited", p)
	}
	e.grant("alice", "20")
	e.wantAccount("alice", "120.5", "0")
	if lots := e.account("alice").Lots; len(lots) != 2 {
		t.Fatalf("%d lots, want 2", len(lots))
	}
	if got := e.history("alice")[1].Memo(); got.Reason != "order 7" || got.Metadata["order"] != "7" {
		t.Fatalf("stored memo %+v", got)
	}
}

func TestGrantRefusesBadInputAndOpensNoWallet(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(e *env, c *application.GrantCommand)
		want error
	}{
		{"zero amount", func(e *env, c *application.GrantCommand) { c.Amount = domain.ZeroCredits }, domain.ErrInvalidInput},
		{"priority out of range", func(e *env, c *application.GrantCommand) { c.Priority = 101 }, domain.ErrInvalidInput},
		{"expiry in the past", func(e *env, c *application.GrantCommand) { c.ExpiresAt = e.at(-time.Second) }, domain.ErrInvalidInput},
		{"expiry now", func(e *env, c *application.GrantCommand) { c.ExpiresAt = e.at(0) }, domain.ErrInvalidInput},
		{"balance limit", func(e *env, c *application.GrantCommand) { c.Amount = cr("999999999999999999.999999") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cmd := application.GrantCommand{Tenant: e.tenant, Account: acct("bob"), Amount: cr("1"), Source: domain.LotBonus, Priority: 50}
			tt.cmd(e, &cmd)
			_, _, err := e.accounts.Grant(e.ctx, cmd, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Grant error = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				// The wallet opened by the failed grant is rolled back with it.
				if _, err := e.accounts.GetAccount(e.ctx, e.tenant, acct("bob")); !errors.Is(err, domain.ErrNotFound) {
					t.Fatalf("GetAccount after a refused grant: %v, want ErrNotFound", err)
				}
				return
			}
			if _, _, err := e.accounts.Grant(e.ctx, application.GrantCommand{Tenant: e.tenant, Account: acct("bob"), Amount: cr("1"),
				Source: domain.LotBonus, Priority: 50}, nil); !errors.Is(err, domain.ErrBalanceLimit) {
				t.Fatalf("grant past the balance limit: %v, want ErrBalanceLimit", err)
			}
		})
	}
}

func TestSpend(t *testing.T) {
	tests := []struct {
		name      string
		account   string
		amount    string
		want      error
		available string // of an insufficient-credits error
		balance   string // afterwards
	}{
		{"part", "alice", "30.25", nil, "", "69.75"},
		{"all", "alice", "100", nil, "", "0"},
		{"smallest unit over", "alice", "100.000001", domain.ErrInsufficientCredits, "100", "100"},
		{"far over", "alice", "1000", domain.ErrInsufficientCredits, "100", "100"},
		{"zero", "alice", "0", domain.ErrInvalidInput, "", "100"},
		{"negative", "alice", "-1", domain.ErrInvalidInput, "", "100"},
		{"unknown account", "nobody", "1", domain.ErrNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.grant("alice", "100")
			tx, err := e.spend(tt.account, tt.amount)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Spend error = %v, want %v", err, tt.want)
			}
			if tt.available != "" {
				var ie *domain.InsufficientCreditsError
				if !errors.As(err, &ie) || !ie.Available.Equal(cr(tt.available)) || !ie.Requested.Equal(cr(tt.amount)) {
					t.Fatalf("Spend error = %#v, want %s requested and %s available", err, tt.amount, tt.available)
				}
			}
			if err == nil {
				if tx.Type() != domain.TransactionSpend || !tx.Amount().Equal(cr(tt.amount)) || !tx.BalanceAfter().Equal(cr(tt.balance)) {
					t.Fatalf("spend transaction: %s of %s, balance after %s", tx.Type(), tx.Amount(), tx.BalanceAfter())
				}
				p := tx.Postings()
				if last := p[len(p)-1]; last.System != domain.SystemConsumption || !last.Amount.Equal(cr(tt.amount)) {
					t.Fatalf("last posting %+v, want consumption credited", last)
				}
			}
			if tt.balance != "" {
				e.wantAccount(tt.account, tt.balance, "0")
			}
		})
	}
}

func TestTenantsAreSeparate(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	other := domain.TenantID(e.ids.NewID())
	if _, err := e.accounts.GetAccount(e.ctx, other, acct("alice")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another tenant's alice: %v, want ErrNotFound", err)
	}
	if _, _, err := e.accounts.Spend(e.ctx, application.SpendCommand{Tenant: other, Account: acct("alice"), Amount: cr("1")}, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("spend from another tenant's alice: %v, want ErrNotFound", err)
	}
}

func TestListTransactions(t *testing.T) {
	e := newEnv(t)
	var made []domain.TransactionID // oldest first
	for i := range 7 {
		made = append(made, e.grant("alice", "1").ID())
		e.clock.Advance(time.Duration(i) * time.Second)
	}
	e.grant("bob", "1") // not alice's
	slices.Reverse(made)

	for _, limit := range []int{1, 3, 6, 7, 8, application.MaxPageSize} {
		var got []domain.TransactionID
		var cursor *domain.TransactionID
		pages := 0
		for {
			page, err := e.accounts.ListTransactions(e.ctx, e.tenant, acct("alice"), limit, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Items) > limit || len(page.Items) == 0 {
				t.Fatalf("limit %d: page of %d", limit, len(page.Items))
			}
			for _, tx := range page.Items {
				got = append(got, tx.ID())
			}
			if page.Next == nil {
				break
			}
			if *page.Next != page.Items[len(page.Items)-1].ID() {
				t.Fatalf("limit %d: cursor is not the last item of the page", limit)
			}
			cursor = page.Next
		}
		if !slices.Equal(got, made) {
			t.Fatalf("limit %d: got %v, want newest first %v", limit, got, made)
		}
		if want := (len(made) + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d (no empty last page)", limit, pages, want)
		}
	}

	for _, limit := range []int{0, -1, application.MaxPageSize + 1} {
		if _, err := e.accounts.ListTransactions(e.ctx, e.tenant, acct("alice"), limit, nil); !errors.Is(err, domain.ErrInvalidInput) {
			t.Fatalf("limit %d: %v, want ErrInvalidInput", limit, err)
		}
	}
	if _, err := e.accounts.ListTransactions(e.ctx, e.tenant, acct("nobody"), 10, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("history of unknown account: %v, want ErrNotFound", err)
	}
	// The balance after each transaction counts down from the newest.
	for i, tx := range e.history("alice") {
		if want := cr(strconv.Itoa(7 - i)); !tx.BalanceAfter().Equal(want) {
			t.Fatalf("item %d: balance after %s, want %s", i, tx.BalanceAfter(), want)
		}
	}
}

func TestLazyExpiry(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10", expiresIn(e, time.Hour))
	e.grant("alice", "5")
	e.wantAccount("alice", "15", "0")

	e.clock.Advance(time.Hour) // the lot expires at exactly this instant
	v := e.account("alice")
	if !v.Balance.Equal(cr("5")) || len(v.Lots) != 1 || v.Lots[0].ExpiresAt() != nil {
		t.Fatalf("after expiry: balance %s, %d lots; want 5 in the never-expiring lot", v.Balance, len(v.Lots))
	}
	if n := len(e.history("alice")); n != 2 {
		t.Fatalf("GetAccount wrote to the ledger: %d transactions", n)
	}
	if _, err := e.spend("alice", "5.000001"); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("spend of expired credits: %v, want ErrInsufficientCredits", err)
	}
	if _, err := e.spend("alice", "5"); err != nil {
		t.Fatal(err)
	}
	e.wantAccount("alice", "0", "0")

	// The spend swept the expired lot to breakage first, in its own transaction.
	h := e.history("alice")
	if len(h) != 4 || h[0].Type() != domain.TransactionSpend || h[1].Type() != domain.TransactionExpiration {
		t.Fatalf("history %v, want spend after expiration", types(h))
	}
	if p := h[1].Postings(); !h[1].Amount().Equal(cr("10")) || p[len(p)-1].System != domain.SystemBreakage {
		t.Fatalf("expiration of %s with postings %+v, want 10 to breakage", h[1].Amount(), p)
	}
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("ExpireLots after the lazy sweep = %d, %v", s.Changed, err)
	}
}

func TestExpireLots(t *testing.T) {
	e := newEnv(t)
	for _, a := range []string{"a", "b", "c"} {
		e.grant(a, "3", expiresIn(e, time.Minute))
		e.grant(a, "1")
	}
	e.grant("d", "3", expiresIn(e, time.Hour))
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("ExpireLots before expiry = %d, %v", s.Changed, err)
	}
	e.clock.Advance(time.Minute)
	if s, err := e.expiry.ExpireLots(e.ctx, 2); s.Changed != 2 || err != nil {
		t.Fatalf("ExpireLots(2) = %d, %v", s.Changed, err)
	}
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 1 || err != nil {
		t.Fatalf("second ExpireLots = %d, %v", s.Changed, err)
	}
	for _, a := range []string{"a", "b", "c"} {
		e.wantAccount(a, "1", "0")
		if h := e.history(a); h[0].Type() != domain.TransactionExpiration {
			t.Fatalf("%s: newest transaction %s, want EXPIRATION", a, h[0].Type())
		}
	}
	e.wantAccount("d", "3", "0")
}

func TestConsumptionOrder(t *testing.T) {
	type lot struct {
		amount   string // distinct per lot, names it
		priority int
		expires  time.Duration // 0: never
	}
	tests := []struct {
		name  string
		lots  []lot // granted in this order, a second apart
		spend string
		want  []string // lots drawn from, in order
	}{
		{"priority first", []lot{{"1", 50, 0}, {"2", 10, time.Hour}, {"3", 0, 0}}, "6", []string{"3", "2", "1"}},
		{"soonest expiry", []lot{{"1", 50, 3 * time.Hour}, {"2", 50, time.Hour}, {"3", 50, 2 * time.Hour}}, "6", []string{"2", "3", "1"}},
		{"never-expiring last", []lot{{"1", 50, 0}, {"2", 50, 48 * time.Hour}}, "3", []string{"2", "1"}},
		{"then oldest", []lot{{"1", 50, 0}, {"2", 50, 0}, {"3", 50, 0}}, "4", []string{"1", "2", "3"}},
		{"stops when covered", []lot{{"1", 50, 0}, {"2", 50, 0}}, "0.5", []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			created := e.clock.Now()
			for _, l := range tt.lots {
				opts := []func(*application.GrantCommand){priority(l.priority)}
				if l.expires > 0 {
					expires := created.Add(l.expires) // from one instant, so equal durations tie
					opts = append(opts, func(c *application.GrantCommand) { c.ExpiresAt = &expires })
				}
				e.grant("alice", l.amount, opts...)
				e.clock.Advance(time.Second)
			}
			amountOf := map[domain.LotID]string{}
			for _, l := range e.account("alice").Lots {
				amountOf[l.ID()] = l.Amount().String()
			}
			tx, err := e.spend("alice", tt.spend)
			if err != nil {
				t.Fatal(err)
			}
			var drawn []string
			for _, p := range tx.Postings() {
				if !p.IsSystem() {
					drawn = append(drawn, amountOf[p.Lot])
				}
			}
			if !slices.Equal(drawn, tt.want) {
				t.Fatalf("drew from lots %v, want %v", drawn, tt.want)
			}
		})
	}
}

// Spends on one wallet from many goroutines must neither lose nor double an update.
func TestConcurrentSpends(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	var wg sync.WaitGroup
	errs := make(chan error, 150)
	for range 150 {
		wg.Go(func() {
			_, err := e.spend("alice", "1")
			errs <- err
		})
		wg.Go(func() {
			if _, err := e.accounts.GetAccount(e.ctx, e.tenant, acct("alice")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	insufficient := 0
	for err := range errs {
		switch {
		case errors.Is(err, domain.ErrInsufficientCredits):
			insufficient++
		case err != nil:
			t.Fatal(err)
		}
	}
	if insufficient != 50 {
		t.Fatalf("%d spends refused, want 50", insufficient)
	}
	e.wantAccount("alice", "0", "0")
}

func types(txs []domain.Transaction) []string {
	var out []string
	for _, tx := range txs {
		out = append(out, tx.Type().String())
	}
	return out
}
