package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// ReconciliationStore keeps reconciliation reports, outside any unit of
// work: each Save is a transaction of its own.
type ReconciliationStore struct{ db *bun.DB }

var _ application.ReconciliationReports = (*ReconciliationStore)(nil)

// NewReconciliationStore binds the report store to db.
func NewReconciliationStore(db *bun.DB) *ReconciliationStore { return &ReconciliationStore{db: db} }

type reconciliationRunRow struct {
	bun.BaseModel `bun:"table:reconciliation_runs"`

	ID              uuid.UUID `bun:"id,pk,type:uuid"`
	StartedAt       time.Time `bun:"started_at"`
	FinishedAt      time.Time `bun:"finished_at"`
	WindowStart     time.Time `bun:"window_start"`
	WindowEnd       time.Time `bun:"window_end"`
	PaymentsSeen    int       `bun:"payments_seen"`
	UnknownPayments int       `bun:"unknown_payments"`
	Error           *string   `bun:"error"`
}

type reconciliationFindingRow struct {
	bun.BaseModel `bun:"table:reconciliation_findings"`

	RunID         uuid.UUID `bun:"run_id,pk,type:uuid"`
	PaymentID     string    `bun:"payment_id,pk"`
	TenantID      uuid.UUID `bun:"tenant_id,type:uuid"`
	StatusBefore  string    `bun:"status_before"`
	StatusAfter   string    `bun:"status_after"`
	PaymentStatus string    `bun:"payment_status"`
	ErrorKind     *string   `bun:"error_kind"`
	Error         *string   `bun:"error"`
	FoundAt       time.Time `bun:"found_at"`
}

func optionalText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *ReconciliationStore) Save(ctx context.Context, r application.ReconciliationReport) error {
	run := reconciliationRunRow{ID: uuid.UUID(r.ID), StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, WindowStart: r.WindowStart,
		WindowEnd: r.WindowEnd, PaymentsSeen: r.PaymentsSeen, UnknownPayments: r.UnknownPayments, Error: optionalText(r.Error)}
	findings := make([]reconciliationFindingRow, len(r.Findings))
	for i, f := range r.Findings {
		findings[i] = reconciliationFindingRow{RunID: run.ID, PaymentID: f.Payment.String(), TenantID: uuid.UUID(f.Tenant),
			StatusBefore: f.StatusBefore.String(), StatusAfter: f.StatusAfter.String(), PaymentStatus: string(f.PaymentStatus),
			ErrorKind: optionalText(string(f.ErrorKind)), Error: optionalText(f.Error), FoundAt: f.FoundAt}
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&run).Exec(ctx); err != nil {
			return err
		}
		if len(findings) == 0 {
			return nil
		}
		_, err := tx.NewInsert().Model(&findings).Exec(ctx)
		return err
	})
	return translate(err, fmt.Sprintf("save reconciliation report %s", r.ID))
}

func (s *ReconciliationStore) List(ctx context.Context, tenant domain.TenantID, limit int, before *domain.ReconciliationID) ([]application.ReconciliationReport, error) {
	var runs []reconciliationRunRow
	var findings []reconciliationFindingRow
	// One snapshot, so a run and its findings are read as saved together.
	err := s.db.RunInTx(ctx, &txReadOnlySnapshot, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(&runs).OrderExpr("id DESC").Limit(int64(limit))
		if before != nil {
			q = q.Where("id < ?", uuid.UUID(*before))
		}
		if err := q.Scan(ctx); err != nil || len(runs) == 0 {
			return err
		}
		ids := make([]uuid.UUID, len(runs))
		for i, r := range runs {
			ids[i] = r.ID
		}
		return tx.NewSelect().Model(&findings).Where("run_id IN (?) AND tenant_id = ?", bun.List(ids), uuid.UUID(tenant)).
			OrderExpr("found_at, payment_id").Scan(ctx)
	})
	if err != nil {
		return nil, translate(err, "list reconciliation reports")
	}
	byRun := map[uuid.UUID][]application.ReconciliationFinding{}
	for _, row := range findings {
		f, err := row.toFinding()
		if err != nil {
			return nil, fmt.Errorf("reconciliation run %s: %w", row.RunID, err)
		}
		byRun[row.RunID] = append(byRun[row.RunID], f)
	}
	out := make([]application.ReconciliationReport, len(runs))
	for i, r := range runs {
		out[i] = application.ReconciliationReport{ID: domain.ReconciliationID(r.ID), StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC(),
			WindowStart: r.WindowStart.UTC(), WindowEnd: r.WindowEnd.UTC(), PaymentsSeen: r.PaymentsSeen, UnknownPayments: r.UnknownPayments,
			Findings: byRun[r.ID]}
		if r.Error != nil {
			out[i].Error = *r.Error
		}
	}
	return out, nil
}

func (row reconciliationFindingRow) toFinding() (application.ReconciliationFinding, error) {
	id, err := domain.ParsePaymentID(row.PaymentID)
	if err != nil {
		return application.ReconciliationFinding{}, err
	}
	before, err := domain.OrderStatusFromString(row.StatusBefore)
	if err != nil {
		return application.ReconciliationFinding{}, err
	}
	after, err := domain.OrderStatusFromString(row.StatusAfter)
	if err != nil {
		return application.ReconciliationFinding{}, err
	}
	f := application.ReconciliationFinding{Payment: id, Tenant: domain.TenantID(row.TenantID), StatusBefore: before, StatusAfter: after,
		PaymentStatus: domain.PaymentStatus(row.PaymentStatus), FoundAt: row.FoundAt.UTC()}
	if row.ErrorKind != nil {
		f.ErrorKind = application.FindingError(*row.ErrorKind)
	}
	if row.Error != nil {
		f.Error = *row.Error
	}
	return f, nil
}
