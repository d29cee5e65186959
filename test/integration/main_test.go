//go:build integration

// Package integration runs the application's use cases against the real
// PostgreSQL adapter, each test on its own database cloned from a migrated template.
package integration

import (
	"context"
	"os"
	"testing"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/test/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, postgres.MigrateURL)) }

// ledger is the application wired to a fresh database.
type ledger struct {
	db       *bun.DB
	accounts *application.Accounts
	holds    *application.Holds
	expiry   *application.Expiry
	keys     *application.APIKeys
	verify   *application.Verifier
}

func newLedger(t *testing.T, clock application.Clock) *ledger {
	t.Helper()
	cfg := postgres.Config{URL: pgtest.NewDatabase(t), MaxConns: 32}
	db, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	uow, queries, ids := postgres.NewUnitOfWork(db, cfg, clock), postgres.NewQueries(db, cfg), system.UUIDv7{}
	return &ledger{
		db:       db,
		accounts: application.NewAccounts(uow, queries, clock, ids),
		holds:    application.NewHolds(uow, queries, clock, ids),
		expiry:   application.NewExpiry(uow, queries, clock, ids),
		keys:     application.NewAPIKeys(postgres.NewAPIKeyStore(db), clock, ids),
		verify:   application.NewVerifier(postgres.NewAuditor(db)),
	}
}

// requireSound fails the test when verify finds any drift.
func (l *ledger) requireSound(t *testing.T) {
	t.Helper()
	report, err := l.verify.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range report.Drifts {
		t.Error("drift:", d)
	}
}
