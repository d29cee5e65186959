//go:build integration

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

func newInbox(t *testing.T, maxConns int) *postgres.WebhookInbox {
	t.Helper()
	db, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.NewDatabase(t), MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return postgres.NewWebhookInbox(db)
}

func addEvents(t *testing.T, inbox application.WebhookInbox, n int, at time.Time) {
	t.Helper()
	for i := range n {
		p, _ := domain.ParsePaymentID(fmt.Sprintf("pay-%d", i%50))
		e := application.WebhookEvent{ID: fmt.Sprintf("w%05d", i), Type: "Transaction.Paid", Payment: p}
		if added, err := inbox.Add(t.Context(), e, at); err != nil || !added {
			t.Fatalf("add %s: %v %v", e.ID, added, err)
		}
	}
}

// TestInboxClaimersNeverShareAnEvent: four replicas claim and process 1000
// events at once; each event is claimed, and processed, exactly once. (With
// FOR UPDATE SKIP LOCKED dropped from the claim, or the lease not written,
// claimers return the same events.)
func TestInboxClaimersNeverShareAnEvent(t *testing.T) {
	t.Parallel()
	const events, claimers, batch = 1000, 4, 7
	inbox := newInbox(t, 2*claimers)
	now := time.Now().Truncate(time.Microsecond)
	addEvents(t, inbox, events, now)

	var (
		mu        sync.Mutex
		processed = map[string]int{}
		wg        sync.WaitGroup
	)
	for range claimers {
		wg.Go(func() {
			for {
				// A long lease: nothing is claimed twice because a lease ended.
				items, err := inbox.Claim(context.Background(), now, time.Hour, batch)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				for _, it := range items {
					mu.Lock()
					processed[it.Event.ID]++
					mu.Unlock()
					if err := inbox.Done(context.Background(), it, now); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(processed) != events {
		t.Errorf("%d events processed, want %d", len(processed), events)
	}
	for id, n := range processed {
		if n != 1 {
			t.Errorf("%s processed %d times", id, n)
		}
	}
	s, err := inbox.Stats(t.Context())
	if err != nil || s.Depth != 0 || s.OldestAt != nil {
		t.Fatalf("stats %+v, %v", s, err)
	}
}

// TestInboxExpiredLeaseIsReclaimed: the events of a claimer that died are
// claimed again by another once the lease ends, and not before.
func TestInboxExpiredLeaseIsReclaimed(t *testing.T) {
	t.Parallel()
	inbox := newInbox(t, 4)
	now := time.Now().Truncate(time.Microsecond)
	addEvents(t, inbox, 3, now)
	first, err := inbox.Claim(t.Context(), now, 30*time.Second, 10)
	if err != nil || len(first) != 3 {
		t.Fatalf("first claim: %d %v", len(first), err)
	}
	// The first claimer dies here.
	if again, err := inbox.Claim(t.Context(), now.Add(29*time.Second), 30*time.Second, 10); err != nil || len(again) != 0 {
		t.Fatalf("during the lease: %d claimed, %v", len(again), err)
	}
	again, err := inbox.Claim(t.Context(), now.Add(30*time.Second), 30*time.Second, 10)
	if err != nil || len(again) != 3 {
		t.Fatalf("after the lease: %d claimed, %v", len(again), err)
	}
	for _, it := range again {
		if it.Attempts != 1 {
			t.Errorf("%s: %d attempts before, want 1", it.Event.ID, it.Attempts)
		}
	}
	s, err := inbox.Stats(t.Context())
	if err != nil || s.Depth != 3 || s.OldestAt == nil || !s.OldestAt.Equal(now) {
		t.Fatalf("stats %+v, %v", s, err)
	}
}

// TestInboxProcessingAcrossReplicas: the Webhooks use case, run by three
// replicas at once on one database, syncs every stored event, retrying the
// failed ones until they succeed.
func TestInboxProcessingAcrossReplicas(t *testing.T) {
	t.Parallel()
	inbox := newInbox(t, 12)
	now := time.Now().Truncate(time.Microsecond)
	addEvents(t, inbox, 300, now)
	syncer := &flakySyncer{seen: map[domain.PaymentID]int{}}
	clock := memory.NewFixedClock(now)
	var wg sync.WaitGroup
	for range 3 {
		w := application.NewWebhooks(nil, inbox, syncer, clock, application.WebhookConfig{Concurrency: 4,
			BackoffBase: time.Millisecond, BackoffCap: time.Millisecond})
		wg.Go(func() {
			for idle := 0; idle < 20; {
				run, err := w.ProcessDue(t.Context(), 16)
				if err != nil {
					t.Error(err)
					return
				}
				if run.Claimed == 0 {
					idle++
					clock.Advance(time.Millisecond)
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	s, err := inbox.Stats(t.Context())
	if err != nil || s.Depth != 0 {
		t.Fatalf("stats %+v, %v: every event must be processed", s, err)
	}
	if syncer.failed == 0 {
		t.Fatal("no sync failed: the retries were not exercised")
	}
}

// flakySyncer fails every payment's first sync.
type flakySyncer struct {
	mu     sync.Mutex
	seen   map[domain.PaymentID]int
	failed int
}

func (s *flakySyncer) Sync(_ context.Context, p domain.PaymentID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[p]++
	if s.seen[p] == 1 {
		s.failed++
		return fmt.Errorf("gateway: %w", application.ErrUnavailable)
	}
	return nil
}
