package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// LotNoticeStore records which lots a lots.expiring event named.
type LotNoticeStore struct{ db *bun.DB }

var _ application.LotExpiryNotices = (*LotNoticeStore)(nil)

// NewLotNoticeStore binds the store to db.
func NewLotNoticeStore(db *bun.DB) *LotNoticeStore { return &LotNoticeStore{db: db} }

type dueLotRow struct {
	ID        uuid.UUID       `bun:"id"`
	TenantID  uuid.UUID       `bun:"tenant_id"`
	AccountID string          `bun:"account_id"`
	Source    string          `bun:"source"`
	Remaining decimal.Decimal `bun:"remaining"`
	ExpiresAt time.Time       `bun:"expires_at"`
}

// Notice claims lots by inserting their notices: of two replicas inserting
// one lot's notice at once, the second waits for the first and then inserts
// nothing, so each lot is noticed once. Lots themselves are not locked: a
// notice must never wait for, or hold up, a spend.
//
// The scan walks lots_expiring from now to the longest notice any tenant
// chose (7 days unless changed), skipping lots noticed already.
func (s *LotNoticeStore) Notice(ctx context.Context, now time.Time, limit int, events func([]application.DueLot) []application.Event) (int, error) {
	var n int
	err := s.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(ctx context.Context, tx bun.Tx) error {
		var rows []dueLotRow
		err := tx.NewRaw(`
			WITH candidates AS (
				SELECT l.id, w.tenant_id, w.account_id, l.source, l.remaining, l.expires_at
				FROM lots l JOIN wallets w ON w.id = l.wallet_id JOIN tenants t ON t.id = w.tenant_id
				WHERE l.open AND l.expires_at > ?0::timestamptz AND l.expires_at <= ?0::timestamptz + (SELECT max(lots_expiring_notice) FROM tenants)
				  AND l.expires_at <= ?0::timestamptz + t.lots_expiring_notice
				  AND NOT EXISTS (SELECT 1 FROM lot_expiry_notices n WHERE n.lot_id = l.id)
				ORDER BY l.expires_at, l.id LIMIT ?1),
			noticed AS (
				INSERT INTO lot_expiry_notices (lot_id, notified_at) SELECT id, ?0::timestamptz FROM candidates
				ON CONFLICT (lot_id) DO NOTHING RETURNING lot_id)
			SELECT c.* FROM candidates c JOIN noticed ON noticed.lot_id = c.id ORDER BY c.expires_at, c.id`, now, limit).
			Scan(ctx, &rows)
		if err != nil {
			return err
		}
		if n = len(rows); n == 0 {
			return nil
		}
		due := make([]application.DueLot, len(rows))
		for i, r := range rows {
			if due[i], err = r.toDomain(); err != nil {
				return err
			}
		}
		evs := events(due)
		eventRows := make([]eventRow, len(evs))
		for i, e := range evs {
			eventRows[i] = toEventRow(e)
		}
		return execWrites(ctx, tx, "store lots.expiring events", []tableWrite{eventsTable.write(eventRows)})
	})
	if err != nil {
		return 0, translate(err, "notice expiring lots")
	}
	return n, nil
}

func (r dueLotRow) toDomain() (application.DueLot, error) {
	account, err := domain.ParseAccountID(r.AccountID)
	if err != nil {
		return application.DueLot{}, err
	}
	source, err := domain.LotSourceFromString(r.Source)
	if err != nil {
		return application.DueLot{}, err
	}
	remaining, err := credits(r.Remaining, "lot remaining")
	if err != nil {
		return application.DueLot{}, err
	}
	return application.DueLot{Tenant: domain.TenantID(r.TenantID), Account: account, Lot: domain.LotID(r.ID), Source: source,
		Remaining: remaining, ExpiresAt: r.ExpiresAt.UTC()}, nil
}
