//go:build integration

package integration

import (
	"context"
	"testing"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestSmokeGrantSpendHold(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	key, err := l.keys.Create(ctx, mustTenant(t, "acme"), nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := domain.ParseAccountID("user-1")
	if _, _, err := l.accounts.Grant(ctx, application.GrantCommand{Tenant: key.Tenant, Account: acct, Amount: domain.MustCredits("10"), Source: domain.LotPaid, Priority: 50}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.accounts.Spend(ctx, application.SpendCommand{Tenant: key.Tenant, Account: acct, Amount: domain.MustCredits("2.5")}, nil); err != nil {
		t.Fatal(err)
	}
	h, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: key.Tenant, Account: acct, Amount: domain.MustCredits("3"), ExpiresIn: 60e9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.holds.Capture(ctx, application.CaptureCommand{Tenant: key.Tenant, Hold: h.ID(), Amount: domain.MustCredits("1")}, nil); err != nil {
		t.Fatal(err)
	}
	view, err := l.accounts.GetAccount(ctx, key.Tenant, acct)
	if err != nil {
		t.Fatal(err)
	}
	if view.Balance.String() != "6.5" || view.Held.String() != "2" {
		t.Fatalf("balance %s held %s", view.Balance, view.Held)
	}
	page, err := l.accounts.ListTransactions(ctx, key.Tenant, acct, 10, nil)
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("history %v %v", page, err)
	}
	l.requireSound(t)
}

func mustTenant(t *testing.T, name string) domain.TenantName {
	t.Helper()
	n, err := domain.ParseTenantName(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
