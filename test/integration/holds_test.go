//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestExtendRacesTheExpirySweep: holds fall due while extends and sweeps run
// at once. Each hold is either extended (and stays open past its first
// expiry) or expired (and its extend refused), never both; the wallet's
// held credits are exactly what the extended holds reserve.
func TestExtendRacesTheExpirySweep(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	tenant, acct := seed(t, l, "user-1", "1000")
	const holds = 40
	ids := make([]domain.HoldID, holds)
	dues := make([]time.Time, holds)
	for i := range ids {
		h, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("1"), ExpiresIn: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i], dues[i] = h.ID(), h.ExpiresAt()
	}

	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	for range 4 {
		sweeps.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.expiry.ExpireHolds(ctx, 10); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Each extend comes from 1 s before its hold falls due to 950 ms after:
	// wide enough that a loaded machine (other tests run in parallel) still
	// sees both outcomes.
	extended := make([]bool, holds)
	var extends sync.WaitGroup
	for i, id := range ids {
		extends.Go(func() {
			time.Sleep(time.Until(dues[i].Add(time.Duration(i-20) * 50 * time.Millisecond)))
			v, _, err := l.holds.Extend(ctx, application.ExtendHoldCommand{Tenant: tenant, Hold: id, ExpiresIn: time.Hour}, nil)
			switch {
			case err == nil:
				if v.Status() != domain.HoldActive || !v.ExpiresAt().After(dues[i].Add(time.Hour-time.Second)) {
					t.Errorf("hold %s extended: %s until %s", id, v.Status(), v.ExpiresAt())
				}
				extended[i] = true
			case !errors.Is(err, domain.ErrHoldNotOpen):
				t.Errorf("extend of hold %s: %v", id, err)
			}
		})
	}
	extends.Wait()
	close(stop)
	sweeps.Wait()
	if _, err := l.expiry.ExpireHolds(ctx, holds); err != nil { // whatever the sweeps left
		t.Fatal(err)
	}

	open := 0
	for i, id := range ids {
		h, err := l.holds.Get(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		want := domain.HoldExpired
		if extended[i] {
			want = domain.HoldActive
			open++
		}
		if h.Status() != want {
			t.Errorf("hold %s: extended %v, but %s", id, extended[i], h.Status())
		}
	}
	t.Logf("%d of %d holds extended before they fell due", open, holds)
	if open == 0 || open == holds {
		t.Errorf("%d of %d holds extended: the extends did not race the expiry", open, holds)
	}
	view, err := l.accounts.GetAccount(ctx, tenant, acct)
	if err != nil {
		t.Fatal(err)
	}
	if view.Balance.String() != "1000" || view.Held.String() != fmt.Sprint(open) {
		t.Fatalf("balance %s held %s, want 1000 and %d", view.Balance, view.Held, open)
	}
	l.requireSound(t)
}

// TestConcurrentCapturesOfTheRest: many callers capture what is left of one
// hold at once; exactly one captures it, the others are refused, and the
// hold lists that one capture.
func TestConcurrentCapturesOfTheRest(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	tenant, acct := seed(t, l, "user-1", "100")
	for round, first := range []string{"", "3.5"} {
		h, _, err := l.holds.Place(ctx, application.PlaceHoldCommand{Tenant: tenant, Account: acct, Amount: domain.MustCredits("10"), ExpiresIn: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rest := "10"
		if first != "" {
			if _, _, err := l.holds.Capture(ctx, application.CaptureCommand{Tenant: tenant, Hold: h.ID(), Amount: domain.MustCredits(first)}, nil); err != nil {
				t.Fatal(err)
			}
			rest = "6.5"
		}
		const callers = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []application.Capture
		for range callers {
			wg.Go(func() {
				c, _, err := l.holds.Capture(ctx, application.CaptureCommand{Tenant: tenant, Hold: h.ID(), Rest: true,
					Memo: domain.Memo{Reason: "the rest"}}, nil)
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, c)
					mu.Unlock()
				case !errors.Is(err, domain.ErrHoldNotCapturable):
					t.Errorf("round %d: capture of the rest: %v", round, err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d captures of the rest succeeded, want 1", round, len(won))
		}
		if got := won[0].Transaction.Amount().String(); got != rest {
			t.Fatalf("round %d: captured %s, want %s", round, got, rest)
		}
		got, err := l.holds.Get(ctx, tenant, h.ID())
		if err != nil {
			t.Fatal(err)
		}
		last := got.Captures[len(got.Captures)-1]
		if got.Status() != domain.HoldCaptured || got.Captured().String() != "10" || len(got.Captures) != len(won[0].Hold.Captures) ||
			last.Transaction != won[0].Transaction.ID() || last.Memo.Reason != "the rest" {
			t.Fatalf("round %d: hold %s captured %s, captures %+v", round, got.Status(), got.Captured(), got.Captures)
		}
		l.requireSound(t)
	}
	view, err := l.accounts.GetAccount(ctx, tenant, acct)
	if err != nil || view.Balance.String() != "80" || !view.Held.IsZero() {
		t.Fatalf("balance %s held %s, %v; want 80 and 0", view.Balance, view.Held, err)
	}
}
