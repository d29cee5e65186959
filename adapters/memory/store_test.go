package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	ctx    context.Context
	store  *memory.Store
	ids    *memory.SequentialIDs
	tenant domain.TenantID
}

func newFixture(t *testing.T) *fixture {
	ids := &memory.SequentialIDs{}
	return &fixture{t: t, ctx: t.Context(), store: memory.NewStore(), ids: ids, tenant: domain.TenantID(ids.NewID())}
}

func account(s string) domain.AccountID {
	a, err := domain.ParseAccountID(s)
	if err != nil {
		panic(err)
	}
	return a
}

func cr(s string) domain.Credits { return domain.MustCredits(s) }

// tx runs fn in a unit of work whose scope is every account and key these
// tests use.
func (f *fixture) tx(fn func(r application.Repos) error) error {
	var scope application.Scope
	for _, a := range []string{"alice", "bob", "a", "b", "c", "d", "e"} {
		scope.Wallets = append(scope.Wallets, application.WalletRef{Tenant: f.tenant, Account: account(a)})
	}
	scope.Keys = []application.IdempotencyKey{{Tenant: f.tenant, Key: "k"}}
	return f.txIn(scope, fn)
}

func (f *fixture) txIn(scope application.Scope, fn func(r application.Repos) error) error {
	return f.store.UnitOfWork().WithinTx(f.ctx, scope, func(_ context.Context, r application.Repos) error { return fn(r) })
}

func (f *fixture) mustTx(fn func(r application.Repos) error) {
	f.t.Helper()
	if err := f.tx(fn); err != nil {
		f.t.Fatal(err)
	}
}

// grant does what the Credits use case does, through the repositories.
func (f *fixture) grant(r application.Repos, acct, amount string, expiresAt *time.Time) (*domain.Wallet, domain.Transaction) {
	f.t.Helper()
	w, err := r.Wallets.LockOrCreate(f.ctx, domain.NewWallet(domain.WalletID(f.ids.NewID()), f.tenant, account(acct), now))
	if err != nil {
		f.t.Fatal(err)
	}
	tx, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(f.ids.NewID()), Lot: domain.LotID(f.ids.NewID()),
		Amount: cr(amount), Source: domain.LotBonus, Priority: 50, ExpiresAt: expiresAt,
		Memo: domain.Memo{Reason: "r", Metadata: domain.Metadata{"k": "v"}}}, now)
	if err != nil {
		f.t.Fatal(err)
	}
	f.save(r, w, tx)
	return w, tx
}

func (f *fixture) save(r application.Repos, w *domain.Wallet, txs ...domain.Transaction) {
	f.t.Helper()
	if err := r.Wallets.Save(f.ctx, w); err != nil {
		f.t.Fatal(err)
	}
	w.ForgetChanges()
	if err := r.Ledger.Append(f.ctx, txs...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) wantSound() {
	f.t.Helper()
	report, err := f.store.Auditor().Audit(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(report.Drifts) > 0 {
		f.t.Fatalf("drifts:\n%s", strings.Join(report.Drifts, "\n"))
	}
}

func TestWithinTxCommitsOnlyOnSuccess(t *testing.T) {
	f := newFixture(t)
	reads := f.store.Queries()
	failed := errors.New("fn failed")
	var holdID domain.HoldID
	err := f.tx(func(r application.Repos) error {
		w, _ := f.grant(r, "alice", "10", nil)
		h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr("4"), ExpiresAt: now.Add(time.Hour)}, now)
		if err != nil {
			return err
		}
		holdID = h.ID()
		f.save(r, w)
		if err := r.Holds.Save(f.ctx, h); err != nil {
			return err
		}
		if err := r.Idempotency.Claim(f.ctx, application.IdempotencyRecord{Tenant: f.tenant, Key: "k"}); err != nil {
			return err
		}
		// The transaction sees its own writes; nobody else does yet.
		if got, err := r.Wallets.Lock(f.ctx, f.tenant, account("alice")); err != nil || !got.Held().Equal(cr("4")) {
			t.Errorf("inside: %v, %v", got, err)
		}
		if _, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("outside, before commit: %v, want ErrNotFound", err)
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("WithinTx = %v, want fn's error", err)
	}
	if _, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("wallet after rollback: %v", err)
	}
	if _, err := reads.Holds.Get(f.ctx, f.tenant, holdID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("hold after rollback: %v", err)
	}
	if _, err := reads.Idempotency.Get(f.ctx, f.tenant, "k"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("idempotency record after rollback: %v", err)
	}
	report, err := f.store.Auditor().Audit(f.ctx)
	if err != nil || report.Wallets != 0 || report.Transactions != 0 {
		t.Errorf("audit after rollback: %+v, %v", report, err)
	}

	f.mustTx(func(r application.Repos) error { f.grant(r, "alice", "10", nil); return nil })
	if w, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); err != nil || !w.Balance().Equal(cr("10")) {
		t.Fatalf("after commit: %v, %v", w, err)
	}
	f.wantSound()
}

