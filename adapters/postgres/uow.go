package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
)

const (
	// maxAttempts bounds how often a batch runs after serialization
	// failures, deadlocks or lost races before its error is returned.
	maxAttempts = 5
	// maxBatch bounds the units of work in one database transaction.
	maxBatch = 128
	// spillBatch is how many units of work must wait before a transaction
	// starts beside a running one: at half the peak rate it kept the machine
	// 10% less busy (bigger batches) without lowering the peak.
	spillBatch = 8
	// batchTimeout bounds one attempt of a batch: its context is its own, so
	// that no caller giving up can abort the others' transaction.
	batchTimeout = 30 * time.Second
)

// UnitOfWork runs units of work with group commit. Up to cfg.WriteLanes
// database transactions run at once; each carries every unit of work that
// arrived while the others ran (see groupQueue and batch). A wallet, hold or
// idempotency key is in at most one running transaction, so transactions
// never queue on each other's row locks; a lone request takes one
// transaction of its own at once; and under load the round trips,
// statements and commits of many requests are shared.
//
// Each unit of work still commits or fails on its own. When the batch as a
// whole fails before COMMIT with an error that is not retryable, every unit
// of work runs again in a transaction of its own, so the failure is charged
// only to the one that causes it.
type UnitOfWork struct {
	db      *bun.DB
	clock   application.Clock
	queue   *groupQueue[*job]
	metrics *uowMetrics
}

var _ application.UnitOfWork = (*UnitOfWork)(nil)

// job is one call of WithinTx.
type job struct {
	ctx   context.Context
	scope application.Scope
	fn    func(ctx context.Context, r application.Repos) error
	since time.Time // when WithinTx was called

	err      error
	panicked any // what fn panicked with, re-raised on the caller's goroutine
	stack    []byte
}

// NewUnitOfWork runs units of work on db, cfg.WriteLanes transactions at
// once; clock dates what they store.
func NewUnitOfWork(db *bun.DB, cfg Config, clock application.Clock) *UnitOfWork {
	u := &UnitOfWork{db: db, clock: clock, metrics: newUoWMetrics()}
	u.queue = newGroupQueue(maxBatch, cfg.writeLanes(), spillBatch, u.runGroup, func(j *job) []any { return scopeKeys(j.scope) })
	return u
}

// scopeKeys are what a unit of work needs to itself within the process.
func scopeKeys(s application.Scope) []any {
	keys := make([]any, 0, len(s.Wallets)+len(s.Holds)+len(s.Keys)+len(s.Orders))
	for _, w := range s.Wallets {
		keys = append(keys, keyOf(w.Tenant, w.Account))
	}
	for _, h := range s.Holds {
		keys = append(keys, h)
	}
	for _, k := range s.Keys {
		keys = append(keys, k)
	}
	for _, o := range s.Orders {
		keys = append(keys, o)
	}
	return keys
}

// WithinTx runs fn in a transaction it may share with other units of work.
// fn gets a context of that transaction, not ctx: a caller that gives up
// must not abort the others. A caller whose ctx ends before its turn comes
// is not run; one whose ctx ends while its transaction runs gets
// application.ErrUnavailable (or, cancelled, ctx's error) at once, and the
// transaction goes on without it, its outcome unknown to the caller.
func (u *UnitOfWork) WithinTx(ctx context.Context, scope application.Scope, fn func(ctx context.Context, r application.Repos) error) error {
	j := &job{ctx: ctx, scope: scope, fn: fn, since: time.Now()}
	if err := u.queue.do(ctx, j); err != nil {
		return gaveUp(err)
	}
	if j.panicked != nil {
		panic(fmt.Sprintf("%v [recovered in a batch; its stack:\n%s]", j.panicked, j.stack))
	}
	return j.err
}

// gaveUp is what a caller whose context ended while it waited gets: past
// its deadline, the database did not answer in time.
func gaveUp(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: no answer before the deadline: %w", application.ErrUnavailable, err)
	}
	return err
}

