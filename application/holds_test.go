package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestHoldReservesCredits(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	h, err := e.placeHold("alice", "60", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status() != domain.HoldActive || !h.Amount().Equal(cr("60")) || !h.Remaining().Equal(cr("60")) {
		t.Fatalf("new hold: %s, amount %s, remaining %s", h.Status(), h.Amount(), h.Remaining())
	}
	e.wantAccount("alice", "100", "60")
	if _, err := e.spend("alice", "40.000001"); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("spend of held credits: %v, want ErrInsufficientCredits", err)
	}
	if _, err := e.placeHold("alice", "41", time.Hour); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("hold of held credits: %v, want ErrInsufficientCredits", err)
	}
	if _, err := e.spend("alice", "40"); err != nil {
		t.Fatal(err)
	}
	e.wantAccount("alice", "60", "60")
	got, err := e.holds.Get(e.ctx, e.tenant, h.ID())
	if err != nil || !got.Remaining().Equal(cr("60")) {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if n := len(e.history("alice")); n != 2 {
		t.Fatalf("%d transactions, want 2: a hold moves no credits", n)
	}
}

func TestPlaceHoldRefuses(t *testing.T) {
	tests := []struct {
		name    string
		account string
		amount  string
		in      time.Duration
		want    error
	}{
		{"more than available", "alice", "10.000001", time.Hour, domain.ErrInsufficientCredits},
		{"zero", "alice", "0", time.Hour, domain.ErrInvalidInput},
		{"too short", "alice", "1", time.Second - time.Nanosecond, domain.ErrInvalidInput},
		{"too long", "alice", "1", domain.MaxHoldDuration + time.Nanosecond, domain.ErrInvalidInput},
		{"unknown account", "nobody", "1", time.Hour, domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.grant("alice", "10")
			if _, err := e.placeHold(tt.account, tt.amount, tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("Place error = %v, want %v", err, tt.want)
			}
			e.wantAccount("alice", "10", "0")
		})
	}
}

func TestCaptures(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	h, err := e.placeHold("alice", "60", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		amount    string
		want      error
		status    domain.HoldStatus
		remaining string
		balance   string
	}{
		{"20", nil, domain.HoldPartiallyCaptured, "40", "80"},
		{"30", nil, domain.HoldPartiallyCaptured, "10", "50"},
		{"10.000001", domain.ErrCaptureExceedsHold, domain.HoldPartiallyCaptured, "10", "50"},
		{"0", domain.ErrInvalidInput, domain.HoldPartiallyCaptured, "10", "50"},
		{"10", nil, domain.HoldCaptured, "0", "40"},
		{"1", domain.ErrHoldNotCapturable, domain.HoldCaptured, "0", "40"},
	}
	for _, s := range steps {
		c, err := e.capture(h.ID(), s.amount)
		if !errors.Is(err, s.want) {
			t.Fatalf("capture %s: %v, want %v", s.amount, err, s.want)
		}
		if err == nil {
			if c.Transaction.Type() != domain.TransactionCapture || !c.Transaction.Amount().Equal(cr(s.amount)) ||
				c.Transaction.Hold() == nil || *c.Transaction.Hold() != h.ID() || c.Hold.Status() != s.status {
				t.Fatalf("capture %s: %s of %s for hold %v, hold %s", s.amount, c.Transaction.Type(), c.Transaction.Amount(),
					c.Transaction.Hold(), c.Hold.Status())
			}
		}
		got, err := e.holds.Get(e.ctx, e.tenant, h.ID())
		if err != nil {
			t.Fatal(err)
		}
		if got.Status() != s.status || !got.Remaining().Equal(cr(s.remaining)) {
			t.Fatalf("after capture %s: %s with %s remaining; want %s with %s", s.amount, got.Status(), got.Remaining(), s.status, s.remaining)
		}
		e.wantAccount("alice", s.balance, s.remaining)
	}
	if _, err := e.release(h.ID()); !errors.Is(err, domain.ErrHoldNotReleasable) {
		t.Fatalf("release of a captured hold: %v, want ErrHoldNotReleasable", err)
	}
	if got, _ := e.holds.Get(e.ctx, e.tenant, h.ID()); !got.Captured().Equal(cr("60")) {
		t.Fatalf("captured %s, want 60", got.Captured())
	}
}

