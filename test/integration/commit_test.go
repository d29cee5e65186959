//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/faultproxy"
	"github.com/creditd/creditd/test/pgtest"
)

// TestCommitWhoseOutcomeIsUnknown: when the connection fails between a
// batch's writes and COMMIT's answer, nobody can tell whether the batch
// committed. Its units must not run again (a unit without an idempotency
// key would then apply twice); each caller gets ErrUnavailable, which it may
// retry; and a retry with the same Idempotency-Key replays what committed or
// executes what did not, exactly once.
func TestCommitWhoseOutcomeIsUnknown(t *testing.T) {
	for _, c := range []struct {
		name      string
		fault     faultproxy.Action
		committed bool
	}{
		{"COMMIT carried out, its answer lost", faultproxy.ForwardThenCut, true},
		{"the connection lost before COMMIT", faultproxy.Cut, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.NewDatabase(t)
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			proxy := faultproxy.Start(t, u.Host)
			g := newGroupOn(t, proxy.RewriteDSN(dsn))
			alice := g.account(t, "alice")
			g.grant(t, alice, "100")

			// The second COMMIT from now: the first is the unit that holds the
			// lane while the others line up behind it (together).
			var commits atomic.Int32
			proxy.OnClientMessage(func(typ byte, payload []byte) faultproxy.Action {
				if typ == 'Q' && bytes.EqualFold(bytes.TrimRight(payload, "\x00; "), []byte("commit")) && commits.Add(1) == 2 {
					return c.fault
				}
				return faultproxy.Forward
			})
			const plain, keyed = 4, 4
			idem := func(i int) *application.Idempotency[domain.Transaction] {
				return &application.Idempotency[domain.Transaction]{Key: fmt.Sprintf("k%d", i), Fingerprint: []byte("f"),
					Encode: func(tx domain.Transaction, err error) (application.Receipt, error) {
						return application.Receipt{Status: 201, Body: []byte(tx.ID().String())}, nil
					}}
			}
			errs := make([]error, plain+keyed)
			var calls []func()
			for i := range errs {
				calls = append(calls, func() {
					if i < plain {
						_, _, errs[i] = g.spend(alice, "1", nil)
					} else {
						_, _, errs[i] = g.spend(alice, "1", idem(i))
					}
				})
			}
			g.together(t, calls...)
			proxy.OnClientMessage(nil)
			if n := commits.Load(); n < 2 {
				t.Fatalf("%d COMMITs seen, want the batch's to be the second", n)
			}
			for i, err := range errs {
				if !errors.Is(err, application.ErrUnavailable) {
					t.Errorf("unit %d: %v, want ErrUnavailable: its outcome is unknown", i, err)
				}
			}
			want := "100"
			if c.committed {
				want = "92" // each of the 8 units once, none again
			}
			if got := g.balance(t, alice); got != want {
				t.Fatalf("balance %s after the lost COMMIT, want %s", got, want)
			}

			// The clients retry the keyed requests.
			for i := plain; i < plain+keyed; i++ {
				_, receipt, err := g.spend(alice, "1", idem(i))
				if err != nil || receipt.Replayed != c.committed {
					t.Errorf("retry of k%d: %+v, %v; want replayed=%v", i, receipt, err, c.committed)
				}
				if _, again, err := g.spend(alice, "1", idem(i)); err != nil || !again.Replayed || !bytes.Equal(again.Body, receipt.Body) {
					t.Errorf("second retry of k%d: %+v, %v; want the same receipt replayed", i, again, err)
				}
			}
			want = "96"
			if c.committed {
				want = "92"
			}
			if got := g.balance(t, alice); got != want {
				t.Errorf("balance %s after the retries, want %s", got, want)
			}
			var spends int
			if err := g.db.NewRaw("SELECT count(*) FROM transactions WHERE type = 'SPEND'").Scan(context.Background(), &spends); err != nil {
				t.Fatal(err)
			}
			if wantSpends := map[bool]int{true: plain + keyed, false: keyed}[c.committed]; spends != wantSpends {
				t.Errorf("%d spends stored, want %d", spends, wantSpends)
			}
			g.requireSound(t)
		})
	}
}
