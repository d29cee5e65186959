package application_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// receiptOf renders outcomes the way an HTTP adapter might.
func receiptOf(result fmt.Stringer, rejection error) (application.Receipt, error) {
	if rejection != nil {
		status := 422
		if errors.Is(rejection, domain.ErrNotFound) {
			status = 404
		}
		return application.Receipt{Status: status, Body: []byte(rejection.Error())}, nil
	}
	return application.Receipt{Status: 201, Body: []byte(result.String())}, nil
}

func txKey(key, fingerprint string) *application.Idempotency[domain.Transaction] {
	return &application.Idempotency[domain.Transaction]{Key: key, Fingerprint: []byte(fingerprint),
		Encode: func(tx domain.Transaction, rejection error) (application.Receipt, error) {
			return receiptOf(stringer(tx.ID().String()+" "+tx.BalanceAfter().String()), rejection)
		}}
}

type stringer string

func (s stringer) String() string { return string(s) }

func (e *env) spendOnce(account, amount, key string) (*application.Receipt, error) {
	_, rec, err := e.accounts.Spend(e.ctx, application.SpendCommand{Tenant: e.tenant, Account: acct(account), Amount: cr(amount)},
		txKey(key, "spend "+account+" "+amount))
	return rec, err
}

func sameReceipt(a, b *application.Receipt) bool {
	return a != nil && b != nil && a.Status == b.Status && bytes.Equal(a.Body, b.Body)
}

func TestIdempotentSpendRunsOnce(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	tx, first, err := e.accounts.Spend(e.ctx, application.SpendCommand{Tenant: e.tenant, Account: acct("alice"), Amount: cr("30")},
		txKey("k1", "spend alice 30"))
	if err != nil || first == nil || first.Status != 201 || !strings.HasPrefix(string(first.Body), tx.ID().String()) {
		t.Fatalf("first spend: receipt %+v, %v", first, err)
	}
	for range 3 {
		again, err := e.spendOnce("alice", "30", "k1")
		if err != nil || !sameReceipt(first, again) {
			t.Fatalf("replay: %+v, %v; want %+v", again, err, first)
		}
	}
	e.wantAccount("alice", "70", "0")
	if n := len(e.history("alice")); n != 2 {
		t.Fatalf("%d transactions, want the grant and one spend", n)
	}
}

func TestIdempotencyKeyReusedForAnotherRequest(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	if _, err := e.spendOnce("alice", "30", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.spendOnce("alice", "31", "k1"); !errors.Is(err, application.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other amount: %v, want ErrIdempotencyKeyReused", err)
	}
	// A key is the tenant's, whatever the operation.
	_, _, err := e.accounts.Grant(e.ctx, application.GrantCommand{Tenant: e.tenant, Account: acct("alice"), Amount: cr("5"),
		Source: domain.LotBonus, Priority: 50}, txKey("k1", "grant alice 5"))
	if !errors.Is(err, application.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, a grant: %v, want ErrIdempotencyKeyReused", err)
	}
	e.wantAccount("alice", "70", "0")

	// Another tenant's key of the same name is another key.
	other := domain.TenantID(e.ids.NewID())
	if _, _, err := e.accounts.Grant(e.ctx, application.GrantCommand{Tenant: other, Account: acct("alice"), Amount: cr("5"),
		Source: domain.LotBonus, Priority: 50}, txKey("k1", "grant alice 5")); err != nil {
		t.Fatalf("another tenant's k1: %v", err)
	}
}

func TestIdempotentRejectionIsReplayed(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(e *env)
		status  int
	}{
		{"insufficient credits", func(e *env) { e.grant("alice", "10") }, 422},
		{"no account yet", func(e *env) {}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.prepare(e)
			first, err := e.spendOnce("alice", "50", "k1")
			if err != nil || first == nil || first.Status != tt.status {
				t.Fatalf("refused spend: receipt %+v, %v; want status %d", first, err, tt.status)
			}
			e.grant("alice", "100") // the spend could succeed now, but its answer is given
			again, err := e.spendOnce("alice", "50", "k1")
			if err != nil || !sameReceipt(first, again) {
				t.Fatalf("replay after a grant: %+v, %v; want %+v", again, err, first)
			}
			if _, err := e.spendOnce("alice", "51", "k1"); !errors.Is(err, application.ErrIdempotencyKeyReused) {
				t.Fatalf("same key, other amount: %v, want ErrIdempotencyKeyReused", err)
			}
			for _, tx := range e.history("alice") {
				if tx.Type() == domain.TransactionSpend {
					t.Fatal("the replayed spend ran")
				}
			}
		})
	}
}