func TestWithinTxSurvivesPanic(t *testing.T) {
	f := newFixture(t)
	func() {
		defer func() { _ = recover() }()
		_ = f.tx(func(r application.Repos) error {
			f.grant(r, "alice", "10", nil)
			panic("boom")
		})
	}()
	// The lock was released and nothing was committed.
	if _, err := f.store.Queries().Wallets.Get(f.ctx, f.tenant, account("alice")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("wallet after panic: %v", err)
	}
	f.mustTx(func(r application.Repos) error { f.grant(r, "alice", "1", nil); return nil })
}

func TestWithinTxHonoursCancelledContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	called := false
	err := f.store.UnitOfWork().WithinTx(ctx, application.Scope{}, func(context.Context, application.Repos) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Fatalf("WithinTx = %v (fn called: %v), want context.Canceled", err, called)
	}
	if _, err := f.store.Queries().Wallets.Get(ctx, f.tenant, account("alice")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", err)
	}
}

func TestLoadedStateIsNotShared(t *testing.T) {
	f := newFixture(t)
	reads := f.store.Queries()
	expires := now.Add(time.Hour)
	var w *domain.Wallet
	var grant domain.Transaction
	f.mustTx(func(r application.Repos) error { w, grant = f.grant(r, "alice", "10", &expires); return nil })

	// Changing what was saved, or what was loaded, changes nothing stored.
	expires = expires.Add(-30 * time.Minute)
	grant.Memo().Metadata["k"] = "changed"
	if _, err := w.Spend(domain.TransactionID(f.ids.NewID()), cr("3"), domain.Memo{}, now); err != nil {
		t.Fatal(err)
	}
	loaded, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Balance().Equal(cr("10")) || !loaded.Lots()[0].Remaining().Equal(cr("10")) || !loaded.Lots()[0].ExpiresAt().Equal(now.Add(time.Hour)) {
		t.Fatalf("stored wallet changed: balance %s, lot %s expiring %s", loaded.Balance(), loaded.Lots()[0].Remaining(), loaded.Lots()[0].ExpiresAt())
	}
	*loaded.Lots()[0].ExpiresAt() = now
	if again, _ := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); !again.Lots()[0].ExpiresAt().Equal(now.Add(time.Hour)) {
		t.Fatal("a loaded lot's expiry is the stored one")
	}
	hist, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 10)
	if err != nil || len(hist) != 1 || hist[0].Memo().Metadata["k"] != "v" {
		t.Fatalf("stored memo changed: %+v, %v", hist, err)
	}

	// A hold's allocations are changed in place by a capture.
	var hold *domain.Hold
	f.mustTx(func(r application.Repos) error {
		w, err := r.Wallets.Lock(f.ctx, f.tenant, account("alice"))
		if err != nil {
			return err
		}
		if hold, err = w.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr("4"), ExpiresAt: now.Add(time.Minute)}, now); err != nil {
			return err
		}
		f.save(r, w)
		return r.Holds.Save(f.ctx, hold)
	})
	loadedHold, err := reads.Holds.Get(f.ctx, f.tenant, hold.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.CaptureHold(loadedHold, domain.TransactionID(f.ids.NewID()), cr("4"), now); err != nil {
		t.Fatal(err)
	}
	if got, _ := reads.Holds.Get(f.ctx, f.tenant, hold.ID()); got.Status() != domain.HoldActive || !got.Remaining().Equal(cr("4")) {
		t.Fatalf("stored hold changed: %s with %s left", got.Status(), got.Remaining())
	}

	body := []byte("receipt")
	f.mustTx(func(r application.Repos) error {
		return r.Idempotency.Claim(f.ctx, application.IdempotencyRecord{Tenant: f.tenant, Key: "k", Fingerprint: body, Receipt: application.Receipt{Body: body}})
	})
	body[0] = 'X'
	rec, _ := reads.Idempotency.Get(f.ctx, f.tenant, "k")
	rec.Receipt.Body[1] = 'X'
	if rec, _ := reads.Idempotency.Get(f.ctx, f.tenant, "k"); string(rec.Receipt.Body) != "receipt" || string(rec.Fingerprint) != "receipt" {
		t.Fatalf("stored record changed: %q %q", rec.Fingerprint, rec.Receipt.Body)
	}
	f.wantSound()
}

