package postgres

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/domain"
)

// uowMetrics describe the group commit. Their durations are measured with
// the monotonic clock: they time the process, not the ledger, whose times
// come from the injected clock.
type uowMetrics struct {
	units    prometheus.Histogram   // units of work per batch
	wait     prometheus.Histogram   // from WithinTx to its batch starting
	duration prometheus.Histogram   // a batch's attempt, BEGIN to COMMIT
	batches  *prometheus.CounterVec // by outcome
}

// batch outcomes, the closed set of the outcome label.
const (
	batchCommitted     = "committed"      // every unit's outcome is settled
	batchRetried       = "retried"        // a serialization failure, deadlock or lost race: run again
	batchSplit         = "split"          // failed as a whole: each unit ran again alone
	batchFailed        = "failed"         // a lone unit's transaction failed
	batchCommitUnknown = "commit_unknown" // COMMIT failed: its units get ErrUnavailable
)

func newUoWMetrics() *uowMetrics {
	return &uowMetrics{
		units: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "creditd", Subsystem: "group_commit", Name: "batch_units",
			Help:    "Units of work carried by one database transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "creditd", Subsystem: "group_commit", Name: "wait_seconds",
			Help:    "Time a unit of work waited for its database transaction to begin.",
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "creditd", Subsystem: "group_commit", Name: "batch_seconds",
			Help:    "Time one attempt of a group-commit transaction took, BEGIN to COMMIT.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "creditd", Subsystem: "group_commit", Name: "batches_total",
			Help: "Group-commit transactions by outcome: committed, retried, split (each unit ran again alone), failed, commit_unknown.",
		}, []string{"outcome"}),
	}
}

// Collectors are the adapter's metrics for db: the group commit's, the
// connection pool's, and the open holds and the orders, read from the
// database at each scrape.
func Collectors(db *bun.DB, u *UnitOfWork) []prometheus.Collector {
	m := u.metrics
	return []prometheus.Collector{m.units, m.wait, m.duration, m.batches,
		collectors.NewDBStatsCollector(db.DB, "creditd"), newHoldsCollector(db), newOrdersCollector(db)}
}

// holdsCollector reports the open holds and what they reserve, counted by
// the database: every replica reports the same, true number.
type holdsCollector struct {
	db          *bun.DB
	open, held  *prometheus.Desc
	scrapeLimit time.Duration
}

func newHoldsCollector(db *bun.DB) *holdsCollector {
	return &holdsCollector{db: db, scrapeLimit: 2 * time.Second,
		open: prometheus.NewDesc("creditd_holds_open", "Open holds (ACTIVE or PARTIALLY_CAPTURED), in the whole database.", nil, nil),
		held: prometheus.NewDesc("creditd_holds_open_credits", "Credits the open holds reserve, in the whole database.", nil, nil)}
}

func (c *holdsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.held }

// Collect leaves the gauges out when the database does not answer in time:
// a scrape must not fail or hang with it (readiness reports the database).
func (c *holdsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.scrapeLimit)
	defer cancel()
	var open int64
	var held float64
	err := c.db.NewRaw("SELECT count(*), coalesce(sum(amount - captured), 0)::float8 FROM holds WHERE open").Scan(ctx, &open, &held)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, held)
}

// ordersCollector reports the orders by status, and the rejected ones by
// reason, counted by the database. Both label sets are closed
// (domain.OrderStatuses, domain.RejectionReasons) and every value is always
// reported, zero included, so a rate or an alert never sees a series appear.
type ordersCollector struct {
	db                 *bun.DB
	byStatus, rejected *prometheus.Desc
	scrapeLimit        time.Duration
}

func newOrdersCollector(db *bun.DB) *ordersCollector {
	return &ordersCollector{db: db, scrapeLimit: 2 * time.Second,
		byStatus: prometheus.NewDesc("creditd_orders", "Purchase orders by status, in the whole database.", []string{"status"}, nil),
		rejected: prometheus.NewDesc("creditd_orders_rejected",
			"Rejected orders (a payment that did not match its order) by what did not match, in the whole database.", []string{"reason"}, nil)}
}

func (c *ordersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.byStatus; ch <- c.rejected }

// Collect leaves the gauges out when the database does not answer in time,
// as the holds' do.
func (c *ordersCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.scrapeLimit)
	defer cancel()
	var rows []struct {
		Status    string `bun:"status"`
		Rejection string `bun:"rejection"`
		N         int64  `bun:"n"`
	}
	err := c.db.NewRaw("SELECT status, coalesce(rejection, '') AS rejection, count(*) AS n FROM orders GROUP BY 1, 2").Scan(ctx, &rows)
	if err != nil {
		return
	}
	byStatus, byReason := map[string]int64{}, map[string]int64{}
	for _, r := range rows {
		byStatus[r.Status] += r.N
		if r.Status == domain.OrderRejected.String() {
			byReason[r.Rejection] += r.N
		}
	}
	for _, st := range domain.OrderStatuses { // a status outside the set cannot be stored (orders_status_known)
		ch <- prometheus.MustNewConstMetric(c.byStatus, prometheus.GaugeValue, float64(byStatus[st.String()]), st.String())
	}
	for _, reason := range domain.RejectionReasons {
		ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.GaugeValue, float64(byReason[string(reason)]), string(reason))
	}
}
