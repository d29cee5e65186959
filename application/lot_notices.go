package application

import (
	"context"
	"time"

	"github.com/creditd/creditd/domain"
)

// LotNotices tells accounts of their lots about to expire: one lots.expiring
// event per account and sweep, naming each lot once ever, when the lot comes
// within its tenant's notice (TenantSettings.LotsExpiringNotice) of expiry.
type LotNotices struct {
	store LotExpiryNotices
	ids   IDGenerator
	clock Clock
}

// NewLotNotices builds the notices' sweep.
func NewLotNotices(store LotExpiryNotices, ids IDGenerator, clock Clock) *LotNotices {
	return &LotNotices{store: store, ids: ids, clock: clock}
}

// LotExpiryNotices finds lots about to expire that no event told of yet.
type LotExpiryNotices interface {
	// Notice, in one transaction: picks up to limit lots with credits left
	// that expire after now and within their tenant's notice of it, and that
	// no notice named yet (the earliest expiry first), records them as
	// noticed, and appends to the outbox the events events makes of them. Two
	// replicas noticing at once never both notice one lot.
	Notice(ctx context.Context, now time.Time, limit int, events func([]DueLot) []Event) (int, error)
}

// DueLot is a lot about to expire.
type DueLot struct {
	Tenant    domain.TenantID
	Account   domain.AccountID
	Lot       domain.LotID
	Source    domain.LotSource
	Remaining domain.Credits
	ExpiresAt time.Time
}

// Sweep notices up to batch lots.
func (n *LotNotices) Sweep(ctx context.Context, batch int) (Sweep, error) {
	now := n.clock.Now()
	count, err := n.store.Notice(ctx, now, batch, func(lots []DueLot) []Event { return n.events(lots, now) })
	return Sweep{Due: count, Changed: count}, err
}

// events groups the lots by account, in the order the accounts first appear.
func (n *LotNotices) events(lots []DueLot, now time.Time) []Event {
	type accountKey struct {
		tenant  domain.TenantID
		account domain.AccountID
	}
	var order []accountKey
	byAccount := map[accountKey][]ExpiringLot{}
	for _, l := range lots {
		k := accountKey{l.Tenant, l.Account}
		if _, ok := byAccount[k]; !ok {
			order = append(order, k)
		}
		byAccount[k] = append(byAccount[k], ExpiringLot{LotID: l.Lot.String(), Source: l.Source.String(),
			Remaining: l.Remaining.String(), ExpiresAt: l.ExpiresAt})
	}
	events := make([]Event, 0, len(order))
	for _, k := range order {
		events = append(events, Event{ID: n.ids.NewID(), Type: domain.EventLotsExpiring, Tenant: k.tenant, Account: k.account,
			OccurredAt: now, Data: LotsData{AccountID: k.account.String(), Lots: byAccount[k]}})
	}
	return events
}