func TestWallets(t *testing.T) {
	f := newFixture(t)
	reads := f.store.Queries()
	f.mustTx(func(r application.Repos) error {
		if _, err := r.Wallets.Lock(f.ctx, f.tenant, account("alice")); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Lock of a missing wallet: %v, want ErrNotFound", err)
		}
		return nil
	})
	var first domain.WalletID
	f.mustTx(func(r application.Repos) error {
		w, _ := f.grant(r, "alice", "10", nil)
		first = w.ID()
		return nil
	})
	f.mustTx(func(r application.Repos) error {
		w, err := r.Wallets.LockOrCreate(f.ctx, domain.NewWallet(domain.WalletID(f.ids.NewID()), f.tenant, account("alice"), now))
		if err != nil || w.ID() != first || !w.Balance().Equal(cr("10")) {
			t.Errorf("LockOrCreate of an existing wallet = %v, %v; want the stored one", w, err)
		}
		return nil
	})
	// Another tenant's alice is another wallet.
	stranger := domain.TenantID(f.ids.NewID())
	err := f.txIn(application.WalletScope(stranger, account("alice")), func(r application.Repos) error {
		other, err := r.Wallets.LockOrCreate(f.ctx, domain.NewWallet(domain.WalletID(f.ids.NewID()), stranger, account("alice"), now))
		if err == nil && other.ID() == first {
			t.Errorf("LockOrCreate for another tenant = the first tenant's wallet %s", first)
		}
		return err
	})
	if err != nil {
		t.Errorf("LockOrCreate for another tenant: %v", err)
	}

	// Emptied lots are kept (their postings stay explained) but no longer loaded.
	f.mustTx(func(r application.Repos) error {
		w, _ := f.grant(r, "alice", "5", nil)
		tx, err := w.Spend(domain.TransactionID(f.ids.NewID()), cr("12"), domain.Memo{}, now)
		if err != nil {
			return err
		}
		f.save(r, w, tx)
		return nil
	})
	w, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice"))
	if err != nil || len(w.Lots()) != 1 || !w.Balance().Equal(cr("3")) || !w.Lots()[0].Remaining().Equal(cr("3")) {
		t.Fatalf("after emptying a lot: %v, %d lots, %v", w.Balance(), len(w.Lots()), err)
	}
	f.wantSound()

	neverCreated := domain.NewWallet(domain.WalletID(f.ids.NewID()), f.tenant, account("bob"), now)
	if err := f.tx(func(r application.Repos) error { return r.Wallets.Save(f.ctx, neverCreated) }); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Save of a wallet never created: %v, want ErrNotFound", err)
	}
	broken := domain.RehydrateWallet(w.ID(), f.tenant, account("alice"), cr("3"), cr("4"), domain.ZeroCredits, now, w.Lots(), w.HoldsDueAt())
	if err := f.tx(func(r application.Repos) error { return r.Wallets.Save(f.ctx, broken) }); err == nil || domain.IsRejection(err) {
		t.Fatalf("Save of held over balance: %v, want a constraint failure", err)
	}
}

