//go:build integration

// Package contract keeps the in-memory fake honest (style rule 22): the same
// expectations run against adapters/memory, which the unit tests rely on, and
// against adapters/postgres, which production runs. Two kinds of test:
//
//   - repos_test.go: explicit contract tests of the repository ports, each
//     run once per implementation from a table of factories;
//   - differential_test.go: a seeded random sequence of use-case operations
//     applied to the application wired on each implementation, requiring
//     identical outcomes after every operation.
//
// A failure here means the fake and the database disagree; which one is
// wrong is a judgement for a human.
package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, postgres.MigrateURL)) }

// start is a whole microsecond: PostgreSQL keeps microseconds, so a clock
// that never carries nanoseconds reads back exactly what it stored.
var start = time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)

// ports is one implementation of every port the application needs.
type ports struct {
	uow      application.UnitOfWork
	queries  application.Queries
	cleaner  application.IdempotencyCleaner
	keys     application.APIKeyStore
	auditor  application.Auditor
	products application.ProductStore
	reports  application.ReconciliationReports
	settings application.TenantSettingsStore
	// outbox reads the events written, in order, as renderEvent renders them.
	outbox func(ctx context.Context) ([]string, error)
}

// renderEvent is an event as both implementations must have written it;
// data is its payload as JSON, members in a canonical order.
func renderEvent(id [16]byte, typ, account string, at time.Time, data []byte) string {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Sprintf("%x %s %s: undecodable data %q", id, typ, account, data)
	}
	canonical, _ := json.Marshal(v)
	return fmt.Sprintf("%x %s %s %s %s", id, typ, account, at.UTC().Format(time.RFC3339Nano), canonical)
}

// factory names an implementation and builds a fresh, empty instance of it.
type factory struct {
	name string
	new  func(t *testing.T, clock application.Clock) ports
}

var factories = []factory{
	{"memory", newMemoryPorts},
	{"postgres", newPostgresPorts},
}

func newMemoryPorts(*testing.T, application.Clock) ports {
	s := memory.NewStore()
	return ports{uow: s.UnitOfWork(), queries: s.Queries(), cleaner: s.IdempotencyCleaner(), keys: s.APIKeys(), auditor: s.Auditor(),
		products: s.Products(), reports: memory.NewReconciliationReports(), settings: s.Settings(),
		outbox: func(context.Context) ([]string, error) {
			var out []string
			for _, e := range s.Events() {
				data, err := json.Marshal(e.Data)
				if err != nil {
					return nil, err
				}
				out = append(out, renderEvent(e.ID, e.Type.String(), e.Account.String(), e.OccurredAt, data))
			}
			return out, nil
		}}
}

// newPostgresPorts wires the adapter to a database of the test's own.
func newPostgresPorts(t *testing.T, clock application.Clock) ports {
	t.Helper()
	db := openDB(t)
	return ports{uow: postgres.NewUnitOfWork(db, postgres.Config{WriteLanes: 2}, clock), queries: postgres.NewQueries(db, postgres.Config{}),
		cleaner: postgres.NewIdempotencyCleaner(db), keys: postgres.NewAPIKeyStore(db), auditor: postgres.NewAuditor(db),
		products: postgres.NewProductStore(db), reports: postgres.NewReconciliationStore(db), settings: postgres.NewSettingsStore(db),
		outbox: func(ctx context.Context) ([]string, error) {
			var rows []struct {
				ID         uuid.UUID `bun:"id"`
				Type       string    `bun:"type"`
				AccountID  string    `bun:"account_id"`
				OccurredAt time.Time `bun:"occurred_at"`
				Data       []byte    `bun:"data"`
			}
			if err := db.NewRaw("SELECT id, type, account_id, occurred_at, data FROM events ORDER BY seq").Scan(ctx, &rows); err != nil {
				return nil, err
			}
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i] = renderEvent(r.ID, r.Type, r.AccountID, r.OccurredAt, r.Data)
			}
			return out, nil
		}}
}

func openDB(t *testing.T) *bun.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.NewDatabase(t), MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// categories are the error categories callers branch on. Two implementations
// agree on an error when it falls in the same category; messages may differ.
var categories = []struct {
	name string
	err  error
}{
	{"invalid input", domain.ErrInvalidInput},
	{"not found", domain.ErrNotFound},
	{"insufficient credits", domain.ErrInsufficientCredits},
	{"hold not capturable", domain.ErrHoldNotCapturable},
	{"hold not releasable", domain.ErrHoldNotReleasable},
	{"hold not open", domain.ErrHoldNotOpen},
	{"capture exceeds hold", domain.ErrCaptureExceedsHold},
	{"balance limit", domain.ErrBalanceLimit},
	{"not reversible", domain.ErrNotReversible},
	{"reversal exceeds original", domain.ErrReversalExceedsOriginal},
	{"idempotency key reused", application.ErrIdempotencyKeyReused},
	{"idempotency key taken", application.ErrIdempotencyKeyTaken},
	{"unauthenticated", application.ErrUnauthenticated},
}

// category names err's category: "ok" for nil, and for an error outside
// every category its message, which the other implementation cannot match.
func category(err error) string {
	if err == nil {
		return "ok"
	}
	for _, c := range categories {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "UNCATEGORIZED: " + err.Error()
}
