package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var (
	_ application.OrderRepository = orderRepo{}
	_ application.OrderQueries    = orderQueries{}
)

// Orders are stored as values (domain.Order copied by value) and handed out
// as fresh copies, so no caller aliases a stored order.

type orderRepo struct{ t txRepos }

func (r orderRepo) Get(_ context.Context, id domain.PaymentID) (*domain.Order, error) {
	if !r.t.scope.orders[id] {
		return nil, fmt.Errorf("order %s: %w", id, application.ErrOutOfScope)
	}
	o, ok := r.t.tx.orders.get(id)
	if !ok {
		return nil, fmt.Errorf("order %s: %w", id, domain.ErrNotFound)
	}
	return &o, nil
}

func (r orderRepo) Save(_ context.Context, o *domain.Order) error {
	if !r.t.scope.orders[o.PaymentID()] {
		return fmt.Errorf("order %s: %w", o.PaymentID(), application.ErrOutOfScope)
	}
	r.t.tx.orders.put(o.PaymentID(), *o)
	return nil
}

type orderQueries struct{ q queries }

func (q orderQueries) Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error) {
	var out *domain.Order
	err := q.q.s.read(ctx, func(d db) error {
		o, ok := d.orders.get(id)
		if !ok {
			return fmt.Errorf("order %s: %w", id, domain.ErrNotFound)
		}
		out = &o
		return nil
	})
	return out, err
}

func (q orderQueries) List(ctx context.Context, f application.OrderFilter, limit int) ([]*domain.Order, error) {
	var out []*domain.Order
	err := q.q.s.read(ctx, func(d db) error {
		for _, o := range d.orders.all {
			if matches(&o, f) {
				out = append(out, &o)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *domain.Order) int {
		return cmp.Or(a.UpdatedAt().Compare(b.UpdatedAt()), cmp.Compare(a.PaymentID().String(), b.PaymentID().String()))
	})
	return out[:min(limit, len(out))], err
}

func matches(o *domain.Order, f application.OrderFilter) bool {
	switch {
	case o.Tenant() != f.Tenant,
		f.Account != nil && o.Account() != *f.Account,
		f.Status != nil && o.Status() != *f.Status,
		f.UpdatedSince != nil && o.UpdatedAt().Before(*f.UpdatedSince):
		return false
	case f.After != nil:
		c := cmp.Or(o.UpdatedAt().Compare(f.After.UpdatedAt), cmp.Compare(o.PaymentID().String(), f.After.Payment.String()))
		return c > 0
	}
	return true
}