func TestRelease(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "100")
	h, err := e.placeHold("alice", "60", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.capture(h.ID(), "15"); err != nil {
		t.Fatal(err)
	}
	released, err := e.release(h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if released.Status() != domain.HoldReleased || !released.Captured().Equal(cr("15")) || !released.Remaining().IsZero() {
		t.Fatalf("released hold: %s, captured %s, remaining %s", released.Status(), released.Captured(), released.Remaining())
	}
	e.wantAccount("alice", "85", "0")
	if _, err := e.capture(h.ID(), "1"); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("capture after release: %v, want ErrHoldNotCapturable", err)
	}
	if _, err := e.release(h.ID()); !errors.Is(err, domain.ErrHoldNotReleasable) {
		t.Fatalf("second release: %v, want ErrHoldNotReleasable", err)
	}
	if _, err := e.spend("alice", "85"); err != nil {
		t.Fatalf("released credits are not spendable: %v", err)
	}
}

func TestHoldsOfAnotherTenantAreNotFound(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	h, err := e.placeHold("alice", "5", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other := domain.TenantID(e.ids.NewID())
	if _, err := e.holds.Get(e.ctx, other, h.ID()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	if _, _, err := e.holds.Capture(e.ctx, application.CaptureCommand{Tenant: other, Hold: h.ID(), Amount: cr("1")}, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Capture: %v, want ErrNotFound", err)
	}
	if _, _, err := e.holds.Release(e.ctx, application.ReleaseCommand{Tenant: other, Hold: h.ID()}, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Release: %v, want ErrNotFound", err)
	}
	if _, err := e.capture(domain.HoldID(e.ids.NewID()), "1"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Capture of an unknown hold: %v, want ErrNotFound", err)
	}
	e.wantAccount("alice", "10", "5")
}

func TestHoldExpiry(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	short, err := e.placeHold("alice", "4", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	long, err := e.placeHold("alice", "3", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("ExpireHolds before expiry = %d, %v", s.Changed, err)
	}
	e.clock.Advance(time.Minute)
	got, err := e.holds.Get(e.ctx, e.tenant, short.ID())
	if err != nil || got.StatusAt(e.clock.Now()) != domain.HoldExpired {
		t.Fatalf("due hold reads as %v (%v), want EXPIRED", got.StatusAt(e.clock.Now()), err)
	}
	if _, err := e.capture(short.ID(), "1"); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("capture of a due hold: %v, want ErrHoldNotCapturable", err)
	}
	if _, err := e.release(short.ID()); !errors.Is(err, domain.ErrHoldNotReleasable) {
		t.Fatalf("release of a due hold: %v, want ErrHoldNotReleasable", err)
	}
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); s.Changed != 1 || err != nil {
		t.Fatalf("ExpireHolds = %d, %v", s.Changed, err)
	}
	if got, _ := e.holds.Get(e.ctx, e.tenant, short.ID()); got.Status() != domain.HoldExpired || !got.Remaining().IsZero() {
		t.Fatalf("expired hold: %s with %s remaining", got.Status(), got.Remaining())
	}
	e.wantAccount("alice", "10", "3")
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("second ExpireHolds = %d, %v", s.Changed, err)
	}
	if _, err := e.capture(long.ID(), "3"); err != nil {
		t.Fatal(err)
	}
	e.wantAccount("alice", "7", "0")
}

