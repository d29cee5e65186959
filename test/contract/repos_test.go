//go:build integration

package contract

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// These tests state what every implementation of the repository ports must
// do, and run once per entry of factories. They drive the ports the way the
// use cases do: domain objects changed by their own methods, stored through
// the repositories inside UnitOfWork.WithinTx.

// fixture is one implementation with two tenants that exist.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	ports  ports
	ids    *memory.SequentialIDs
	tenant domain.TenantID
	other  domain.TenantID
}

// contract runs test once per implementation, in parallel.
func contract(t *testing.T, test func(t *testing.T, f *fixture)) { contractOn(t, factories, test) }

// contractOn runs test on the given implementations.
func contractOn(t *testing.T, impls []factory, test func(t *testing.T, f *fixture)) {
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			f := &fixture{t: t, ctx: t.Context(), ports: impl.new(t, memory.NewFixedClock(now)), ids: &memory.SequentialIDs{}}
			f.tenant = f.ensureTenant("acme")
			f.other = f.ensureTenant("globex")
			test(t, f)
		})
	}
}

func (f *fixture) ensureTenant(name string) domain.TenantID {
	f.t.Helper()
	n, err := domain.ParseTenantName(name)
	if err != nil {
		f.t.Fatal(err)
	}
	id, err := f.ports.keys.EnsureTenant(f.ctx, n, domain.TenantID(f.ids.NewID()))
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

var (
	now     = start
	errBoom = errors.New("boom")
)

func acct(s string) domain.AccountID {
	a, err := domain.ParseAccountID(s)
	if err != nil {
		panic(err)
	}
	return a
}

func cr(s string) domain.Credits { return domain.MustCredits(s) }

// tx runs fn in a unit of work whose scope is everything these tests touch.
func (f *fixture) tx(fn func(r application.Repos) error) error { return f.txIn(f.everything(), fn) }

func (f *fixture) txIn(scope application.Scope, fn func(r application.Repos) error) error {
	return f.ports.uow.WithinTx(f.ctx, scope, func(_ context.Context, r application.Repos) error { return fn(r) })
}

// everything is every account and idempotency key the tests use, in both
// tenants; TestScope checks what lies outside a scope.
func (f *fixture) everything() application.Scope {
	var s application.Scope
	for _, tenant := range []domain.TenantID{f.tenant, f.other} {
		for _, a := range []string{"alice", "bob", "nobody", "a", "b", "c", "d", "e", "f", "g", "h"} {
			s.Wallets = append(s.Wallets, application.WalletRef{Tenant: tenant, Account: acct(a)})
		}
		s.Keys = append(s.Keys, application.IdempotencyKey{Tenant: tenant, Key: "k"})
	}
	return s
}

func (f *fixture) mustTx(fn func(r application.Repos) error) {
	f.t.Helper()
	if err := f.tx(fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) fresh(tenant domain.TenantID, account string) *domain.Wallet {
	return domain.NewWallet(domain.WalletID(f.ids.NewID()), tenant, acct(account), now)
}

// grant opens the wallet if need be and adds a lot, as Credits.Grant does.
func (f *fixture) grant(r application.Repos, tenant domain.TenantID, account, amount string, expiresAt *time.Time) (*domain.Wallet, domain.Transaction) {
	f.t.Helper()
	w, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(tenant, account))
	if err != nil {
		f.t.Fatal(err)
	}
	funding, err := domain.NewFunding(domain.FundedExternally, "pay_"+account)
	if err != nil {
		f.t.Fatal(err)
	}
	tx, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(f.ids.NewID()), Lot: domain.LotID(f.ids.NewID()),
		Amount: cr(amount), Source: domain.LotBonus, Priority: domain.DefaultLotPriority, ExpiresAt: expiresAt,
		Memo: domain.Memo{Reason: "r", Metadata: domain.Metadata{"k": "v"}}, Funding: funding}, now)
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
	if len(txs) > 0 {
		if err := r.Ledger.Append(f.ctx, txs...); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) spend(r application.Repos, w *domain.Wallet, amount string) domain.Transaction {
	f.t.Helper()
	tx, err := w.Spend(domain.TransactionID(f.ids.NewID()), cr(amount), domain.Memo{}, now)
	if err != nil {
		f.t.Fatal(err)
	}
	f.save(r, w, tx)
	return tx
}