func TestDueForExpiry(t *testing.T) {
	f := newFixture(t)
	soon, later := now.Add(time.Minute), now.Add(time.Hour)
	f.mustTx(func(r application.Repos) error {
		f.grant(r, "a", "1", &soon)
		f.grant(r, "b", "1", &soon)
		f.grant(r, "c", "1", &later)
		f.grant(r, "d", "1", nil)
		w, _ := f.grant(r, "e", "1", &soon) // fully held: nothing to expire
		h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr("1"), ExpiresAt: later}, now)
		if err != nil {
			return err
		}
		f.save(r, w)
		return r.Holds.Save(f.ctx, h)
	})
	reads := f.store.Queries()
	refs, err := reads.Wallets.DueForExpiry(f.ctx, soon, 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ref := range refs {
		names = append(names, ref.Account.String())
	}
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("due at expiry: %v, want [a b]", names)
	}
	if refs, _ := reads.Wallets.DueForExpiry(f.ctx, soon.Add(-time.Nanosecond), 10); len(refs) != 0 {
		t.Fatalf("due before expiry: %v", refs)
	}
	if refs, _ := reads.Wallets.DueForExpiry(f.ctx, later, 2); len(refs) != 2 {
		t.Fatalf("limit 2 gave %d", len(refs))
	}
	if refs, _ := reads.Wallets.DueForExpiry(f.ctx, later, 10); len(refs) != 3 {
		t.Fatalf("due an hour later: %d, want 3", len(refs))
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t)
	var w *domain.Wallet
	var ids []domain.TransactionID
	f.mustTx(func(r application.Repos) error {
		var grant domain.Transaction
		w, grant = f.grant(r, "alice", "100", nil)
		ids = append(ids, grant.ID())
		for range 4 {
			tx, err := w.Spend(domain.TransactionID(f.ids.NewID()), cr("1"), domain.Memo{}, now)
			if err != nil {
				return err
			}
			f.save(r, w, tx)
			ids = append(ids, tx.ID())
		}
		f.grant(r, "bob", "1", nil)
		return nil
	})
	slices.Reverse(ids) // newest first
	reads := f.store.Queries()
	all, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 100)
	if err != nil || !slices.Equal(txIDs(all), ids) {
		t.Fatalf("History = %v, %v; want %v", txIDs(all), err, ids)
	}
	page, _ := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID(), Before: &ids[1]}, 2)
	if !slices.Equal(txIDs(page), ids[2:4]) {
		t.Fatalf("History before %s limit 2 = %v, want %v", ids[1], txIDs(page), ids[2:4])
	}
	if page, _ := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID(), Before: &ids[4]}, 10); len(page) != 0 {
		t.Fatalf("History before the oldest = %v", txIDs(page))
	}
	if page, _ := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 0); len(page) != 0 {
		t.Fatalf("History limit 0 = %v", txIDs(page))
	}
	// Ids order by their bytes, not by when they were appended.
	early := domain.TransactionID{}
	err = f.tx(func(r application.Repos) error {
		wallet, _ := r.Wallets.Lock(f.ctx, f.tenant, account("alice"))
		tx, err := wallet.Spend(early, cr("1"), domain.Memo{}, now)
		if err != nil {
			return err
		}
		f.save(r, wallet, tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 100); all[len(all)-1].ID() != early {
		t.Fatalf("the zero id is not the oldest: %v", txIDs(all))
	}
	dup := all[0]
	if err := f.tx(func(r application.Repos) error { return r.Ledger.Append(f.ctx, dup) }); err == nil {
		t.Fatal("Append of a duplicate id succeeded")
	}
	f.wantSound()
}

func txIDs(txs []domain.Transaction) []domain.TransactionID {
	var out []domain.TransactionID
	for _, tx := range txs {
		out = append(out, tx.ID())
	}
	return out
}

func TestHolds(t *testing.T) {
	f := newFixture(t)
	var holds []*domain.Hold
	f.mustTx(func(r application.Repos) error {
		w, _ := f.grant(r, "alice", "10", nil)
		for _, in := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute} {
			h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr("1"), ExpiresAt: now.Add(in)}, now)
			if err != nil {
				return err
			}
			holds = append(holds, h)
		}
		if err := w.ReleaseHold(holds[2], now); err != nil {
			return err
		}
		f.save(r, w)
		for _, h := range holds {
			if err := r.Holds.Save(f.ctx, h); err != nil {
				return err
			}
		}
		return nil
	})
	reads := f.store.Queries()
	if _, err := reads.Holds.Get(f.ctx, domain.TenantID(f.ids.NewID()), holds[0].ID()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another tenant's hold: %v, want ErrNotFound", err)
	}
	if h, err := reads.Holds.Get(f.ctx, f.tenant, holds[2].ID()); err != nil || h.Status() != domain.HoldReleased {
		t.Fatalf("Get = %v, %v", h, err)
	}
	due, err := reads.Holds.Due(f.ctx, now.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	// Open holds only, soonest expiry first.
	if len(due) != 2 || due[0].Hold != holds[1].ID() || due[1].Hold != holds[0].ID() || due[0].Tenant != f.tenant {
		t.Fatalf("Due = %v", due)
	}
	if due, _ := reads.Holds.Due(f.ctx, now.Add(time.Minute), 10); len(due) != 1 {
		t.Fatalf("Due at the first expiry = %v", due)
	}
	if due, _ := reads.Holds.Due(f.ctx, now.Add(time.Hour), 1); len(due) != 1 {
		t.Fatalf("Due limit 1 = %v", due)
	}
	f.wantSound()
}

