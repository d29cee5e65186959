//go:build integration

package contract

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// inboxes are the WebhookInbox implementations, each fresh and empty.
var inboxes = []struct {
	name string
	new  func(t *testing.T) application.WebhookInbox
}{
	{"memory", func(*testing.T) application.WebhookInbox { return memory.NewWebhookInbox() }},
	{"postgres", func(t *testing.T) application.WebhookInbox { return postgres.NewWebhookInbox(openDB(t)) }},
}

func inboxContract(t *testing.T, test func(t *testing.T, inbox application.WebhookInbox)) {
	for _, impl := range inboxes {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			test(t, impl.new(t))
		})
	}
}

func inboxEvent(id, payment string) application.WebhookEvent {
	p, err := domain.ParsePaymentID(payment)
	if err != nil {
		panic(err)
	}
	return application.WebhookEvent{ID: id, Type: "Transaction.Paid", Payment: p, StoreID: "store-1",
		CancellationID: "", OccurredAt: start.Add(-time.Minute)}
}

func ids(items []application.InboxItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Event.ID
	}
	return out
}

// TestWebhookInboxStoresAnEventOnce: a second Add of an id stores nothing,
// even with other content, and the event reads back as stored.
func TestWebhookInboxStoresAnEventOnce(t *testing.T) {
	inboxContract(t, func(t *testing.T, inbox application.WebhookInbox) {
		ctx := t.Context()
		e := inboxEvent("w1", "pay-1")
		e.CancellationID = "c-1"
		if added, err := inbox.Add(ctx, e, start); err != nil || !added {
			t.Fatalf("first add: %v %v", added, err)
		}
		other := inboxEvent("w1", "pay-2")
		if added, err := inbox.Add(ctx, other, start.Add(time.Second)); err != nil || added {
			t.Fatalf("second add: %v %v", added, err)
		}
		items, err := inbox.Claim(ctx, start, time.Minute, 10)
		if err != nil || len(items) != 1 {
			t.Fatalf("claim: %v %v", items, err)
		}
		got := items[0]
		if got.Event.ID != "w1" || got.Event.Type != e.Type || got.Event.Payment != e.Payment || got.Event.StoreID != "store-1" ||
			got.Event.CancellationID != "c-1" || !got.Event.OccurredAt.Equal(e.OccurredAt) || !got.ReceivedAt.Equal(start) ||
			got.Attempts != 0 {
			t.Fatalf("claimed %+v, stored %+v", got, e)
		}
	})
}