func (f *fixture) placeHold(r application.Repos, w *domain.Wallet, amount string, expiresAt time.Time) *domain.Hold {
	f.t.Helper()
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr(amount), ExpiresAt: expiresAt}, now)
	if err != nil {
		f.t.Fatal(err)
	}
	f.save(r, w)
	if err := r.Holds.Save(f.ctx, h); err != nil {
		f.t.Fatal(err)
	}
	return h
}

// wantSound fails the test on any audit drift.
func (f *fixture) wantSound() application.AuditReport {
	f.t.Helper()
	report, err := f.ports.auditor.Audit(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, d := range report.Drifts {
		f.t.Errorf("audit drift: %s", d)
	}
	return report
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

func txIDs(txs []domain.Transaction) []domain.TransactionID {
	var out []domain.TransactionID
	for _, tx := range txs {
		out = append(out, tx.ID())
	}
	return out
}

// TestScope: a unit of work may lock only the wallets its scope names, by
// account or through a hold of the same tenant, and claim only its keys.
func TestScope(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var h *domain.Hold
		f.mustTx(func(r application.Repos) error {
			f.grant(r, f.tenant, "bob", "5", nil)
			w, _ := f.grant(r, f.tenant, "alice", "5", nil)
			h = f.placeHold(r, w, "2", now.Add(time.Hour))
			return nil
		})
		alice := application.WalletScope(f.tenant, acct("alice"))
		err := f.txIn(alice, func(r application.Repos) error {
			_, err := r.Wallets.Lock(f.ctx, f.tenant, acct("bob"))
			return err
		})
		wantErr(t, "Lock of a wallet outside the scope", err, application.ErrOutOfScope)
		err = f.txIn(alice, func(r application.Repos) error {
			_, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(f.other, "alice"))
			return err
		})
		wantErr(t, "LockOrCreate of another tenant's wallet of the same account", err, application.ErrOutOfScope)
		err = f.txIn(alice, func(r application.Repos) error {
			return r.Idempotency.Claim(f.ctx, application.IdempotencyRecord{Tenant: f.tenant, Key: "k", CreatedAt: now})
		})
		wantErr(t, "Claim of a key outside the scope", err, application.ErrOutOfScope)
		bob, err := f.ports.queries.Wallets.Get(f.ctx, f.tenant, acct("bob"))
		if err != nil {
			t.Fatal(err)
		}
		bobs, err := bob.PlaceHold(domain.NewHold{Hold: domain.HoldID(f.ids.NewID()), Amount: cr("1"), ExpiresAt: now.Add(time.Hour)}, now)
		if err != nil {
			t.Fatal(err)
		}
		err = f.txIn(alice, func(r application.Repos) error { return r.Holds.Save(f.ctx, bobs) })
		wantErr(t, "Save of a hold of a wallet outside the scope", err, application.ErrOutOfScope)

		err = f.txIn(application.HoldScope(f.tenant, h.ID()), func(r application.Repos) error {
			w, err := r.Wallets.Lock(f.ctx, f.tenant, acct("alice"))
			if err != nil || !w.Held().Equal(cr("2")) {
				return fmt.Errorf("Lock of the hold's wallet = %v, %w", w, err)
			}
			_, err = r.Wallets.Lock(f.ctx, f.tenant, acct("bob"))
			wantErr(t, "Lock of a wallet beside the hold's", err, application.ErrOutOfScope)
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		err = f.txIn(application.HoldScope(f.other, h.ID()), func(r application.Repos) error {
			_, err := r.Wallets.Lock(f.ctx, f.tenant, acct("alice"))
			return err
		})
		wantErr(t, "Lock through another tenant's hold", err, application.ErrOutOfScope)
	})
}

func TestWalletLockOfMissingAccount(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		f.mustTx(func(r application.Repos) error { f.grant(r, f.tenant, "alice", "1", nil); return nil })
		err := f.tx(func(r application.Repos) error {
			_, err := r.Wallets.Lock(f.ctx, f.tenant, acct("nobody"))
			return err
		})
		wantErr(t, "Lock of an account without a wallet", err, domain.ErrNotFound)
		err = f.tx(func(r application.Repos) error {
			_, err := r.Wallets.Lock(f.ctx, f.other, acct("alice"))
			return err
		})
		wantErr(t, "Lock of another tenant's account", err, domain.ErrNotFound)
		_, err = f.ports.queries.Wallets.Get(f.ctx, f.tenant, acct("nobody"))
		wantErr(t, "Get of an account without a wallet", err, domain.ErrNotFound)
		_, err = f.ports.queries.Wallets.Get(f.ctx, f.other, acct("alice"))
		wantErr(t, "Get of another tenant's account", err, domain.ErrNotFound)
	})
}