func TestIdempotencyRecords(t *testing.T) {
	f := newFixture(t)
	reads := f.store.Queries()
	rec := application.IdempotencyRecord{Tenant: f.tenant, Key: "k", Fingerprint: []byte("f"), CreatedAt: now}
	f.mustTx(func(r application.Repos) error {
		if err := r.Idempotency.Claim(f.ctx, rec); err != nil {
			return err
		}
		if err := r.Idempotency.Claim(f.ctx, rec); !errors.Is(err, application.ErrIdempotencyKeyTaken) {
			t.Errorf("second claim in one transaction: %v, want ErrIdempotencyKeyTaken", err)
		}
		return r.Idempotency.Complete(f.ctx, f.tenant, "k", application.Receipt{Status: 201, Body: []byte("done")})
	})
	if err := f.tx(func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, rec) }); !errors.Is(err, application.ErrIdempotencyKeyTaken) {
		t.Fatalf("claim of a committed key: %v, want ErrIdempotencyKeyTaken", err)
	}
	got, err := reads.Idempotency.Get(f.ctx, f.tenant, "k")
	if err != nil || got.Receipt.Status != 201 || string(got.Receipt.Body) != "done" || string(got.Fingerprint) != "f" || !got.CreatedAt.Equal(now) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := f.tx(func(r application.Repos) error {
		return r.Idempotency.Complete(f.ctx, f.tenant, "unclaimed", application.Receipt{Status: 201})
	}); err == nil {
		t.Fatal("Complete of an unclaimed key succeeded")
	}
	other := rec
	other.Tenant = domain.TenantID(f.ids.NewID())
	other.CreatedAt = now.Add(time.Hour)
	otherKey := application.Scope{Keys: []application.IdempotencyKey{{Tenant: other.Tenant, Key: other.Key}}}
	if err := f.txIn(otherKey, func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, other) }); err != nil {
		t.Fatalf("the same key for another tenant: %v", err)
	}
	if n, err := f.store.IdempotencyCleaner().DeleteBefore(f.ctx, now); n != 0 || err != nil {
		t.Fatalf("DeleteBefore(now) = %d, %v; want 0 (not strictly before)", n, err)
	}
	if n, err := f.store.IdempotencyCleaner().DeleteBefore(f.ctx, now.Add(time.Minute)); n != 1 || err != nil {
		t.Fatalf("DeleteBefore = %d, %v; want 1", n, err)
	}
	if _, err := reads.Idempotency.Get(f.ctx, f.tenant, "k"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("deleted record: %v, want ErrNotFound", err)
	}
	if _, err := reads.Idempotency.Get(f.ctx, other.Tenant, "k"); err != nil {
		t.Fatalf("the other tenant's record: %v", err)
	}
}