func TestIdempotencyInfrastructureFailureIsNotStored(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	broken := errors.New("encoder broke")
	fail := true
	idem := &application.Idempotency[domain.Transaction]{Key: "k1", Fingerprint: []byte("f"),
		Encode: func(domain.Transaction, error) (application.Receipt, error) {
			if fail {
				return application.Receipt{}, broken
			}
			return application.Receipt{Status: 201}, nil
		}}
	cmd := application.SpendCommand{Tenant: e.tenant, Account: acct("alice"), Amount: cr("30")}
	if _, _, err := e.accounts.Spend(e.ctx, cmd, idem); !errors.Is(err, broken) {
		t.Fatalf("Spend = %v, want the encoder's error", err)
	}
	e.wantAccount("alice", "100", "0") // the spend rolled back with the failed receipt
	fail = false
	if _, rec, err := e.accounts.Spend(e.ctx, cmd, idem); err != nil || rec.Status != 201 {
		t.Fatalf("retry after the failure: %+v, %v", rec, err)
	}
	e.wantAccount("alice", "70", "0")
}

func TestConcurrentIdempotentCallsRunOnce(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	const callers = 32
	receipts := make([]*application.Receipt, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { receipts[i], errs[i] = e.spendOnce("alice", "1", "same") })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || !sameReceipt(receipts[0], receipts[i]) || receipts[i].Status != 201 {
			t.Fatalf("caller %d: %+v, %v; want %+v", i, receipts[i], errs[i], receipts[0])
		}
	}
	e.wantAccount("alice", "99", "0")
	if n := len(e.history("alice")); n != 2 {
		t.Fatalf("%d transactions, want the grant and one spend", n)
	}
}

func TestIdempotentHolds(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	holdKey := func(key string) *application.Idempotency[application.HoldView] {
		return &application.Idempotency[application.HoldView]{Key: key, Fingerprint: []byte(key),
			Encode: func(h application.HoldView, rejection error) (application.Receipt, error) {
				if rejection != nil {
					return receiptOf(nil, rejection)
				}
				return receiptOf(h.ID(), nil)
			}}
	}
	captureKey := &application.Idempotency[application.Capture]{Key: "capture", Fingerprint: []byte("capture"),
		Encode: func(c application.Capture, rejection error) (application.Receipt, error) {
			return receiptOf(c.Transaction.ID(), rejection)
		}}
	place := application.PlaceHoldCommand{Tenant: e.tenant, Account: acct("alice"), Amount: cr("60"), ExpiresIn: time.Hour}
	h, first, err := e.holds.Place(e.ctx, place, holdKey("place"))
	if err != nil {
		t.Fatal(err)
	}
	if _, again, err := e.holds.Place(e.ctx, place, holdKey("place")); err != nil || !sameReceipt(first, again) {
		t.Fatalf("replayed place: %+v, %v", again, err)
	}
	e.wantAccount("alice", "100", "60")

	capture := application.CaptureCommand{Tenant: e.tenant, Hold: h.ID(), Amount: cr("25")}
	for range 2 {
		if _, _, err := e.holds.Capture(e.ctx, capture, captureKey); err != nil {
			t.Fatal(err)
		}
	}
	e.wantAccount("alice", "75", "35")

	release := application.ReleaseCommand{Tenant: e.tenant, Hold: h.ID()}
	_, first, err = e.holds.Release(e.ctx, release, holdKey("release"))
	if err != nil {
		t.Fatal(err)
	}
	// A second release would be refused; the replay answers as the first did.
	if _, again, err := e.holds.Release(e.ctx, release, holdKey("release")); err != nil || !sameReceipt(first, again) || again.Status != 201 {
		t.Fatalf("replayed release: %+v, %v; want %+v", again, err, first)
	}
	e.wantAccount("alice", "75", "0")
}

func TestIdempotencyJanitor(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	if _, err := e.spendOnce("alice", "1", "old"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	if _, err := e.spendOnce("alice", "1", "new"); err != nil {
		t.Fatal(err)
	}
	janitor := application.NewIdempotencyJanitor(e.store.IdempotencyCleaner(), e.clock, 30*24*time.Hour)
	e.clock.Advance(29*24*time.Hour + time.Second) // "old" is now past 30 days, "new" is not
	if n, err := janitor.Sweep(e.ctx); n != 1 || err != nil {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := e.spendOnce("alice", "1", "old"); err != nil { // forgotten, so it runs again
		t.Fatal(err)
	}
	if _, err := e.spendOnce("alice", "1", "new"); err != nil { // remembered: replayed
		t.Fatal(err)
	}
	e.wantAccount("alice", "97", "0")
}
