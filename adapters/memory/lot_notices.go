package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var _ application.LotExpiryNotices = lotNotices{}

// LotNotices records which lots a lots.expiring event named.
func (s *Store) LotNotices() application.LotExpiryNotices { return lotNotices{s} }

type lotNotices struct{ s *Store }

func (n lotNotices) Notice(ctx context.Context, now time.Time, limit int, events func([]application.DueLot) []application.Event) (int, error) {
	var count int
	err := n.s.write(ctx, func(tx db) error {
		var due []application.DueLot
		for _, w := range tx.wallets.all {
			notice, err := settingsStore{n.s.keys}.Get(ctx, w.tenant)
			if errors.Is(err, domain.ErrNotFound) { // a wallet of a tenant the key store never made: tests only
				notice.LotsExpiringNotice = application.DefaultLotsExpiringNotice
			} else if err != nil {
				return err
			}
			for _, l := range w.lots {
				_, noticed := tx.notices.get(l.id)
				if noticed || !l.remaining.IsPositive() || !l.expires || !l.expiresAt.After(now) || l.expiresAt.After(now.Add(notice.LotsExpiringNotice)) {
					continue
				}
				due = append(due, application.DueLot{Tenant: w.tenant, Account: w.account, Lot: l.id, Source: l.source,
					Remaining: l.remaining, ExpiresAt: l.expiresAt})
			}
		}
		slices.SortFunc(due, func(a, b application.DueLot) int {
			return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), slices.Compare(a.Lot[:], b.Lot[:]))
		})
		due = due[:min(len(due), limit)]
		if count = len(due); count == 0 {
			return nil
		}
		for _, l := range due {
			tx.notices.put(l.Lot, now)
		}
		return eventRepo{txRepos{tx: tx}}.Append(ctx, events(due)...)
	})
	return count, err
}