func TestAuditorReportsDrift(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot)
		want    string
	}{
		{"balance without postings", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			// Save stores the caches, and no lot: a rehydrated wallet has changed none.
			f.mustSave(r, domain.RehydrateWallet(w.ID(), w.Tenant(), w.AccountID(), cr("11"), domain.ZeroCredits, domain.ZeroCredits, now, w.Lots(), w.HoldsDueAt()))
		}, "balance 11, postings sum to 10"},
		{"unbalanced transaction", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			tx, _ := domain.RehydrateTransaction(domain.TransactionID(f.ids.NewID()), w.Tenant(), domain.TransactionSpend, w.ID(), w.AccountID(),
				cr("1"), cr("9"), nil, domain.Memo{}, now, []domain.Posting{
					{Wallet: w.ID(), AccountID: w.AccountID(), Lot: lot.ID(), Amount: cr("-1")},
					{System: domain.SystemConsumption, Amount: cr("2")},
				})
			if err := r.Ledger.Append(f.ctx, tx); err != nil {
				f.t.Fatal(err)
			}
		}, "postings sum to 1, not zero"},
		{"held without a hold", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			f.mustSave(r, domain.RehydrateWallet(w.ID(), w.Tenant(), w.AccountID(), w.Balance(), cr("2"), w.Debt(), now, w.Lots(), w.HoldsDueAt()))
		}, "held 2, open holds reserve 0"},
		{"hold the wallet does not count", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			h := domain.RehydrateHold(domain.HoldID(f.ids.NewID()), w.Tenant(), w.ID(), w.AccountID(), cr("3"), domain.ZeroCredits,
				domain.HoldActive, domain.Memo{}, now.Add(time.Hour), now, []domain.HoldAllocation{{Lot: lot.ID(), Amount: cr("3")}})
			if err := r.Holds.Save(f.ctx, h); err != nil {
				f.t.Fatal(err)
			}
		}, "held 0, open holds reserve 3"},
		{"closed hold still reserving", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			h := domain.RehydrateHold(domain.HoldID(f.ids.NewID()), w.Tenant(), w.ID(), w.AccountID(), cr("3"), domain.ZeroCredits,
				domain.HoldReleased, domain.Memo{}, now.Add(time.Hour), now, []domain.HoldAllocation{{Lot: lot.ID(), Amount: cr("3")}})
			if err := r.Holds.Save(f.ctx, h); err != nil {
				f.t.Fatal(err)
			}
		}, "RELEASED but still reserves 3"},
		{"posting on an unknown lot", func(f *fixture, r application.Repos, w *domain.Wallet, lot *domain.Lot) {
			tx, _ := domain.RehydrateTransaction(domain.TransactionID(f.ids.NewID()), w.Tenant(), domain.TransactionSpend, w.ID(), w.AccountID(),
				cr("1"), cr("9"), nil, domain.Memo{}, now, []domain.Posting{
					{Wallet: w.ID(), AccountID: w.AccountID(), Lot: domain.LotID(f.ids.NewID()), Amount: cr("-1")},
					{System: domain.SystemConsumption, Amount: cr("1")},
				})
			if err := r.Ledger.Append(f.ctx, tx); err != nil {
				f.t.Fatal(err)
			}
		}, "which wallet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var w *domain.Wallet
			f.mustTx(func(r application.Repos) error { w, _ = f.grant(r, "alice", "10", nil); return nil })
			f.wantSound()
			lot := w.Lots()[0]
			f.mustTx(func(r application.Repos) error { tt.corrupt(f, r, w, lot); return nil })
			report, err := f.store.Auditor().Audit(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if report.Wallets != 1 || !slices.ContainsFunc(report.Drifts, func(d string) bool { return strings.Contains(d, tt.want) }) {
				t.Fatalf("report %+v, want a drift with %q", report, tt.want)
			}
		})
	}
}