func TestWalletLockOrCreateTwice(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		first := f.fresh(f.tenant, "alice")
		var created *domain.Wallet
		f.mustTx(func(r application.Repos) error {
			var err error
			if created, err = r.Wallets.LockOrCreate(f.ctx, first); err != nil {
				return err
			}
			again, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(f.tenant, "alice"))
			if err != nil {
				return err
			}
			if again.ID() != first.ID() {
				t.Errorf("second LockOrCreate in the same unit of work: wallet %s, want %s", again.ID(), first.ID())
			}
			return nil
		})
		if created.ID() != first.ID() || !created.Balance().IsZero() || len(created.Lots()) != 0 || created.Tenant() != f.tenant {
			t.Fatalf("LockOrCreate of a new account = %s", renderWallet(created))
		}
		f.mustTx(func(r application.Repos) error { f.grant(r, f.tenant, "alice", "5", nil); return nil })
		f.mustTx(func(r application.Repos) error {
			w, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(f.tenant, "alice"))
			if err != nil {
				return err
			}
			if w.ID() != first.ID() || !w.Balance().Equal(cr("5")) || len(w.Lots()) != 1 || !w.CreatedAt().Equal(now) {
				t.Errorf("LockOrCreate of an existing account = %s; want wallet %s with 5 in one lot", renderWallet(w), first.ID())
			}
			return nil
		})
		// The same account name under another tenant is another wallet.
		f.mustTx(func(r application.Repos) error {
			w, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(f.other, "alice"))
			if err == nil && (w.ID() == first.ID() || !w.Balance().IsZero()) {
				t.Errorf("another tenant's alice = %s", renderWallet(w))
			}
			return err
		})
		if report := f.wantSound(); report.Wallets != 2 {
			t.Errorf("audit saw %d wallets, want 2", report.Wallets)
		}
	})
}

// TestWalletNeedsKnownTenant: PostgreSQL has a foreign key from wallets to
// tenants, so a wallet cannot be opened for a tenant that does not exist.
// TestWalletNeedsKnownTenant: PostgreSQL's foreign key refuses a wallet of an
// unknown tenant. Memory does not model tenants as rows (its fixtures never
// register them), and the application only opens wallets for tenants it
// authenticated, so this runs on PostgreSQL alone.
func TestWalletNeedsKnownTenant(t *testing.T) {
	postgresOnly := slices.DeleteFunc(slices.Clone(factories), func(f factory) bool { return f.name != "postgres" })
	contractOn(t, postgresOnly, func(t *testing.T, f *fixture) {
		stranger := domain.TenantID(f.ids.NewID())
		err := f.txIn(application.WalletScope(stranger, acct("alice")), func(r application.Repos) error {
			_, err := r.Wallets.LockOrCreate(f.ctx, f.fresh(stranger, "alice"))
			return err
		})
		if err == nil || domain.IsRejection(err) {
			t.Fatalf("LockOrCreate for a tenant that does not exist: %v, want a constraint failure", err)
		}
	})
}