// Credits a hold pins on a lot that expires stay until the hold lets go of
// them; then the expiry sweep takes them.
func TestHeldCreditsOnExpiredLot(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10", expiresIn(e, time.Hour))
	e.grant("alice", "2")
	a, err := e.placeHold("alice", "6", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.placeHold("alice", "3", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(90 * time.Minute)

	e.wantAccount("alice", "11", "9") // the 1 free credit of the expired lot is gone
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 1 || err != nil {
		t.Fatalf("ExpireLots = %d, %v", s.Changed, err)
	}
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("ExpireLots with only held credits left = %d, %v", s.Changed, err)
	}
	e.wantAccount("alice", "11", "9")

	if _, err := e.capture(a.ID(), "2"); err != nil {
		t.Fatalf("capture from an expired lot: %v", err)
	}
	e.wantAccount("alice", "9", "7")
	if _, err := e.release(a.ID()); err != nil {
		t.Fatal(err)
	}
	// The 4 credits a released sit on an expired lot: no longer spendable,
	// gone from the balance on read, and swept by the next run.
	e.wantAccount("alice", "5", "3")
	if _, err := e.spend("alice", "2.000001"); !errors.Is(err, domain.ErrInsufficientCredits) {
		t.Fatalf("spend of released expired credits: %v, want ErrInsufficientCredits", err)
	}
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 1 || err != nil {
		t.Fatalf("ExpireLots after release = %d, %v", s.Changed, err)
	}
	if h := e.history("alice"); h[0].Type() != domain.TransactionExpiration || !h[0].Amount().Equal(cr("4")) {
		t.Fatalf("newest transaction: %s of %s, want EXPIRATION of 4", h[0].Type(), h[0].Amount())
	}

	// b's expiry frees its credits, and settling the wallet expires them in
	// the same transaction: the lot sweep finds nothing left.
	e.clock.Advance(time.Hour)
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); s.Changed != 1 || err != nil {
		t.Fatalf("ExpireHolds = %d, %v", s.Changed, err)
	}
	if s, err := e.expiry.ExpireLots(e.ctx, 10); s.Changed != 0 || err != nil {
		t.Fatalf("ExpireLots after hold expiry = %d, %v", s.Changed, err)
	}
	e.wantAccount("alice", "2", "0")
	if lots := e.account("alice").Lots; len(lots) != 1 || lots[0].ExpiresAt() != nil {
		t.Fatalf("%d lots left, want only the never-expiring one", len(lots))
	}
}

func (e *env) extend(hold domain.HoldID, in time.Duration) (application.HoldView, error) {
	v, _, err := e.holds.Extend(e.ctx, application.ExtendHoldCommand{Tenant: e.tenant, Hold: hold, ExpiresIn: in}, nil)
	return v, err
}

// TestExtendHold: an extend moves an open hold's expiry, never earlier; the
// sweep then leaves the hold alone until its new expiry.
func TestExtendHold(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	h, err := e.placeHold("alice", "4", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(50 * time.Second)
	v, err := e.extend(h.ID(), time.Hour)
	if err != nil || !v.ExpiresAt().Equal(e.clock.Now().Add(time.Hour)) || v.Status() != domain.HoldActive {
		t.Fatalf("extend = %v, %v", v.Hold, err)
	}
	extended := v.ExpiresAt()
	// Shorter is not applied: the hold keeps its later expiry.
	if v, err = e.extend(h.ID(), time.Minute); err != nil || !v.ExpiresAt().Equal(extended) {
		t.Fatalf("shortening extend = %v, %v; want expiry kept at %s", v.Hold, err, extended)
	}
	for _, bad := range []time.Duration{0, -time.Second, time.Second - time.Nanosecond, domain.MaxHoldDuration + time.Second} {
		if _, err := e.extend(h.ID(), bad); !errors.Is(err, domain.ErrInvalidInput) {
			t.Fatalf("extend by %s = %v, want ErrInvalidInput", bad, err)
		}
	}
	// Past the first expiry, the sweep finds nothing due.
	e.clock.Advance(time.Minute)
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); err != nil || s.Changed != 0 {
		t.Fatalf("sweep after the extend: %+v, %v", s, err)
	}
	e.wantAccount("alice", "10", "4")
	got, err := e.holds.Get(e.ctx, e.tenant, h.ID())
	if err != nil || got.Status() != domain.HoldActive || !got.ExpiresAt().Equal(extended) {
		t.Fatalf("Get = %v, %v", got.Hold, err)
	}
	// At the new expiry it is due: the extend is refused and the sweep frees it.
	e.clock.Set(extended)
	if _, err := e.extend(h.ID(), time.Hour); !errors.Is(err, domain.ErrHoldNotOpen) {
		t.Fatalf("extend of a due hold = %v, want ErrHoldNotOpen", err)
	}
	if s, err := e.expiry.ExpireHolds(e.ctx, 10); err != nil || s.Changed != 1 {
		t.Fatalf("sweep at the new expiry: %+v, %v", s, err)
	}
	e.wantAccount("alice", "10", "0")
	if got, _ := e.holds.Get(e.ctx, e.tenant, h.ID()); got.Status() != domain.HoldExpired || !got.ReleasedAt(e.clock.Now()).Equal(cr("4")) {
		t.Fatalf("after expiry: %s released %s", got.Status(), got.ReleasedAt(e.clock.Now()))
	}
	if _, err := e.extend(domain.HoldID(e.ids.NewID()), time.Hour); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("extend of an unknown hold = %v", err)
	}
}

