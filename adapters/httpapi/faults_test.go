package httpapi_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// dbFaults makes the memory store behave like a database that is down, slow
// or frozen, behind the same ports the PostgreSQL adapter implements.
type dbFaults struct {
	down     atomic.Bool
	failNext atomic.Int32 // so many calls fail, as in a brief outage
	delay    atomic.Int64 // each call waits this long first

	mu     sync.Mutex
	thawed chan struct{} // nil unless frozen; closed by thaw
}

// errConnRefused is what the PostgreSQL adapter makes of a refused connection.
var errConnRefused = fmt.Errorf("find API key: %w: dial tcp 10.1.2.3:5432: connect: connection refused", application.ErrUnavailable)

// freeze makes every call wait until thaw, or until its context ends, as the
// PostgreSQL adapter's calls do when the database takes connections and
// never answers.
func (f *dbFaults) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.thawed == nil {
		f.thawed = make(chan struct{})
	}
}

func (f *dbFaults) thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.thawed != nil {
		close(f.thawed)
		f.thawed = nil
	}
}

// call is what each faulty port does before calling through.
func (f *dbFaults) call(ctx context.Context) error {
	f.mu.Lock()
	thawed := f.thawed
	f.mu.Unlock()
	if thawed != nil {
		select {
		case <-thawed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(time.Duration(f.delay.Load()))
	if f.down.Load() || f.failNext.Add(-1) >= 0 {
		return errConnRefused
	}
	return nil
}

// withFaults puts f between the use cases and the memory store.
func withFaults(f *dbFaults) harnessOption {
	return func(d *httpapi.Deps, h *harness) {
		uow, queries := faultyUoW{h.store.UnitOfWork(), f}, faultyQueries(h.store.Queries(), f)
		d.Accounts = application.NewAccounts(uow, queries, h.clock, h.ids)
		d.Holds = application.NewHolds(uow, queries, h.clock, h.ids)
		d.APIKeys = application.NewAPIKeys(faultyKeys{h.store.APIKeys(), f}, h.clock, h.ids)
		d.Catalog = application.NewCatalog(faultyProducts{h.store.Products(), f}, h.clock)
		d.Reconciliations = application.NewReconciliationLog(faultyReports{h.reports, f})
		d.Orders = application.NewOrders(uow, queries, faultyProducts{h.store.Products(), f}, application.PaymentGateways{domain.GatewayPortOneV2: h.gateway, domain.GatewayPortOneV1: h.v1}, h.clock, h.ids, ordersConfig)
		d.Reversals = application.NewReversals(uow, queries, h.clock, h.ids, reversalsConfig)
		h.t.Cleanup(f.thaw)
	}
}

// withSlowWrites makes every unit of work take d.
func withSlowWrites(d time.Duration) harnessOption {
	return func(deps *httpapi.Deps, h *harness) {
		f := &dbFaults{}
		f.delay.Store(int64(d))
		uow := faultyUoW{h.store.UnitOfWork(), f}
		deps.Accounts = application.NewAccounts(uow, h.store.Queries(), h.clock, h.ids)
		deps.Holds = application.NewHolds(uow, h.store.Queries(), h.clock, h.ids)
	}
}

type faultyUoW struct {
	application.UnitOfWork
	f *dbFaults
}

func (u faultyUoW) WithinTx(ctx context.Context, scope application.Scope, fn func(context.Context, application.Repos) error) error {
	if err := u.f.call(ctx); err != nil {
		return err
	}
	return u.UnitOfWork.WithinTx(ctx, scope, fn)
}

func faultyQueries(q application.Queries, f *dbFaults) application.Queries {
	return application.Queries{Wallets: faultyWallets{q.Wallets, f}, Ledger: faultyLedger{q.Ledger, f},
		Holds: faultyHolds{q.Holds, f}, Idempotency: faultyIdempotency{q.Idempotency, f}, Orders: faultyOrders{q.Orders, f},
		Lookups: faultyLookups{q.Lookups, f}}
}

type faultyOrders struct {
	application.OrderQueries
	f *dbFaults
}

func (o faultyOrders) Get(ctx context.Context, id domain.PaymentID) (*domain.Order, error) {
	if err := o.f.call(ctx); err != nil {
		return nil, err
	}
	return o.OrderQueries.Get(ctx, id)
}

func (o faultyOrders) List(ctx context.Context, f application.OrderFilter, limit int) ([]*domain.Order, error) {
	if err := o.f.call(ctx); err != nil {
		return nil, err
	}
	return o.OrderQueries.List(ctx, f, limit)
}

type faultyWallets struct {
	application.WalletQueries
	f *dbFaults
}

func (w faultyWallets) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if err := w.f.call(ctx); err != nil {
		return nil, err
	}
	return w.WalletQueries.Get(ctx, tenant, account)
}

func (w faultyWallets) GetWithOpenHolds(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, []*domain.Hold, error) {
	if err := w.f.call(ctx); err != nil {
		return nil, nil, err
	}
	return w.WalletQueries.GetWithOpenHolds(ctx, tenant, account)
}

type faultyLedger struct {
	application.LedgerQueries
	f *dbFaults
}

func (l faultyLedger) Get(ctx context.Context, tenant domain.TenantID, id domain.TransactionID) (domain.Transaction, error) {
	if err := l.f.call(ctx); err != nil {
		return domain.Transaction{}, err
	}
	return l.LedgerQueries.Get(ctx, tenant, id)
}

func (l faultyLedger) Reversals(ctx context.Context, ids []domain.TransactionID) (map[domain.TransactionID]application.ReversalInfo, error) {
	if err := l.f.call(ctx); err != nil {
		return nil, err
	}
	return l.LedgerQueries.Reversals(ctx, ids)
}

type faultyHolds struct {
	application.HoldQueries
	f *dbFaults
}

func (h faultyHolds) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	if err := h.f.call(ctx); err != nil {
		return nil, err
	}
	return h.HoldQueries.Get(ctx, tenant, id)
}