func TestIdempotencyClaimTwice(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		rec := application.IdempotencyRecord{Tenant: f.tenant, Key: "k", Fingerprint: []byte("f"), CreatedAt: now}
		f.mustTx(func(r application.Repos) error {
			if err := r.Idempotency.Claim(f.ctx, rec); err != nil {
				return err
			}
			return r.Idempotency.Complete(f.ctx, f.tenant, "k", application.Receipt{Status: 201, Body: []byte("done")})
		})
		err := f.tx(func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, rec) })
		wantErr(t, "second claim in a unit of work", err, application.ErrIdempotencyKeyTaken)

		got, err := f.ports.queries.Idempotency.Get(f.ctx, f.tenant, "k")
		if err != nil || got.Tenant != f.tenant || got.Key != "k" || string(got.Fingerprint) != "f" ||
			got.Receipt.Status != 201 || string(got.Receipt.Body) != "done" || got.Receipt.Replayed || !got.CreatedAt.Equal(now) {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		other := rec
		other.Tenant = f.other
		if err := f.tx(func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, other) }); err != nil {
			t.Fatalf("the same key for another tenant: %v", err)
		}
		_, err = f.ports.queries.Idempotency.Get(f.ctx, f.tenant, "unknown")
		wantErr(t, "Get of an unknown key", err, domain.ErrNotFound)
	})
}

// TestIdempotencyCompleteNeedsClaim: a receipt for a key the unit of work
// did not claim is refused, rather than silently not stored.
func TestIdempotencyCompleteNeedsClaim(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		err := f.tx(func(r application.Repos) error {
			return r.Idempotency.Complete(f.ctx, f.tenant, "k", application.Receipt{Status: 201})
		})
		if err == nil {
			t.Fatal("Complete of an unclaimed key in a unit of work succeeded")
		}
		_, err = f.ports.queries.Idempotency.Get(f.ctx, f.tenant, "k")
		wantErr(t, "Get after the refused receipts", err, domain.ErrNotFound)
	})
}

func TestIdempotencyClaimRolledBack(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		rec := application.IdempotencyRecord{Tenant: f.tenant, Key: "k", Fingerprint: []byte("f"), CreatedAt: now}
		err := f.tx(func(r application.Repos) error {
			if err := r.Idempotency.Claim(f.ctx, rec); err != nil {
				return err
			}
			if err := r.Idempotency.Complete(f.ctx, f.tenant, "k", application.Receipt{Status: 201}); err != nil {
				return err
			}
			return errBoom
		})
		wantErr(t, "WithinTx", err, errBoom)
		_, err = f.ports.queries.Idempotency.Get(f.ctx, f.tenant, "k")
		wantErr(t, "Get after the rollback", err, domain.ErrNotFound)
		if err := f.tx(func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, rec) }); err != nil {
			t.Fatalf("claim after the rollback: %v", err)
		}
	})
}

// TestIdempotencyNilFingerprint: a record without a fingerprint (nil, as a
// caller gets by leaving Idempotency.Fingerprint unset) or without a body is
// stored, and reads back as empty.
func TestIdempotencyNilFingerprint(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		rec := application.IdempotencyRecord{Tenant: f.tenant, Key: "k", CreatedAt: now}
		if err := f.tx(func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, rec) }); err != nil {
			t.Fatalf("Claim with a nil fingerprint and body: %v", err)
		}
		got, err := f.ports.queries.Idempotency.Get(f.ctx, f.tenant, "k")
		if err != nil || len(got.Fingerprint) != 0 || len(got.Receipt.Body) != 0 {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	})
}

