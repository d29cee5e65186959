//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestConcurrentReads: wallet reads that arrive together share statements
// (adapters/postgres.NewQueries), yet each caller gets its own wallet, or its
// own not-found or cancellation.
func TestConcurrentReads(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	const wallets = 20
	for i := range wallets {
		g.grant(t, g.account(t, fmt.Sprintf("user-%d", i)), fmt.Sprint(i+1))
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[*domain.Wallet]bool{}
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := (c + i) % (wallets + 2)
				ctx := context.Background()
				if n == wallets+1 {
					ctx = cancelled
				}
				w, err := g.queries.Wallets.Get(ctx, g.tenant, g.account(t, fmt.Sprintf("user-%d", n)))
				switch {
				case n == wallets:
					if !errors.Is(err, domain.ErrNotFound) {
						t.Errorf("read of a missing wallet: %v, want not found", err)
					}
				case n == wallets+1:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("read with a cancelled context: %v, want context.Canceled", err)
					}
				case err != nil:
					t.Errorf("read of user-%d: %v", n, err)
				case w.Balance().String() != fmt.Sprint(n+1) || len(w.Lots()) != 1 || w.AccountID().String() != fmt.Sprintf("user-%d", n):
					t.Errorf("read of user-%d: %s with balance %s and %d lots", n, w.AccountID(), w.Balance(), len(w.Lots()))
				default:
					mu.Lock()
					if got[w] {
						t.Errorf("two callers got the same wallet object")
					}
					got[w] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// TestAccountReadWhileHoldsArePlaced: a balance read that must free due
// holds sees the wallet, its lots and its open holds in one snapshot, even
// while holds are placed on lots granted a moment ago. (Read in two
// snapshots, a hold placed in between reserved a lot the first read had not
// seen, and about one read in twenty failed.)
//
// Writers run with a stopped clock, so their holds never expire for them and
// each new hold reserves the lot just granted; readers run an hour later, so
// every open hold is due for them and every read takes the holds path.
func TestAccountReadWhileHoldsArePlaced(t *testing.T) {
	t.Parallel()
	writeAt := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	l := newLedger(t, &steppedClock{now: writeAt})
	readAt := &steppedClock{now: writeAt.Add(time.Hour)}
	reader := application.NewAccounts(nil, postgres.NewQueries(l.db, postgres.Config{}), readAt, system.UUIDv7{})
	tenant, _ := seed(t, l, "seed", "1")

	const wallets, rounds = 6, 60
	var wg sync.WaitGroup
	var reads, failures atomic.Int64
	for i := range wallets {
		acct, err := domain.ParseAccountID(fmt.Sprintf("user-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		grant := func() error {
			_, _, err := l.accounts.Grant(context.Background(), application.GrantCommand{Tenant: tenant, Account: acct,
				Amount: domain.MustCredits("1"), Source: domain.LotPaid, Priority: domain.DefaultLotPriority}, nil)
			return err
		}
		if err := grant(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		wg.Go(func() { // writer: a fresh lot, then a hold on it
			defer close(done)
			for range rounds {
				if err := grant(); err != nil {
					t.Error(err)
					return
				}
				_, _, err := l.holds.Place(context.Background(), application.PlaceHoldCommand{Tenant: tenant, Account: acct,
					Amount: domain.MustCredits("1"), ExpiresIn: time.Minute}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() { // reader, until its writer is done
			for {
				select {
				case <-done:
					return
				default:
				}
				view, err := reader.GetAccount(context.Background(), tenant, acct)
				reads.Add(1)
				switch {
				case err != nil:
					failures.Add(1)
					t.Errorf("read while holds are placed: %v", err)
				case !view.Held.IsZero() || !view.Balance.Equal(view.Available):
					t.Errorf("an hour later every hold is due: held %s, balance %s, available %s", view.Held, view.Balance, view.Available)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d reads, %d failed", reads.Load(), failures.Load())
	l.requireSound(t)
}
