//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/creditd/creditd/domain"
)

// TestConcurrentReads: wallet reads that arrive together share statements
// (adapters/postgres.NewRepos), yet each caller gets its own wallet, or its
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
				w, err := g.reads.Wallets.Get(ctx, g.tenant, g.account(t, fmt.Sprintf("user-%d", n)))
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