func (f *fixture) mustSave(r application.Repos, w *domain.Wallet) {
	f.t.Helper()
	if err := r.Wallets.Save(f.ctx, w); err != nil {
		f.t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	f.mustTx(func(r application.Repos) error { f.grant(r, "alice", "1000", nil); return nil })
	reads := f.store.Queries()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			err := f.tx(func(r application.Repos) error {
				w, err := r.Wallets.Lock(f.ctx, f.tenant, account("alice"))
				if err != nil {
					return err
				}
				tx, err := w.Spend(domain.TransactionID(f.ids.NewID()), cr("1"), domain.Memo{}, now)
				if err != nil {
					return err
				}
				f.save(r, w, tx)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); err != nil {
				t.Error(err)
			}
			if _, err := f.store.Auditor().Audit(f.ctx); err != nil {
				t.Error(err)
			}
			if _, err := f.store.IdempotencyCleaner().DeleteBefore(f.ctx, now); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if w, _ := reads.Wallets.Get(f.ctx, f.tenant, account("alice")); !w.Balance().Equal(cr("950")) {
		t.Fatalf("balance %s, want 950", w.Balance())
	}
	f.wantSound()
}

func TestAPIKeyStore(t *testing.T) {
	ctx := t.Context()
	keys := memory.NewStore().APIKeys()
	acme, _ := domain.ParseTenantName("acme")
	id1, id2 := domain.TenantID{1}, domain.TenantID{2}
	if got, err := keys.EnsureTenant(ctx, acme, id1); err != nil || got != id1 {
		t.Fatalf("EnsureTenant = %v, %v", got, err)
	}
	if got, err := keys.EnsureTenant(ctx, acme, id2); err != nil || got != id1 {
		t.Fatalf("EnsureTenant of a known name = %v, %v; want the first id", got, err)
	}
	hash := []byte("hash")
	key := application.StoredAPIKey{ID: domain.APIKeyID{1}, Tenant: id1, Hash: hash, Scopes: []domain.Scope{domain.ScopeRead}, CreatedAt: now}
	if err := keys.Create(ctx, application.StoredAPIKey{ID: domain.APIKeyID{9}, Tenant: id2, Hash: []byte("x")}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Create for an unknown tenant: %v, want ErrNotFound", err)
	}
	if err := keys.Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := keys.Create(ctx, application.StoredAPIKey{ID: domain.APIKeyID{2}, Tenant: id1, Hash: []byte("hash")}); err == nil {
		t.Fatal("Create of a duplicate hash succeeded")
	}
	hash[0] = 'X'
	got, err := keys.FindActive(ctx, []byte("hash"))
	if err != nil || got.ID != key.ID || got.Tenant != id1 || !slices.Equal(got.Scopes, key.Scopes) || !got.CreatedAt.Equal(now) {
		t.Fatalf("FindActive = %+v, %v", got, err)
	}
	got.Scopes[0] = domain.ScopeWrite
	if again, _ := keys.FindActive(ctx, []byte("hash")); again.Scopes[0] != domain.ScopeRead {
		t.Fatal("FindActive shares the stored scopes")
	}
	if err := keys.Revoke(ctx, key.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.FindActive(ctx, []byte("hash")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("FindActive of a revoked key: %v, want ErrNotFound", err)
	}
	if err := keys.Revoke(ctx, key.ID, now); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("second Revoke: %v, want ErrNotFound", err)
	}
}

func TestFixedClock(t *testing.T) {
	c := memory.NewFixedClock(now)
	if !c.Now().Equal(now) {
		t.Fatal("NewFixedClock does not start at the given time")
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Advance(time.Second); _ = c.Now() })
	}
	wg.Wait()
	if !c.Now().Equal(now.Add(10 * time.Second)) {
		t.Fatalf("after 10 advances: %s", c.Now())
	}
	c.Set(now)
	if !c.Now().Equal(now) {
		t.Fatal("Set did not move the clock")
	}
}