func TestIdempotencyDeleteBefore(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		for i, at := range []time.Time{now.Add(-time.Hour), now.Add(-time.Microsecond), now, now.Add(time.Hour)} {
			rec := application.IdempotencyRecord{Tenant: f.tenant, Key: string(rune('a' + i)), Fingerprint: []byte("f"), CreatedAt: at}
			scope := application.Scope{Keys: []application.IdempotencyKey{{Tenant: f.tenant, Key: rec.Key}}}
			if err := f.txIn(scope, func(r application.Repos) error { return r.Idempotency.Claim(f.ctx, rec) }); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := f.ports.cleaner.DeleteBefore(f.ctx, now); n != 2 || err != nil {
			t.Fatalf("DeleteBefore(now) = %d, %v; want 2 (strictly before)", n, err)
		}
		for key, want := range map[string]error{"a": domain.ErrNotFound, "b": domain.ErrNotFound, "c": nil, "d": nil} {
			_, err := f.ports.queries.Idempotency.Get(f.ctx, f.tenant, key)
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Errorf("Get(%s) after DeleteBefore: %v, want %v", key, err, want)
			}
		}
	})
}

func TestHoldGet(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var h *domain.Hold
		f.mustTx(func(r application.Repos) error {
			w, _ := f.grant(r, f.tenant, "alice", "10", nil)
			h = f.placeHold(r, w, "4", now.Add(time.Hour))
			return nil
		})
		_, err := f.ports.queries.Holds.Get(f.ctx, f.other, h.ID())
		wantErr(t, "Get of the hold as another tenant", err, domain.ErrNotFound)
		_, err = f.ports.queries.Holds.Get(f.ctx, f.tenant, domain.HoldID(f.ids.NewID()))
		wantErr(t, "Get of an unknown hold", err, domain.ErrNotFound)
		got, err := f.ports.queries.Holds.Get(f.ctx, f.tenant, h.ID())
		if err != nil || renderHold(application.HoldView{Hold: got}) != renderHold(application.HoldView{Hold: h}) {
			t.Fatalf("Get = %s, %v\nwant  %s", renderHold(application.HoldView{Hold: got}), err, renderHold(application.HoldView{Hold: h}))
		}
		f.wantSound()
	})
}

// TestWalletWithOpenHolds: the wallet, its open lots and its open holds
// (not the closed ones, not another wallet's), in id order.
func TestWalletWithOpenHolds(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var open []*domain.Hold
		f.mustTx(func(r application.Repos) error {
			w, _ := f.grant(r, f.tenant, "alice", "10", nil)
			first := f.placeHold(r, w, "1", now.Add(time.Hour))
			closed := f.placeHold(r, w, "2", now.Add(time.Hour))
			second := f.placeHold(r, w, "3", now.Add(time.Minute))
			if err := w.ReleaseHold(closed, now); err != nil {
				return err
			}
			f.save(r, w)
			if err := r.Holds.Save(f.ctx, closed); err != nil {
				return err
			}
			bob, _ := f.grant(r, f.tenant, "bob", "5", nil)
			f.placeHold(r, bob, "5", now.Add(time.Hour))
			open = []*domain.Hold{first, second}
			return nil
		})
		w, holds, err := f.ports.queries.Wallets.GetWithOpenHolds(f.ctx, f.tenant, acct("alice"))
		if err != nil || w.Held().String() != "4" || len(w.Lots()) != 1 {
			t.Fatalf("GetWithOpenHolds = %v held %v, %v", w, w.Held(), err)
		}
		var got, want []string
		for _, h := range holds {
			got = append(got, renderHold(application.HoldView{Hold: h}))
		}
		for _, h := range open {
			want = append(want, renderHold(application.HoldView{Hold: h}))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("open holds:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		_, _, err = f.ports.queries.Wallets.GetWithOpenHolds(f.ctx, f.other, acct("alice"))
		wantErr(t, "another tenant's alice", err, domain.ErrNotFound)
		f.wantSound()
	})
}

