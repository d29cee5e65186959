//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

// These tests pin down group commit (adapters/postgres.UnitOfWork): units of
// work that arrive while a transaction runs share the next one, yet each
// commits or fails on its own, as if it had a transaction to itself.

// group is a ledger whose units of work all go through one lane, so that a
// test can line several up for one transaction.
type group struct {
	db       *bun.DB
	uow      *postgres.UnitOfWork
	queries  application.Queries
	accounts *application.Accounts
	tenant   domain.TenantID
}

func newGroup(t *testing.T) *group {
	t.Helper()
	return newGroupOn(t, pgtest.NewDatabase(t))
}

// newGroupOn is newGroup on the database at dsn.
func newGroupOn(t *testing.T, dsn string) *group {
	t.Helper()
	cfg := postgres.Config{URL: dsn, MaxConns: 8, WriteLanes: 1}
	db, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	uow, queries := postgres.NewUnitOfWork(db, cfg, system.Clock{}), postgres.NewQueries(db, cfg)
	tenant, err := postgres.NewAPIKeyStore(db).EnsureTenant(context.Background(), mustTenant(t, "acme"), domain.TenantID(uuid.Must(uuid.NewV7())))
	if err != nil {
		t.Fatal(err)
	}
	return &group{db: db, uow: uow, queries: queries, tenant: tenant,
		accounts: application.NewAccounts(uow, queries, system.Clock{}, system.UUIDv7{})}
}

// together runs every call at once, after lining them all up behind a unit
// of work that holds the lane, so that they share one transaction.
func (g *group) together(t *testing.T, calls ...func()) {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- g.uow.WithinTx(context.Background(), application.Scope{}, func(context.Context, application.Repos) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	var wg sync.WaitGroup
	for _, call := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); call() }()
	}
	for deadline := time.Now().Add(10 * time.Second); g.uow.Waiting() < len(calls); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d units of work queued", g.uow.Waiting(), len(calls))
		}
	}
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
}

