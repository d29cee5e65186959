package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/creditd/creditd/application"
)

// WebhookInbox keeps webhook events in memory, with the PostgreSQL
// adapter's semantics: an event stored once per id, claims that lease
// events so that no two claims return one event while its lease runs.
type WebhookInbox struct {
	mu     sync.Mutex
	events map[string]*inboxRecord
}

type inboxRecord struct {
	event      application.WebhookEvent
	receivedAt time.Time
	dueAt      time.Time
	attempts   int
	lastError  string
	doneAt     *time.Time
}

var _ application.WebhookInbox = (*WebhookInbox)(nil)

// NewWebhookInbox returns an empty inbox.
func NewWebhookInbox() *WebhookInbox {
	return &WebhookInbox{events: map[string]*inboxRecord{}}
}

func (b *WebhookInbox) Add(ctx context.Context, e application.WebhookEvent, receivedAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.events[e.ID]; ok {
		return false, nil
	}
	b.events[e.ID] = &inboxRecord{event: e, receivedAt: receivedAt, dueAt: receivedAt}
	return true, nil
}

func (b *WebhookInbox) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]application.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var due []*inboxRecord
	for _, r := range b.events {
		if r.doneAt == nil && !r.dueAt.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *inboxRecord) int {
		return cmp.Or(a.dueAt.Compare(b.dueAt), cmp.Compare(a.event.ID, b.event.ID))
	})
	items := []application.InboxItem{}
	for _, r := range due[:min(max(limit, 0), len(due))] {
		items = append(items, application.InboxItem{Event: r.event, ReceivedAt: r.receivedAt, Attempts: r.attempts})
		r.attempts++
		r.dueAt = now.Add(lease)
	}
	return items, nil
}

func (b *WebhookInbox) Done(ctx context.Context, claimed application.InboxItem, now time.Time) error {
	return b.change(ctx, claimed.Event.ID, func(r *inboxRecord) {
		if r.receivedAt.Equal(claimed.ReceivedAt) {
			r.doneAt = &now
		}
	})
}

func (b *WebhookInbox) Retry(ctx context.Context, id string, at time.Time, reason string) error {
	return b.change(ctx, id, func(r *inboxRecord) { r.dueAt, r.lastError = at, reason })
}

func (b *WebhookInbox) Rearm(ctx context.Context, id string, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.events[id]
	switch {
	case !ok || r.doneAt == nil && !r.dueAt.After(now):
		return false, nil
	case r.doneAt != nil:
		r.attempts, r.lastError, r.doneAt = 0, "", nil
	}
	r.receivedAt, r.dueAt = now, now
	return true, nil
}

// change applies fn to the stored event id unless it is done or gone: a
// claimer whose lease ended may record an outcome after another one did.
func (b *WebhookInbox) change(ctx context.Context, id string, fn func(*inboxRecord)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.events[id]; ok && r.doneAt == nil {
		fn(r)
	}
	return nil
}

func (b *WebhookInbox) Stats(ctx context.Context) (application.InboxStats, error) {
	if err := ctx.Err(); err != nil {
		return application.InboxStats{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var s application.InboxStats
	for _, r := range b.events {
		if r.doneAt != nil {
			continue
		}
		s.Depth++
		if s.OldestAt == nil || r.receivedAt.Before(*s.OldestAt) {
			at := r.receivedAt
			s.OldestAt = &at
		}
	}
	return s, nil
}

func (b *WebhookInbox) DeleteDoneBefore(ctx context.Context, cutoff time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for id, r := range b.events {
		if r.doneAt != nil && r.doneAt.Before(cutoff) {
			delete(b.events, id)
			n++
		}
	}
	return n, nil
}

// LastError is the failure reason stored with an event ("" when none), for tests.
func (b *WebhookInbox) LastError(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.events[id]; ok {
		return r.lastError
	}
	return ""
}