func TestLedgerHistory(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var w *domain.Wallet
		var want []domain.Transaction
		f.mustTx(func(r application.Repos) error {
			var tx domain.Transaction
			w, tx = f.grant(r, f.tenant, "alice", "100", nil)
			want = append(want, tx)
			for range 4 {
				want = append(want, f.spend(r, w, "1.5"))
			}
			f.grant(r, f.tenant, "bob", "1", nil) // another wallet's history
			return nil
		})
		slices.Reverse(want) // newest first
		ids := txIDs(want)
		reads := f.ports.queries
		all, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 100)
		if err != nil || !slices.Equal(txIDs(all), ids) {
			t.Fatalf("History = %v, %v; want %v", txIDs(all), err, ids)
		}
		for i := range all {
			if renderTx(all[i]) != renderTx(want[i]) {
				t.Errorf("History[%d] = %s\nwant         %s", i, renderTx(all[i]), renderTx(want[i]))
			}
		}
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID(), Before: &ids[1]}, 2); err != nil || !slices.Equal(txIDs(page), ids[2:4]) {
			t.Errorf("History before %s, limit 2 = %v, %v; want %v", ids[1], txIDs(page), err, ids[2:4])
		}
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID(), Before: &ids[4]}, 10); err != nil || len(page) != 0 {
			t.Errorf("History before the oldest = %v, %v", txIDs(page), err)
		}
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 3); err != nil || !slices.Equal(txIDs(page), ids[:3]) {
			t.Errorf("History limit 3 = %v, %v; want %v", txIDs(page), err, ids[:3])
		}
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: domain.WalletID(f.ids.NewID())}, 10); err != nil || len(page) != 0 {
			t.Errorf("History of an unknown wallet = %v, %v", txIDs(page), err)
		}

		// Ids order by their bytes, not by when they were appended.
		early := domain.TransactionID{}
		f.mustTx(func(r application.Repos) error {
			wallet, err := r.Wallets.Lock(f.ctx, f.tenant, acct("alice"))
			if err != nil {
				return err
			}
			tx, err := wallet.Spend(early, cr("1"), domain.Memo{}, now)
			if err != nil {
				return err
			}
			f.save(r, wallet, tx)
			return nil
		})
		if all, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 100); err != nil || len(all) != 6 || all[5].ID() != early {
			t.Errorf("the zero id is not the oldest: %v, %v", txIDs(all), err)
		}
		f.wantSound()

		t.Run("limit 0", func(t *testing.T) {
			if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: w.ID()}, 0); err != nil || len(page) != 0 {
				t.Errorf("History limit 0 = %d transactions, %v; want none (\"up to limit\")", len(page), err)
			}
		})
	})
}

func TestLedgerAppendDuplicate(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var tx domain.Transaction
		f.mustTx(func(r application.Repos) error { _, tx = f.grant(r, f.tenant, "alice", "1", nil); return nil })
		err := f.tx(func(r application.Repos) error { return r.Ledger.Append(f.ctx, tx) })
		if err == nil || domain.IsRejection(err) {
			t.Fatalf("Append of a duplicate id: %v, want a constraint failure", err)
		}
	})
}

func TestWalletsDueForExpiry(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		soon, later := now.Add(time.Minute), now.Add(time.Hour)
		f.mustTx(func(r application.Repos) error {
			f.grant(r, f.tenant, "a", "1", &soon)
			f.grant(r, f.other, "b", "1", &soon)
			f.grant(r, f.tenant, "c", "1", &later)
			f.grant(r, f.tenant, "d", "1", nil)
			w, _ := f.grant(r, f.tenant, "e", "1", &soon) // fully held: nothing to expire
			f.placeHold(r, w, "1", later)
			w, _ = f.grant(r, f.tenant, "f", "2", &soon) // partly held: the rest expires
			f.placeHold(r, w, "1", later)
			w, _ = f.grant(r, f.tenant, "g", "1", &soon) // spent: nothing left
			f.spend(r, w, "1")
			f.grant(r, f.tenant, "h", "1", &soon) // two due lots, one wallet
			f.grant(r, f.tenant, "h", "1", &soon)
			return nil
		})
		due := func(at time.Time, limit int) []string {
			t.Helper()
			refs, err := f.ports.queries.Wallets.DueForExpiry(f.ctx, at, limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, ref := range refs {
				name := ref.Account.String()
				if ref.Tenant == f.other {
					name = "other/" + name
				}
				out = append(out, name)
			}
			slices.Sort(out) // the port promises no order
			return out
		}
		if got, want := due(soon, 10), []string{"a", "f", "h", "other/b"}; !slices.Equal(got, want) {
			t.Errorf("due at expiry: %v, want %v", got, want)
		}
		if got := due(soon.Add(-time.Microsecond), 10); len(got) != 0 {
			t.Errorf("due a microsecond before expiry: %v", got)
		}
		if got, want := due(later, 10), []string{"a", "c", "f", "h", "other/b"}; !slices.Equal(got, want) {
			t.Errorf("due an hour later: %v, want %v", got, want)
		}
		if got := due(later, 2); len(got) != 2 {
			t.Errorf("limit 2 gave %v", got)
		}
		t.Run("limit 0", func(t *testing.T) {
			if got := due(later, 0); len(got) != 0 {
				t.Errorf("limit 0 gave %v", got)
			}
		})
	})
}

