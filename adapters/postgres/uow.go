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
			s := session{db: tx, buf: newWriteBuffer(tx)}
			if err := fn(ctx, s.repos()); err != nil {
				return err
			}
			return s.buf.flush(ctx)
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

// NewRepos gives repositories that work on db directly, outside any unit of work.
func NewRepos(db *bun.DB) application.Repos { return session{db: db}.repos() }

func (s session) repos() application.Repos {
	return application.Repos{
		Wallets:     &walletRepo{s},
		Ledger:      &ledgerRepo{s},
		Holds:       &holdRepo{s},
		Idempotency: &idempotencyRepo{s},
	}
}
