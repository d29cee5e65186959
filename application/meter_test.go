package application_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type countingMeter struct {
	mu  sync.Mutex
	txs []domain.Transaction
}

func (m *countingMeter) Committed(txs []domain.Transaction) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.txs = append(m.txs, txs...)
}

// TestMeteredCountsOnlyWhatCommitted: the meter hears each committed
// transaction once, and nothing of a unit of work that failed, even one that
// had appended before failing.
func TestMeteredCountsOnlyWhatCommitted(t *testing.T) {
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	meter := &countingMeter{}
	accounts := application.NewAccounts(application.Metered(store.UnitOfWork(), meter), store.Queries(), clock, ids)
	ctx := context.Background()
	tenant, acct := domain.TenantID(ids.NewID()), acct("alice")

	grant, _, err := accounts.Grant(ctx, application.GrantCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("5"),
		Source: domain.LotPaid, Priority: domain.DefaultLotPriority}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("6")}, nil); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("overspend: %v", err)
	}
	spend, _, err := accounts.Spend(ctx, application.SpendCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("2")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	failed := errors.New("fails after appending")
	uow := application.Metered(store.UnitOfWork(), meter)
	err = uow.WithinTx(ctx, application.WalletScope(tenant, acct), func(ctx context.Context, r application.Repos) error {
		w, err := r.Wallets.Lock(ctx, tenant, acct)
		if err != nil {
			return err
		}
		tx, err := w.Spend(domain.TransactionID(ids.NewID()), domain.MustCredits("1"), domain.Memo{}, clock.Now())
		if err != nil {
			return err
		}
		if err := r.Wallets.Save(ctx, w); err != nil {
			return err
		}
		if err := r.Ledger.Append(ctx, tx); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if len(meter.txs) != 2 || meter.txs[0].ID() != grant.ID() || meter.txs[1].ID() != spend.ID() {
		t.Fatalf("metered %d transactions, want the grant and the spend", len(meter.txs))
	}
}