func TestHoldsDue(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var holds []*domain.Hold
		f.mustTx(func(r application.Repos) error {
			w, _ := f.grant(r, f.tenant, "alice", "10", nil)
			for _, in := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute, time.Minute, time.Minute} {
				holds = append(holds, f.placeHold(r, w, "1", now.Add(in)))
			}
			if err := w.ReleaseHold(holds[2], now); err != nil {
				return err
			}
			tx, err := w.CaptureHold(holds[3], domain.TransactionID(f.ids.NewID()), cr("1"), now)
			if err != nil {
				return err
			}
			f.save(r, w, tx)
			o, _ := f.grant(r, f.other, "bob", "1", nil)
			holds = append(holds, f.placeHold(r, o, "0.5", now.Add(time.Minute)))
			for _, h := range holds[2:4] {
				if err := r.Holds.Save(f.ctx, h); err != nil {
					return err
				}
			}
			return nil
		})
		due := func(at time.Time, limit int) []application.HoldRef {
			t.Helper()
			refs, err := f.ports.queries.Holds.Due(f.ctx, at, limit)
			if err != nil {
				t.Fatal(err)
			}
			return refs
		}
		// Open holds only (not the released [2] nor the captured [3]), soonest first.
		got := due(now.Add(time.Hour), 10)
		var ids []domain.HoldID
		for _, ref := range got {
			ids = append(ids, ref.Hold)
			if want := f.tenant; ref.Hold == holds[5].ID() {
				want = f.other
				if ref.Tenant != want {
					t.Errorf("Due gave tenant %s for the other tenant's hold", ref.Tenant)
				}
			} else if ref.Tenant != want {
				t.Errorf("Due gave tenant %s for hold %s", ref.Tenant, ref.Hold)
			}
		}
		soonest := []domain.HoldID{holds[1].ID(), holds[4].ID(), holds[5].ID()} // all at +1m: any order
		if len(ids) != 4 || !sameSet(ids[:3], soonest) || ids[3] != holds[0].ID() {
			t.Errorf("Due = %v, want %v (any order) then %s", ids, soonest, holds[0].ID())
		}
		if got := due(now.Add(time.Minute), 10); len(got) != 3 {
			t.Errorf("Due at the first expiry = %v", got)
		}
		if got := due(now.Add(time.Minute-time.Microsecond), 10); len(got) != 0 {
			t.Errorf("Due a microsecond before the first expiry = %v", got)
		}
		if got := due(now.Add(time.Hour), 1); len(got) != 1 {
			t.Errorf("Due limit 1 = %v", got)
		}
		t.Run("limit 0", func(t *testing.T) {
			if got := due(now.Add(time.Hour), 0); len(got) != 0 {
				t.Errorf("Due limit 0 = %d holds, want none (\"up to limit\")", len(got))
			}
		})
		f.wantSound()
	})
}

