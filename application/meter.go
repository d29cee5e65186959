package application

import (
	"context"

	"github.com/creditd/creditd/domain"
)

// Meter hears about every ledger transaction once it has committed, for
// operators' metrics (credits granted, spent, captured and expired). It runs
// on the caller's path, so it must be quick and must not block.
type Meter interface {
	Committed(txs []domain.Transaction)
}

// Metered is uow telling meter about the transactions each of its units of
// work committed: those a unit appended, once WithinTx has returned nil. A
// unit that failed, or whose outcome is unknown, is not counted.
func Metered(uow UnitOfWork, meter Meter) UnitOfWork {
	return meteredUnitOfWork{uow: uow, meter: meter}
}

type meteredUnitOfWork struct {
	uow   UnitOfWork
	meter Meter
}

func (m meteredUnitOfWork) WithinTx(ctx context.Context, scope Scope, fn func(ctx context.Context, r Repos) error) error {
	var appended []domain.Transaction
	err := m.uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		appended = appended[:0] // fn may run again after a retryable failure
		r.Ledger = recordingLedger{LedgerRepository: r.Ledger, appended: &appended}
		return fn(ctx, r)
	})
	if err == nil && len(appended) > 0 {
		m.meter.Committed(appended)
	}
	return err
}

// recordingLedger notes what a unit of work appends.
type recordingLedger struct {
	LedgerRepository
	appended *[]domain.Transaction
}

func (l recordingLedger) Append(ctx context.Context, txs ...domain.Transaction) error {
	if err := l.LedgerRepository.Append(ctx, txs...); err != nil {
		return err
	}
	*l.appended = append(*l.appended, txs...)
	return nil
}
