package memory

import (
	"context"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var _ application.ReportQueries = reportQueries{}

type reportQueries struct{ q queries }

// Summary feeds every posting of the tenant to the domain's builder: the
// straightforward reading the SQL aggregate must agree with.
func (q reportQueries) Summary(ctx context.Context, tenant domain.TenantID, w domain.ReportWindow) (domain.Summary, error) {
	var s domain.Summary
	err := q.q.s.read(ctx, func(d db) error {
		b := domain.NewSummaryBuilder(w)
		for _, t := range d.ledger.all {
			if t.tenant != tenant {
				continue
			}
			for _, p := range t.postings {
				b.Add(t.typ, t.createdAt, p)
			}
		}
		s = b.Summary(func(f domain.Funding) (domain.Money, bool) {
			id, err := domain.ParsePaymentID(f.Reference())
			if err != nil {
				return domain.Money{}, false
			}
			o, ok := d.orders.get(id)
			if !ok || o.Tenant() != tenant {
				return domain.Money{}, false
			}
			return o.Price(), true
		})
		return nil
	})
	return s, err
}
