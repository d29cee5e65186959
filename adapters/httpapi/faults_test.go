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

// freeze makes every call wait, ignoring its context as a batch of the
// group commit does, until thaw.
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
func (f *dbFaults) call() error {
	f.mu.Lock()
	thawed := f.thawed
	f.mu.Unlock()
	if thawed != nil {
		<-thawed
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
		uow, reads := faultyUoW{h.store.UnitOfWork(), f}, faultyRepos(h.store.Repos(), f)
		d.Accounts = application.NewAccounts(uow, reads, h.clock, h.ids)
		d.Holds = application.NewHolds(uow, reads, h.clock, h.ids)
		d.APIKeys = application.NewAPIKeys(faultyKeys{h.store.APIKeys(), f}, h.clock, h.ids)
		h.t.Cleanup(f.thaw)
	}
}

// withSlowWrites makes every unit of work take d.
func withSlowWrites(d time.Duration) harnessOption {
	return func(deps *httpapi.Deps, h *harness) {
		f := &dbFaults{}
		f.delay.Store(int64(d))
		uow := faultyUoW{h.store.UnitOfWork(), f}
		deps.Accounts = application.NewAccounts(uow, h.store.Repos(), h.clock, h.ids)
		deps.Holds = application.NewHolds(uow, h.store.Repos(), h.clock, h.ids)
	}
}

type faultyUoW struct {
	application.UnitOfWork
	f *dbFaults
}

func (u faultyUoW) WithinTx(ctx context.Context, scope application.Scope, fn func(context.Context, application.Repos) error) error {
	if err := u.f.call(); err != nil {
		return err
	}
	return u.UnitOfWork.WithinTx(ctx, scope, fn)
}

func faultyRepos(r application.Repos, f *dbFaults) application.Repos {
	return application.Repos{Wallets: faultyWallets{r.Wallets, f}, Ledger: faultyLedger{r.Ledger, f},
		Holds: faultyHolds{r.Holds, f}, Idempotency: faultyIdempotency{r.Idempotency, f}}
}

type faultyWallets struct {
	application.WalletRepository
	f *dbFaults
}

func (w faultyWallets) Get(ctx context.Context, tenant domain.TenantID, account domain.AccountID) (*domain.Wallet, error) {
	if err := w.f.call(); err != nil {
		return nil, err
	}
	return w.WalletRepository.Get(ctx, tenant, account)
}

type faultyLedger struct {
	application.LedgerRepository
	f *dbFaults
}

func (l faultyLedger) History(ctx context.Context, wallet domain.WalletID, before *domain.TransactionID, limit int) ([]domain.Transaction, error) {
	if err := l.f.call(); err != nil {
		return nil, err
	}
	return l.LedgerRepository.History(ctx, wallet, before, limit)
}

type faultyHolds struct {
	application.HoldRepository
	f *dbFaults
}

func (h faultyHolds) Get(ctx context.Context, tenant domain.TenantID, id domain.HoldID) (*domain.Hold, error) {
	if err := h.f.call(); err != nil {
		return nil, err
	}
	return h.HoldRepository.Get(ctx, tenant, id)
}

type faultyIdempotency struct {
	application.IdempotencyRepository
	f *dbFaults
}

func (i faultyIdempotency) Get(ctx context.Context, tenant domain.TenantID, key string) (application.IdempotencyRecord, error) {
	if err := i.f.call(); err != nil {
		return application.IdempotencyRecord{}, err
	}
	return i.IdempotencyRepository.Get(ctx, tenant, key)
}

type faultyKeys struct {
	application.APIKeyStore
	f *dbFaults
}

func (k faultyKeys) FindActive(ctx context.Context, hash []byte) (application.StoredAPIKey, error) {
	if err := k.f.call(); err != nil {
		return application.StoredAPIKey{}, err
	}
	return k.APIKeyStore.FindActive(ctx, hash)
}