func (g *group) account(t *testing.T, name string) domain.AccountID {
	t.Helper()
	a, err := domain.ParseAccountID(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (g *group) grant(t *testing.T, account domain.AccountID, amount string) domain.Transaction {
	t.Helper()
	tx, _, err := g.accounts.Grant(context.Background(), application.GrantCommand{Tenant: g.tenant, Account: account,
		Amount: domain.MustCredits(amount), Source: domain.LotPaid, Priority: domain.DefaultLotPriority}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (g *group) spend(account domain.AccountID, amount string, idem *application.Idempotency[domain.Transaction]) (domain.Transaction, *application.Receipt, error) {
	return g.accounts.Spend(context.Background(), application.SpendCommand{Tenant: g.tenant, Account: account,
		Amount: domain.MustCredits(amount)}, idem)
}

func (g *group) balance(t *testing.T, account domain.AccountID) string {
	t.Helper()
	w, err := g.queries.Wallets.Get(context.Background(), g.tenant, account)
	if errors.Is(err, domain.ErrNotFound) {
		return "no wallet"
	}
	if err != nil {
		t.Fatal(err)
	}
	return w.Balance().String()
}

// writer is the database transaction that wrote a transaction row.
func (g *group) writer(t *testing.T, tx domain.TransactionID) string {
	t.Helper()
	var xmin string
	if err := g.db.NewRaw("SELECT xmin::text FROM transactions WHERE id = ?", uuid.UUID(tx)).Scan(context.Background(), &xmin); err != nil {
		t.Fatal(err)
	}
	return xmin
}

func (g *group) requireSound(t *testing.T) {
	t.Helper()
	report, err := application.NewVerifier(postgres.NewAuditor(g.db)).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range report.Drifts {
		t.Error("drift:", d)
	}
}

// TestGroupCommitUnitsStandAlone: in one shared transaction, spends that
// succeed commit, a refused spend and a unit that fails after writing leave
// no trace, and a wallet opened by a grant is there for the spends after it.
func TestGroupCommitUnitsStandAlone(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	alice, bob, carol := g.account(t, "alice"), g.account(t, "bob"), g.account(t, "carol")
	g.grant(t, alice, "10")
	g.grant(t, bob, "1")

	errBoom := errors.New("boom")
	var spent [3]domain.Transaction
	var spendErrs [3]error
	var refused, failed, carolSpend error
	var carolGrant domain.Transaction
	calls := []func(){
		func() { spent[0], _, spendErrs[0] = g.spend(alice, "3", nil) },
		func() { _, _, refused = g.spend(bob, "5", nil) },
		func() {
			failed = g.uow.WithinTx(context.Background(), application.WalletScope(g.tenant, bob), func(ctx context.Context, r application.Repos) error {
				w, err := r.Wallets.Lock(ctx, g.tenant, bob)
				if err != nil {
					return err
				}
				tx, err := w.Spend(domain.TransactionID(uuid.Must(uuid.NewV7())), domain.MustCredits("1"), domain.Memo{}, time.Now())
				if err != nil {
					return err
				}
				if err := r.Wallets.Save(ctx, w); err != nil {
					return err
				}
				if err := r.Ledger.Append(ctx, tx); err != nil {
					return err
				}
				return errBoom
			})
		},
		func() { spent[1], _, spendErrs[1] = g.spend(alice, "3", nil) },
		func() {
			var err error
			if carolGrant, _, err = g.accounts.Grant(context.Background(), application.GrantCommand{Tenant: g.tenant, Account: carol,
				Amount: domain.MustCredits("2"), Source: domain.LotBonus, Priority: domain.DefaultLotPriority}, nil); err != nil {
				t.Error(err)
			}
		},
		func() { spent[2], _, spendErrs[2] = g.spend(alice, "3", nil) },
	}
	g.together(t, calls...)
	_, _, carolSpend = g.spend(carol, "2", nil) // after the group: the new wallet is committed

	for i, err := range spendErrs {
		if err != nil {
			t.Errorf("spend %d of alice: %v", i, err)
		}
	}
	if !errors.Is(refused, domain.ErrInsufficientCredits) {
		t.Errorf("spend of 5 from bob's 1: %v, want insufficient credits", refused)
	}
	if !errors.Is(failed, errBoom) {
		t.Errorf("failing unit: %v, want boom", failed)
	}
	if carolSpend != nil {
		t.Errorf("spend from carol's new wallet: %v", carolSpend)
	}
	if got := g.balance(t, alice); got != "1" {
		t.Errorf("alice: %s, want 1 (10 - 3×3)", got)
	}
	if got := g.balance(t, bob); got != "1" {
		t.Errorf("bob: %s, want 1 (the refused and the failed unit changed nothing)", got)
	}
	if got := g.balance(t, carol); got != "0" {
		t.Errorf("carol: %s, want 0", got)
	}
	// The three spends and the grant were written by one database transaction.
	writer := g.writer(t, carolGrant.ID())
	for i, tx := range spent {
		if w := g.writer(t, tx.ID()); w != writer {
			t.Errorf("spend %d written by transaction %s, the grant by %s: want one transaction", i, w, writer)
		}
	}
	g.requireSound(t)
}

// TestGroupCommitIsolatesABadUnit: a unit whose writes the database refuses
// makes the shared transaction fail; every unit then runs again on its own,
// so only the bad one fails.
func TestGroupCommitIsolatesABadUnit(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	alice, bob := g.account(t, "alice"), g.account(t, "bob")
	existing := g.grant(t, alice, "10")
	g.grant(t, bob, "10")

	var good [2]error
	var bad error
	g.together(t,
		func() { _, _, good[0] = g.spend(alice, "1", nil) },
		func() {
			bad = g.uow.WithinTx(context.Background(), application.WalletScope(g.tenant, bob), func(ctx context.Context, r application.Repos) error {
				w, err := r.Wallets.Lock(ctx, g.tenant, bob)
				if err != nil {
					return err
				}
				tx, err := w.Spend(existing.ID(), domain.MustCredits("1"), domain.Memo{}, time.Now()) // a taken transaction id
				if err != nil {
					return err
				}
				if err := r.Wallets.Save(ctx, w); err != nil {
					return err
				}
				return r.Ledger.Append(ctx, tx)
			})
		},
		func() { _, _, good[1] = g.spend(alice, "1", nil) },
	)
	if good[0] != nil || good[1] != nil {
		t.Errorf("good units: %v, %v; want both to commit", good[0], good[1])
	}
	// The transaction's row or its postings' rows, whichever PostgreSQL inserts first.
	if bad == nil || !strings.Contains(bad.Error(), "transactions_pkey") && !strings.Contains(bad.Error(), "postings_pkey") {
		t.Errorf("unit reusing a transaction id: %v, want the primary key's refusal", bad)
	}
	if a, b := g.balance(t, alice), g.balance(t, bob); a != "8" || b != "10" {
		t.Errorf("alice %s, bob %s; want 8 and 10", a, b)
	}
	g.requireSound(t)
}

// TestGroupCommitSameKeyTwice: two requests with one idempotency key in the
// same transaction spend once; the second replays the first's receipt,
// which it can read as soon as WithinTx returns.
func TestGroupCommitSameKeyTwice(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	alice := g.account(t, "alice")
	g.grant(t, alice, "10")
	idem := func() *application.Idempotency[domain.Transaction] {
		return &application.Idempotency[domain.Transaction]{Key: "k", Fingerprint: []byte("f"),
			Encode: func(tx domain.Transaction, err error) (application.Receipt, error) {
				return application.Receipt{Status: 201, Body: []byte(tx.ID().String())}, nil
			}}
	}
	var receipts [2]*application.Receipt
	var errs [2]error
	g.together(t,
		func() { _, receipts[0], errs[0] = g.spend(alice, "4", idem()) },
		func() { _, receipts[1], errs[1] = g.spend(alice, "4", idem()) },
	)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("spends: %v, %v", errs[0], errs[1])
	}
	if receipts[0].Replayed == receipts[1].Replayed || string(receipts[0].Body) != string(receipts[1].Body) {
		t.Errorf("receipts %+v and %+v: want one fresh, one replay of it", receipts[0], receipts[1])
	}
	if got := g.balance(t, alice); got != "6" {
		t.Errorf("alice: %s, want 6 (one spend of 4)", got)
	}
}

// TestGroupCommitKeyTakenMeanwhile: a key another transaction claims while
// a unit of work runs is caught when that transaction commits: the unit's
// batch runs again and the unit gets ErrIdempotencyKeyTaken.
func TestGroupCommitKeyTakenMeanwhile(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	ctx := context.Background()
	other, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback() //nolint:errcheck // committed below
	if _, err := other.ExecContext(ctx, `INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, body, created_at)
		VALUES (?, 'k', 'x', 201, 'first', now())`, uuid.UUID(g.tenant)); err != nil {
		t.Fatal(err)
	}
	rec := application.IdempotencyRecord{Tenant: g.tenant, Key: "k", Fingerprint: []byte("y"), CreatedAt: time.Now()}
	done := make(chan error, 1)
	go func() {
		done <- g.uow.WithinTx(ctx, application.Scope{Keys: []application.IdempotencyKey{{Tenant: g.tenant, Key: "k"}}},
			func(ctx context.Context, r application.Repos) error { return r.Idempotency.Claim(ctx, rec) })
	}()
	// Wait until the unit's write waits on the other transaction's row.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting int
		if err := g.db.NewRaw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).
			Scan(ctx, &waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unit of work never waited for the other transaction")
		}
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, application.ErrIdempotencyKeyTaken) {
		t.Fatalf("claim of a key taken meanwhile: %v, want ErrIdempotencyKeyTaken", err)
	}
	got, err := g.queries.Idempotency.Get(ctx, g.tenant, "k")
	if err != nil || string(got.Receipt.Body) != "first" {
		t.Fatalf("record: %+v, %v; want the other transaction's", got, err)
	}
}

// TestGroupCommitPanic: a unit that panics does so on its caller's
// goroutine, as without group commit, and the others commit.
func TestGroupCommitPanic(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	alice := g.account(t, "alice")
	g.grant(t, alice, "10")
	var spendErr error
	var recovered any
	g.together(t,
		func() {
			defer func() { recovered = recover() }()
			_ = g.uow.WithinTx(context.Background(), application.WalletScope(g.tenant, alice), func(context.Context, application.Repos) error {
				panic("kaboom")
			})
		},
		func() { _, _, spendErr = g.spend(alice, "1", nil) },
	)
	if spendErr != nil {
		t.Errorf("spend beside the panicking unit: %v", spendErr)
	}
	if !strings.Contains(fmt.Sprint(recovered), "kaboom") {
		t.Errorf("caller of the panicking unit recovered %v, want its panic", recovered)
	}
	if got := g.balance(t, alice); got != "9" {
		t.Errorf("alice: %s, want 9", got)
	}
}