func TestExtendRefusesClosedHolds(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	captured, _ := e.placeHold("alice", "1", time.Hour)
	released, _ := e.placeHold("alice", "1", time.Hour)
	if _, err := e.capture(captured.ID(), "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.release(released.ID()); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*domain.Hold{captured, released} {
		if _, err := e.extend(h.ID(), time.Hour); !errors.Is(err, domain.ErrHoldNotOpen) {
			t.Fatalf("extend of a closed hold = %v, want ErrHoldNotOpen", err)
		}
	}
	e.wantAccount("alice", "9", "0")
}

// TestHoldShowsItsCaptures: captures are read back from the ledger, oldest
// first, each with its own memo or the hold's.
func TestHoldShowsItsCaptures(t *testing.T) {
	e := newEnv(t)
	e.grant("alice", "10")
	v, _, err := e.holds.Place(e.ctx, application.PlaceHoldCommand{Tenant: e.tenant, Account: acct("alice"), Amount: cr("6"), ExpiresIn: time.Hour,
		Memo: domain.Memo{Reason: "dub video", Metadata: domain.Metadata{"job": "7"}}}, nil)
	if err != nil || len(v.Captures) != 0 {
		t.Fatalf("Place = %v, %v", v.Captures, err)
	}
	first, _, err := e.holds.Capture(e.ctx, application.CaptureCommand{Tenant: e.tenant, Hold: v.ID(), Amount: cr("2")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	rest, _, err := e.holds.Capture(e.ctx, application.CaptureCommand{Tenant: e.tenant, Hold: v.ID(), Rest: true,
		Memo: domain.Memo{Reason: "final", Metadata: domain.Metadata{"minutes": "3"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rest.Transaction.Amount().Equal(cr("4")) || rest.Hold.Status() != domain.HoldCaptured {
		t.Fatalf("rest captured %s, hold %s", rest.Transaction.Amount(), rest.Hold.Status())
	}
	got, err := e.holds.Get(e.ctx, e.tenant, v.ID())
	if err != nil {
		t.Fatal(err)
	}
	for _, view := range []application.HoldView{rest.Hold, got} {
		c := view.Captures
		if len(c) != 2 || c[0].Transaction != first.Transaction.ID() || c[1].Transaction != rest.Transaction.ID() ||
			!c[0].Amount.Equal(cr("2")) || !c[1].Amount.Equal(cr("4")) ||
			c[0].Memo.Reason != "dub video" || c[0].Memo.Metadata["job"] != "7" ||
			c[1].Memo.Reason != "final" || c[1].Memo.Metadata["minutes"] != "3" || c[1].Memo.Metadata["job"] != "" ||
			!c[1].CapturedAt.Equal(e.clock.Now()) {
			t.Fatalf("captures %+v", c)
		}
	}
	if len(first.Hold.Captures) != 1 {
		t.Fatalf("the first capture's hold shows %d captures, want 1", len(first.Hold.Captures))
	}
	e.wantAccount("alice", "4", "0")
	if _, _, err := e.holds.Capture(e.ctx, application.CaptureCommand{Tenant: e.tenant, Hold: v.ID(), Rest: true}, nil); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("rest of a captured hold = %v", err)
	}
	// Release shows the captures too, and what it gave back.
	h, _ := e.placeHold("alice", "3", time.Hour)
	if _, err := e.capture(h.ID(), "1"); err != nil {
		t.Fatal(err)
	}
	released, _, err := e.holds.Release(e.ctx, application.ReleaseCommand{Tenant: e.tenant, Hold: h.ID()}, nil)
	if err != nil || len(released.Captures) != 1 || !released.ReleasedAt(e.clock.Now()).Equal(cr("2")) {
		t.Fatalf("Release = %+v released %s, %v", released.Captures, released.ReleasedAt(e.clock.Now()), err)
	}
}
