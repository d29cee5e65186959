// Package metrics is creditd's Prometheus registry and the application's
// Meter on it: what the ledger moved, by transaction type and by the source
// of the credits. Other adapters register their own collectors (HTTP
// requests, group commit, sweeps) with the same registry.
//
// Every label takes its values from a closed set, never from a request, so
// no client can grow the number of series.
package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// NewRegistry is the registry /metrics serves, with Go and process metrics.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// LedgerMeter counts committed transactions and the credits they moved.
type LedgerMeter struct {
	transactions *prometheus.CounterVec
	credits      *prometheus.CounterVec
	// The counters of every label pair, looked up once: Committed runs on
	// every request's path.
	byType       map[domain.TransactionType]prometheus.Counter
	byTypeSource map[typeSource]prometheus.Counter
}

type typeSource struct {
	typ    domain.TransactionType
	source domain.LotSource
}

var (
	transactionTypes = []domain.TransactionType{domain.TransactionGrant, domain.TransactionSpend, domain.TransactionCapture, domain.TransactionExpiration}
	lotSources       = []domain.LotSource{domain.LotPaid, domain.LotBonus}
)

var _ application.Meter = (*LedgerMeter)(nil)

// NewLedgerMeter registers the ledger's counters with reg.
func NewLedgerMeter(reg prometheus.Registerer) (*LedgerMeter, error) {
	m := &LedgerMeter{
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "creditd", Subsystem: "ledger", Name: "transactions_total",
			Help: "Committed ledger transactions, by type (GRANT, SPEND, CAPTURE, EXPIRATION).",
		}, []string{"type"}),
		// Prometheus counts in float64: these are for dashboards, never read
		// back by the ledger, whose amounts stay decimal.
		credits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "creditd", Subsystem: "ledger", Name: "credits_total",
			Help: "Credits moved into (GRANT) or out of (SPEND, CAPTURE, EXPIRATION) wallets, by transaction type and source of the credits (paid, bonus).",
		}, []string{"type", "source"}),
	}
	for _, c := range []prometheus.Collector{m.transactions, m.credits} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register the ledger metrics: %w", err)
		}
	}
	m.byType, m.byTypeSource = map[domain.TransactionType]prometheus.Counter{}, map[typeSource]prometheus.Counter{}
	for _, t := range transactionTypes {
		m.byType[t] = m.transactions.WithLabelValues(t.String())
		for _, s := range lotSources {
			m.byTypeSource[typeSource{t, s}] = m.credits.WithLabelValues(t.String(), s.String())
		}
	}
	return m, nil
}

// Transactions and Credits are the counters, for tests.
func (m *LedgerMeter) Transactions() *prometheus.CounterVec { return m.transactions }
func (m *LedgerMeter) Credits() *prometheus.CounterVec      { return m.credits }

// Committed counts each transaction and the credits its wallet postings moved.
func (m *LedgerMeter) Committed(txs []domain.Transaction) {
	for _, t := range txs {
		m.transactionCounter(t.Type()).Inc()
		for _, p := range t.Postings() {
			if p.IsSystem() {
				continue
			}
			amount, _ := p.Amount.Decimal().Abs().Float64()
			m.creditsCounter(t.Type(), p.LotSource).Add(amount)
		}
	}
}

// transactionCounter and creditsCounter keep labels to their closed sets,
// should the domain ever hand over a value this adapter does not know.
func (m *LedgerMeter) transactionCounter(t domain.TransactionType) prometheus.Counter {
	if c, ok := m.byType[t]; ok {
		return c
	}
	return m.transactions.WithLabelValues("OTHER")
}

func (m *LedgerMeter) creditsCounter(t domain.TransactionType, s domain.LotSource) prometheus.Counter {
	if c, ok := m.byTypeSource[typeSource{t, s}]; ok {
		return c
	}
	return m.credits.WithLabelValues("OTHER", "other")
}