func (h faultyHolds) GetWithCaptures(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, []domain.HoldCapture, error) {
	if err := h.f.call(ctx); err != nil {
		return nil, nil, err
	}
	return h.HoldQueries.GetWithCaptures(ctx, tenant, id)
}

type faultyIdempotency struct {
	application.IdempotencyQueries
	f *dbFaults
}

func (i faultyIdempotency) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	if err := i.f.call(ctx); err != nil {
		return application.IdempotencyRecord{}, err
	}
	return i.IdempotencyQueries.Get(ctx, tenant, key)
}

type faultyKeys struct {
	application.APIKeyStore
	f *dbFaults
}

func (k faultyKeys) FindActive(ctx context.Context, hash []byte) (application.StoredAPIKey, error) {
	if err := k.f.call(ctx); err != nil {
		return application.StoredAPIKey{}, err
	}
	return k.APIKeyStore.FindActive(ctx, hash)
}

type faultyReports struct {
	application.ReconciliationReports
	f *dbFaults
}

func (r faultyReports) List(ctx context.Context, tenant domain.TenantID, limit int, before *domain.ReconciliationID) ([]application.ReconciliationReport, error) {
	if err := r.f.call(ctx); err != nil {
		return nil, err
	}
	return r.ReconciliationReports.List(ctx, tenant, limit, before)
}

// faultyLookups fails every lookup while the database is down.
type faultyLookups struct {
	q application.LookupQueries
	f *dbFaults
}

func (l faultyLookups) Wallets(ctx context.Context, tenant domain.TenantID, after *domain.AccountID, limit int) ([]application.WalletWithHolds, error) {
	if err := l.f.call(ctx); err != nil {
		return nil, err
	}
	return l.q.Wallets(ctx, tenant, after, limit)
}

func (l faultyLookups) History(ctx context.Context, f application.HistoryFilter, limit int) ([]domain.Transaction, error) {
	if err := l.f.call(ctx); err != nil {
		return nil, err
	}
	return l.q.History(ctx, f, limit)
}

func (l faultyLookups) Holds(ctx context.Context, f application.HoldFilter, limit int) ([]application.HoldView, error) {
	if err := l.f.call(ctx); err != nil {
		return nil, err
	}
	return l.q.Holds(ctx, f, limit)
}

func (l faultyLookups) Lots(ctx context.Context, f application.LotFilter, limit int) ([]application.LotOfAccount, error) {
	if err := l.f.call(ctx); err != nil {
		return nil, err
	}
	return l.q.Lots(ctx, f, limit)
}
