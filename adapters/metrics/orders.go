package metrics

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// OrderObserver logs and counts every change a sync commits to an order:
// creditd_order_changes_total{from,to}, and a warning for each rejection,
// which means a payment did not match its order.
type OrderObserver struct {
	changes *prometheus.CounterVec
	log     *slog.Logger
}

var _ application.OrderObserver = (*OrderObserver)(nil)

// NewOrderObserver registers the counter with reg.
func NewOrderObserver(reg prometheus.Registerer, log *slog.Logger) (*OrderObserver, error) {
	o := &OrderObserver{log: log, changes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "creditd", Name: "order_changes_total",
		Help: "Order status changes committed by syncs, by the status before and after (the same for a refund or cancellation that keeps it).",
	}, []string{"from", "to"})}
	if err := reg.Register(o.changes); err != nil {
		return nil, fmt.Errorf("register the order metrics: %w", err)
	}
	return o, nil
}

func (o *OrderObserver) OrderChanged(order *domain.Order, from domain.OrderStatus) {
	to := order.Status()
	o.changes.WithLabelValues(from.String(), to.String()).Inc() // both from domain.OrderStatuses: a closed set
	attrs := []any{"paymentId", order.PaymentID().String(), "tenant", order.Tenant().String(), "from", from.String(), "to", to.String()}
	if to == domain.OrderRejected && from != to {
		o.log.Warn("payment rejected: it does not match its order", append(attrs, "mismatch", string(order.Rejection()))...)
		return
	}
	o.log.Info("order changed", attrs...)
}
