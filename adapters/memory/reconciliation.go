package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// ReconciliationReports keeps reconciliation reports in memory. Nothing
// writes them inside a unit of work, so they have a lock of their own.
type ReconciliationReports struct {
	mu   sync.Mutex
	runs []application.ReconciliationReport // in the order saved
}

var _ application.ReconciliationReports = (*ReconciliationReports)(nil)

// NewReconciliationReports returns an empty report store.
func NewReconciliationReports() *ReconciliationReports { return &ReconciliationReports{} }

func (s *ReconciliationReports) Save(ctx context.Context, r application.ReconciliationReport) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, run := range s.runs {
		if run.ID == r.ID {
			return fmt.Errorf("reconciliation run %s: %w: saved already", r.ID, errConstraint)
		}
	}
	seen := map[domain.PaymentID]bool{}
	for _, f := range r.Findings {
		if seen[f.Payment] {
			return fmt.Errorf("reconciliation run %s: %w: two findings about payment %s", r.ID, errConstraint, f.Payment)
		}
		seen[f.Payment] = true
	}
	r.Findings = slices.Clone(r.Findings)
	s.runs = append(s.runs, r)
	return nil
}

func (s *ReconciliationReports) List(ctx context.Context, tenant domain.TenantID, limit int, before *domain.ReconciliationID) ([]application.ReconciliationReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []application.ReconciliationReport
	for _, run := range s.runs {
		if before != nil && bytes.Compare(run.ID[:], before[:]) >= 0 {
			continue
		}
		var mine []application.ReconciliationFinding
		for _, f := range run.Findings {
			if f.Tenant == tenant {
				mine = append(mine, f)
			}
		}
		// Found in order, as PostgreSQL lists them.
		slices.SortStableFunc(mine, func(a, b application.ReconciliationFinding) int {
			if c := a.FoundAt.Compare(b.FoundAt); c != 0 {
				return c
			}
			return bytes.Compare([]byte(a.Payment.String()), []byte(b.Payment.String()))
		})
		run.Findings = mine
		out = append(out, run)
	}
	slices.SortFunc(out, func(a, b application.ReconciliationReport) int { return bytes.Compare(b.ID[:], a.ID[:]) })
	return out[:min(limit, len(out))], nil
}