// Waiting is how many units of work wait for a transaction: a measure of
// load, for metrics and tests.
func (u *UnitOfWork) Waiting() int { return u.queue.waitingCount() }

// runGroup runs the jobs of one group that still have a caller.
func (u *UnitOfWork) runGroup(group []*job) {
	var live []*job
	for _, j := range group {
		if j.err = j.ctx.Err(); j.err == nil {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return
	}
	u.metrics.units.Observe(float64(len(live)))
	for _, j := range live {
		u.metrics.wait.Observe(time.Since(j.since).Seconds())
	}
	err := u.runWithRetries(live)
	switch {
	case err == nil:
		u.metrics.batches.WithLabelValues(batchCommitted).Inc()
		return
	case errors.Is(err, errCommitUnknown):
		u.metrics.batches.WithLabelValues(batchCommitUnknown).Inc()
	case len(live) == 1:
		u.metrics.batches.WithLabelValues(batchFailed).Inc()
	}
	if len(live) == 1 || errors.Is(err, errCommitUnknown) {
		for _, j := range live {
			j.err = err
		}
		return
	}
	u.metrics.batches.WithLabelValues(batchSplit).Inc()
	for _, j := range live {
		if err := u.runWithRetries([]*job{j}); err != nil {
			j.err = err
		}
	}
}

// runWithRetries runs the jobs as one batch, again after a retryable
// failure, and returns the batch's failure; each job's own outcome is in it.
func (u *UnitOfWork) runWithRetries(jobs []*job) error {
	for attempt := 1; ; attempt++ {
		err := u.runBatch(jobs)
		if !errors.Is(err, errRetryable) || attempt == maxAttempts {
			return err
		}
		u.metrics.batches.WithLabelValues(batchRetried).Inc()
		backoff := time.Duration(attempt*attempt) * time.Millisecond
		time.Sleep(backoff + rand.N(backoff))
	}
}

// errCommitUnknown marks a batch whose COMMIT failed: it may have committed
// or not, so its units of work must not run again (one without an
// idempotency key would then apply twice).
var errCommitUnknown = fmt.Errorf("the outcome of COMMIT is unknown: %w", application.ErrUnavailable)

// runBatch runs the jobs in one READ COMMITTED transaction. Isolation comes
// from the wallet row locks taken before any job runs.
func (u *UnitOfWork) runBatch(jobs []*job) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	defer func(start time.Time) { u.metrics.duration.Observe(time.Since(start).Seconds()) }(time.Now())
	written := false
	err := u.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(ctx context.Context, tx bun.Tx) error {
		b := newBatch(ctx, tx, u.clock.Now())
		scopes := make([]application.Scope, len(jobs))
		for i, j := range jobs {
			scopes[i] = j.scope
		}
		if err := b.load(scopes); err != nil {
			return err
		}
		for _, j := range jobs {
			unit := b.unit(j.scope)
			if j.err = j.call(ctx, unit.repos()); j.err == nil {
				unit.commit()
			}
			if b.failed != nil {
				return b.failed
			}
		}
		if err := b.flush(); err != nil {
			return err
		}
		written = true
		return nil
	})
	if err != nil && written {
		return fmt.Errorf("%w: %w", errCommitUnknown, err)
	}
	// BEGIN's own failure (say, no connection to be had) comes back from
	// RunInTx untranslated.
	return translate(err, "run batch")
}

// call runs fn, turning a panic into an error for the batch and a panic
// for the job's caller.
func (j *job) call(ctx context.Context, r application.Repos) (err error) {
	j.panicked, j.stack = nil, nil
	defer func() {
		if p := recover(); p != nil {
			j.panicked, j.stack = p, debug.Stack()
			err = fmt.Errorf("unit of work panicked: %v", p)
		}
	}()
	return j.fn(ctx, r)
}