func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func TestFailingUnitOfWorkLeavesNothing(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		var bob *domain.Wallet
		f.mustTx(func(r application.Repos) error { bob, _ = f.grant(r, f.tenant, "bob", "10", nil); return nil })
		var alice *domain.Wallet
		var hold *domain.Hold
		err := f.tx(func(r application.Repos) error {
			alice, _ = f.grant(r, f.tenant, "alice", "10", nil)
			hold = f.placeHold(r, alice, "3", now.Add(time.Hour))
			w, err := r.Wallets.Lock(f.ctx, f.tenant, acct("bob"))
			if err != nil {
				return err
			}
			f.spend(r, w, "4")
			if err := r.Idempotency.Claim(f.ctx, application.IdempotencyRecord{Tenant: f.tenant, Key: "k", Fingerprint: []byte("f"), CreatedAt: now}); err != nil {
				return err
			}
			return errBoom
		})
		wantErr(t, "WithinTx", err, errBoom)
		reads := f.ports.queries
		_, err = reads.Wallets.Get(f.ctx, f.tenant, acct("alice"))
		wantErr(t, "the new wallet", err, domain.ErrNotFound)
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: alice.ID()}, 10); err != nil || len(page) != 0 {
			t.Errorf("the new wallet's history: %v, %v", txIDs(page), err)
		}
		_, err = reads.Holds.Get(f.ctx, f.tenant, hold.ID())
		wantErr(t, "the new hold", err, domain.ErrNotFound)
		_, err = reads.Idempotency.Get(f.ctx, f.tenant, "k")
		wantErr(t, "the claimed key", err, domain.ErrNotFound)
		if w, err := reads.Wallets.Get(f.ctx, f.tenant, acct("bob")); err != nil || !w.Balance().Equal(cr("10")) ||
			len(w.Lots()) != 1 || !w.Lots()[0].Remaining().Equal(cr("10")) {
			t.Errorf("bob after the rolled back spend: %v, %v", w, err)
		}
		if page, err := reads.Lookups.History(f.ctx, application.HistoryFilter{Wallet: bob.ID()}, 10); err != nil || len(page) != 1 {
			t.Errorf("bob's history: %v, %v", txIDs(page), err)
		}
		if report := f.wantSound(); report.Wallets != 1 || report.Transactions != 1 {
			t.Errorf("audit saw %d wallets and %d transactions, want 1 and 1", report.Wallets, report.Transactions)
		}
	})
}

// TestTimesKeepMicroseconds: PostgreSQL keeps times to the microsecond (bun
// writes them with six fractional digits, dropping the rest), so a time with
// nanoseconds, as an RFC 3339 expiresAt may carry, reads back truncated, and
// is due from the truncated instant on.
func TestTimesKeepMicroseconds(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		lotExpiry := now.Add(time.Hour + 999*time.Nanosecond)
		holdExpiry := now.Add(time.Minute + 999*time.Nanosecond)
		var hold *domain.Hold
		f.mustTx(func(r application.Repos) error {
			w, _ := f.grant(r, f.tenant, "alice", "2", &lotExpiry)
			hold = f.placeHold(r, w, "1", holdExpiry)
			return nil
		})
		w, err := f.ports.queries.Wallets.Get(f.ctx, f.tenant, acct("alice"))
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Lots()[0].ExpiresAt(); got == nil || !got.Equal(now.Add(time.Hour)) {
			t.Errorf("lot expiry %s read back as %s, want %s", renderTime(lotExpiry), renderTimePtr(got), renderTime(now.Add(time.Hour)))
		}
		if due, err := f.ports.queries.Wallets.DueForExpiry(f.ctx, now.Add(time.Hour), 10); err != nil || len(due) != 1 {
			t.Errorf("wallets due at the truncated lot expiry: %v, %v; want alice's", due, err)
		}
		h, err := f.ports.queries.Holds.Get(f.ctx, f.tenant, hold.ID())
		if err != nil {
			t.Fatal(err)
		}
		if !h.ExpiresAt().Equal(now.Add(time.Minute)) {
			t.Errorf("hold expiry %s read back as %s, want %s", renderTime(holdExpiry), renderTime(h.ExpiresAt()), renderTime(now.Add(time.Minute)))
		}
		if due, err := f.ports.queries.Holds.Due(f.ctx, now.Add(time.Minute), 10); err != nil || len(due) != 1 {
			t.Errorf("holds due at the truncated hold expiry: %v, %v; want one", due, err)
		}
	})
}
