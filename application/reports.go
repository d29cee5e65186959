package application

import (
	"context"

	"github.com/creditd/creditd/domain"
)

// ReportQueries compute tenant-wide reports from the postings.
type ReportQueries interface {
	// Summary is the tenant's finance summary over w, from one snapshot.
	Summary(ctx context.Context, tenant domain.TenantID, w domain.ReportWindow) (domain.Summary, error)
}

// Reports answers finance questions about a tenant's ledger.
type Reports struct{ queries ReportQueries }

// NewReports builds the reports use case.
func NewReports(queries Queries) *Reports { return &Reports{queries: queries.Reports} }

// Summary reports credits granted, consumed, expired, refunded and reversed
// within w, and what was outstanding at its end, with its deferred revenue.
func (r *Reports) Summary(ctx context.Context, tenant domain.TenantID, w domain.ReportWindow) (domain.Summary, error) {
	return r.queries.Summary(ctx, tenant, w)
}
