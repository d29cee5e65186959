package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// SettingsStore keeps tenants' event settings, in their tenants rows. Each
// call is a transaction of its own.
type SettingsStore struct{ db *bun.DB }

var _ application.TenantSettingsStore = (*SettingsStore)(nil)

// NewSettingsStore binds the settings store to db.
func NewSettingsStore(db *bun.DB) *SettingsStore { return &SettingsStore{db: db} }

func (s *SettingsStore) Get(ctx context.Context, tenant domain.TenantID) (application.TenantSettings, error) {
	var row struct {
		Threshold *decimal.Decimal `bun:"low_balance_threshold"`
		Notice    int64            `bun:"notice_seconds"`
	}
	err := s.db.NewRaw(`SELECT low_balance_threshold, extract(epoch FROM lots_expiring_notice)::bigint AS notice_seconds
		FROM tenants WHERE id = ?`, uuid.UUID(tenant)).Scan(ctx, &row)
	if err != nil {
		return application.TenantSettings{}, translate(err, "read event settings")
	}
	out := application.TenantSettings{LotsExpiringNotice: time.Duration(row.Notice) * time.Second}
	if row.Threshold != nil {
		if out.LowBalanceThreshold, err = credits(*row.Threshold, "tenant low-balance threshold"); err != nil {
			return application.TenantSettings{}, err
		}
	}
	return out, nil
}

func (s *SettingsStore) Put(ctx context.Context, tenant domain.TenantID, settings application.TenantSettings) error {
	res, err := s.db.NewRaw(`UPDATE tenants SET low_balance_threshold = ?, lots_expiring_notice = make_interval(secs => ?) WHERE id = ?`,
		optionalDecimal(settings.LowBalanceThreshold), settings.LotsExpiringNotice.Seconds(), uuid.UUID(tenant)).Exec(ctx)
	if err != nil {
		return translate(err, "store event settings")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("tenant %s: %w", tenant, domain.ErrNotFound)
	}
	return nil
}