// TestWebhookInboxConcurrentAddsStoreEachEventOnce: deliveries arriving
// together (the postgres inbox group-commits them), some of them the same
// event sent again, each learn whether they stored it: exactly one Add per
// webhook-id says so, and every event is in the inbox.
func TestWebhookInboxConcurrentAddsStoreEachEventOnce(t *testing.T) {
	inboxContract(t, func(t *testing.T, inbox application.WebhookInbox) {
		ctx := t.Context()
		const events, copies = 40, 4
		var mu sync.Mutex
		storedBy := map[string]int{}
		var wg sync.WaitGroup
		for c := range copies {
			for i := range events {
				wg.Go(func() {
					id := fmt.Sprintf("w%02d", (i*7+c)%events)
					added, err := inbox.Add(ctx, inboxEvent(id, "pay-1"), start)
					if err != nil {
						t.Errorf("add %s: %v", id, err)
						return
					}
					if added {
						mu.Lock()
						storedBy[id]++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		for i := range events {
			if id := fmt.Sprintf("w%02d", i); storedBy[id] != 1 {
				t.Errorf("%s: %d adds said they stored it, want 1", id, storedBy[id])
			}
		}
		items, err := inbox.Claim(ctx, start, time.Minute, 2*events)
		if err != nil || len(items) != events {
			t.Fatalf("claimed %d events (%v), want %d", len(items), err, events)
		}
	})
}

// TestWebhookInboxClaims: claims take due events oldest due first, up to the
// limit, lease them, and count the attempts; Retry and Done end a claim.
func TestWebhookInboxClaims(t *testing.T) {
	inboxContract(t, func(t *testing.T, inbox application.WebhookInbox) {
		ctx := t.Context()
		for i := range 5 {
			if _, err := inbox.Add(ctx, inboxEvent(fmt.Sprintf("w%d", i), "pay-1"), start.Add(time.Duration(4-i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		claim := func(at time.Time, limit int) []application.InboxItem {
			t.Helper()
			items, err := inbox.Claim(ctx, at, time.Minute, limit)
			if err != nil {
				t.Fatal(err)
			}
			return items
		}
		now := start.Add(3 * time.Second) // w4..w1 are due, w0 is not
		first := claim(now, 2)
		if got := ids(first); !slices.Equal(got, []string{"w4", "w3"}) {
			t.Fatalf("first claim %v", got)
		}
		w3 := first[1]
		if got := ids(claim(now, 10)); !slices.Equal(got, []string{"w2", "w1"}) {
			t.Fatalf("second claim %v: leased events or ones not due", got)
		}
		if got := claim(now, 0); len(got) != 0 {
			t.Fatalf("limit 0 claimed %v", ids(got))
		}
		if err := inbox.Retry(ctx, "w4", start.Add(10*time.Second), "gateway down"); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Done(ctx, w3, now); err != nil {
			t.Fatal(err)
		}
		// At +10s: w0 is due since +4s, w4 since its retry at +10s.
		later := claim(start.Add(10*time.Second), 10)
		if got := ids(later); !slices.Equal(got, []string{"w0", "w4"}) {
			t.Fatalf("claim after a retry %v", got)
		}
		if later[1].Attempts != 1 {
			t.Fatalf("w4's attempts before this one: %d, want 1", later[1].Attempts)
		}
		// Leases end: w2 and w1 (leased at +3s for a minute, so due at the
		// same instant, in either order) come back, w3 never.
		if got := slices.Sorted(slices.Values(ids(claim(now.Add(time.Minute), 10)))); !slices.Equal(got, []string{"w1", "w2"}) {
			t.Fatalf("claim after the leases ended %v", got)
		}
		// A late outcome of an ended claim does not undo a recorded one.
		if err := inbox.Retry(ctx, "w3", now, "late"); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Done(ctx, w3, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Done(ctx, application.InboxItem{Event: inboxEvent("nonexistent", "pay-1"), ReceivedAt: start}, now); err != nil {
			t.Fatal(err)
		}
		if got := ids(claim(now.Add(time.Hour), 10)); slices.Contains(got, "w3") {
			t.Fatalf("a done event claimed again: %v", got)
		}
	})
}

// TestWebhookInboxStatsAndForgetting: Stats count what is not done and the
// oldest of it; DeleteDoneBefore forgets only done events before the cutoff.
func TestWebhookInboxStatsAndForgetting(t *testing.T) {
	inboxContract(t, func(t *testing.T, inbox application.WebhookInbox) {
		ctx := t.Context()
		stats := func() application.InboxStats {
			t.Helper()
			s, err := inbox.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := stats(); s.Depth != 0 || s.OldestAt != nil {
			t.Fatalf("empty: %+v", s)
		}
		for i, id := range []string{"a", "b", "c"} {
			if _, err := inbox.Add(ctx, inboxEvent(id, "pay-1"), start.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if s := stats(); s.Depth != 3 || s.OldestAt == nil || !s.OldestAt.Equal(start) {
			t.Fatalf("three pending: %+v", s)
		}
		claimed, err := inbox.Claim(ctx, start.Add(3*time.Hour), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range claimed {
			if it.Event.ID == "c" {
				continue
			}
			if err := inbox.Done(ctx, it, start.Add(3*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if s := stats(); s.Depth != 1 || !s.OldestAt.Equal(start.Add(2*time.Hour)) {
			t.Fatalf("one pending: %+v", s)
		}
		if n, err := inbox.DeleteDoneBefore(ctx, start.Add(3*time.Hour)); err != nil || n != 0 {
			t.Fatalf("cutoff at their done time: %d %v", n, err)
		}
		if n, err := inbox.DeleteDoneBefore(ctx, start.Add(4*time.Hour)); err != nil || n != 2 {
			t.Fatalf("cutoff after: %d %v", n, err)
		}
		// Forgotten ids are new again; the pending one is kept.
		if added, err := inbox.Add(ctx, inboxEvent("a", "pay-1"), start.Add(5*time.Hour)); err != nil || !added {
			t.Fatalf("re-add a forgotten id: %v %v", added, err)
		}
		if added, err := inbox.Add(ctx, inboxEvent("c", "pay-1"), start.Add(5*time.Hour)); err != nil || added {
			t.Fatalf("re-add a pending id: %v %v", added, err)
		}
	})
}

// TestWebhookInboxRearm: Rearm leaves an event that waits to be claimed
// (or none) alone. One received again while claimed is due again at once,
// and not marked done by that claim's Done; a processed one is due again at
// once, as if new (no attempts), and concurrent rearms of it take once.
func TestWebhookInboxRearm(t *testing.T) {
	inboxContract(t, func(t *testing.T, inbox application.WebhookInbox) {
		ctx := t.Context()
		rearm := func(id string, at time.Time) bool {
			t.Helper()
			rearmed, err := inbox.Rearm(ctx, id, at)
			if err != nil {
				t.Fatal(err)
			}
			return rearmed
		}
		claim := func(at time.Time) []application.InboxItem {
			t.Helper()
			items, err := inbox.Claim(ctx, at, time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			return items
		}
		done := func(it application.InboxItem, at time.Time) {
			t.Helper()
			if err := inbox.Done(ctx, it, at); err != nil {
				t.Fatal(err)
			}
		}
		depth := func() int {
			t.Helper()
			s, err := inbox.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return s.Depth
		}
		if _, err := inbox.Add(ctx, inboxEvent("w1", "pay-1"), start); err != nil {
			t.Fatal(err)
		}
		if rearm("w1", start) || rearm("w-none", start) {
			t.Fatal("rearmed an event waiting to be claimed, or none")
		}
		// Received again while its claim syncs: due again at once, and that
		// claim's Done does not end it.
		first := claim(start)
		if len(first) != 1 || !rearm("w1", start.Add(time.Second)) {
			t.Fatalf("claim %v, or the rearm of a claimed event did not take", ids(first))
		}
		done(first[0], start.Add(2*time.Second))
		if d := depth(); d != 1 {
			t.Fatalf("depth %d: the claim's Done ended an event received again", d)
		}
		second := claim(start.Add(2 * time.Second))
		if len(second) != 1 {
			t.Fatal("the event received again is not due again")
		}
		done(second[0], start.Add(3*time.Second))
		if d := depth(); d != 0 {
			t.Fatalf("depth %d after the second claim's Done", d)
		}
		// Processed: due again at once, as if new; concurrent rearms take once.
		later := start.Add(time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		rearms := 0
		for range 8 {
			wg.Go(func() {
				if rearmed, err := inbox.Rearm(ctx, "w1", later); err != nil {
					t.Error(err)
				} else if rearmed {
					mu.Lock()
					rearms++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if rearms != 1 {
			t.Fatalf("%d of 8 concurrent rearms took, want 1", rearms)
		}
		items := claim(later)
		if len(items) != 1 || items[0].Attempts != 0 || !items[0].ReceivedAt.Equal(later) {
			t.Fatalf("claim after the rearm: %+v", items)
		}
	})
}
