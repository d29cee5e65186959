package postgres

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
)

// maxAttempts bounds how often a transaction is run after serialization
// failures or deadlocks before the error is returned.
const maxAttempts = 5

// UnitOfWork runs use-case work in one READ COMMITTED transaction. Isolation
// comes from row locks (a wallet is locked before it is read for change), so
// conflicts are rare; when PostgreSQL still reports a serialization failure
// or deadlock, the whole callback runs again, up to maxAttempts times.
type UnitOfWork struct{ db *bun.DB }

var _ application.UnitOfWork = (*UnitOfWork)(nil)

// NewUnitOfWork binds units of work to db.
func NewUnitOfWork(db *bun.DB) *UnitOfWork { return &UnitOfWork{db: db} }

func (u *UnitOfWork) WithinTx(ctx context.Context, fn func(ctx context.Context, r application.Repos) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = u.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(ctx context.Context, tx bun.Tx) error {
			return fn(ctx, NewRepos(tx))
		})
		if !errors.Is(err, errRetryable) || attempt == maxAttempts {
			return err
		}
		backoff := time.Duration(attempt*attempt) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff + rand.N(backoff)):
		}
	}
}

// NewRepos gives repositories bound to db, which may be a *bun.DB or a bun.Tx.
func NewRepos(db bun.IDB) application.Repos {
	return application.Repos{
		Wallets:     &walletRepo{db: db},
		Ledger:      &ledgerRepo{db: db},
		Holds:       &holdRepo{db: db},
		Idempotency: &idempotencyRepo{db: db},
	}
}