func TestIDGenerators(t *testing.T) {
	for name, gen := range map[string]application.IDGenerator{"sequential": &memory.SequentialIDs{}, "UUIDv7": system.UUIDv7{}} {
		t.Run(name, func(t *testing.T) {
			var prev uuid.UUID
			for i := range 1000 {
				id := uuid.UUID(gen.NewID())
				if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
					t.Fatalf("%s: version %d, variant %s", id, id.Version(), id.Variant())
				}
				if i > 0 && (slices.Compare(prev[:], id[:]) >= 0 || prev.String() >= id.String()) {
					t.Fatalf("%s made after %s", id, prev)
				}
				prev = id
			}
		})
	}
}

// TestAuditorReportsOrderDrift: orders whose lots or clawbacks disagree
// with their status and cancelled amount are reported.
func TestAuditorReportsOrderDrift(t *testing.T) {
	price, _ := domain.NewMoney(10000, domain.KRW)
	pid, _ := domain.ParseProductID("pack-100")
	spec := domain.ProductSpec{Name: "100 credits", Price: price, Credits: cr("100"), BonusCredits: cr("10")}
	order := func(f *fixture, status domain.OrderStatus, cancelled int64) *domain.Order {
		id, _ := domain.ParsePaymentID("ord-1")
		return domain.RehydrateOrder(domain.StoredOrder{Tenant: f.tenant, Payment: id, Account: account("alice"), Product: pid, Spec: spec,
			Gateway: domain.GatewayPortOneV2, CustomData: `{"creditdOrder":"ord-1"}`, Status: status, Cancelled: cancelled, CreatedAt: now, UpdatedAt: now})
	}
	funded, _ := domain.NewFunding(domain.FundedByOrder, "ord-1")
	tests := []struct {
		name   string
		status domain.OrderStatus
		lots   bool // grant the order's lots, as a paid order does
		cancel int64
		want   string
	}{
		{"paid without lots", domain.OrderPaid, false, 0, "order ord-1 (PAID): lots funded by it: none; want paid 100 + bonus 10"},
		{"pending with lots", domain.OrderPending, true, 0, "order ord-1 (PENDING): lots funded by it: paid 100 + bonus 10; want none"},
		{"cancelled without clawback", domain.OrderPartiallyRefunded, true, 5000, "order ord-1 (PARTIALLY_REFUNDED): clawbacks take back 0, but 5000 of 10000 cancelled takes back 55"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			o := order(f, tt.status, tt.cancel)
			scope := application.Scope{Orders: []domain.PaymentID{o.PaymentID()},
				Wallets: []application.WalletRef{{Tenant: f.tenant, Account: account("alice")}}}
			err := f.txIn(scope, func(r application.Repos) error {
				if tt.lots {
					w, err := r.Wallets.LockOrCreate(f.ctx, domain.NewWallet(domain.WalletID(f.ids.NewID()), f.tenant, account("alice"), now))
					if err != nil {
						return err
					}
					var txs []domain.Transaction
					for _, g := range []domain.Grant{{Amount: cr("100"), Source: domain.LotPaid}, {Amount: cr("10"), Source: domain.LotBonus}} {
						g.Transaction, g.Lot, g.Priority, g.Funding = domain.TransactionID(f.ids.NewID()), domain.LotID(f.ids.NewID()), 50, funded
						tx, err := w.Grant(g, now)
						if err != nil {
							return err
						}
						txs = append(txs, tx)
					}
					f.save(r, w, txs...)
				}
				return r.Orders.Save(f.ctx, o)
			})
			if err != nil {
				t.Fatal(err)
			}
			report, err := f.store.Auditor().Audit(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(report.Drifts, tt.want) {
				t.Fatalf("drifts %q, want %q", report.Drifts, tt.want)
			}
		})
	}
}
