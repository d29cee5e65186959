package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

func placeHold(t *testing.T, w *domain.Wallet, amount string, expiresIn time.Duration, memo domain.Memo) *domain.Hold {
	t.Helper()
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(50)), Amount: domain.MustCredits(amount), ExpiresAt: base.Add(expiresIn), Memo: memo}, base)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestExtendHold(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration // from now, as asked
		at        time.Duration // now, after the hold was placed at base for an hour
		want      time.Duration // the expiry after, from base; 0: refused
		wantErr   error
	}{
		{name: "later", expiresIn: 2 * time.Hour, want: 2 * time.Hour},
		{name: "later, asked late in the hold's life", at: 59 * time.Minute, expiresIn: time.Hour, want: 119 * time.Minute},
		{name: "shorter is kept as it was", expiresIn: time.Minute, want: time.Hour},
		{name: "the same", expiresIn: time.Hour, want: time.Hour},
		{name: "the shortest", at: 59*time.Minute + 59*time.Second + 500*time.Millisecond, expiresIn: domain.MinHoldDuration, want: time.Hour + 500*time.Millisecond},
		{name: "the longest", expiresIn: domain.MaxHoldDuration, want: domain.MaxHoldDuration},
		{name: "below the shortest", expiresIn: domain.MinHoldDuration - time.Nanosecond, wantErr: domain.ErrInvalidInput},
		{name: "zero", expiresIn: 0, wantErr: domain.ErrInvalidInput},
		{name: "negative", expiresIn: -time.Second, wantErr: domain.ErrInvalidInput},
		{name: "beyond the longest", expiresIn: domain.MaxHoldDuration + time.Second, wantErr: domain.ErrInvalidInput},
		{name: "due: expired", at: time.Hour, expiresIn: time.Hour, wantErr: domain.ErrHoldNotOpen},
		{name: "past due", at: 2 * time.Hour, expiresIn: time.Hour, wantErr: domain.ErrHoldNotOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
			h := placeHold(t, w, "4", time.Hour, domain.Memo{})
			now := base.Add(tt.at)
			err := w.ExtendHold(h, now.Add(tt.expiresIn), now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ExtendHold = %v, want %v", err, tt.wantErr)
			}
			want := tt.want
			if tt.wantErr != nil {
				want = time.Hour // unchanged
			}
			if !h.ExpiresAt().Equal(base.Add(want)) {
				t.Fatalf("expires at %s, want %s", h.ExpiresAt(), base.Add(want))
			}
			// The wallet's next hold expiry stays a bound no later than the hold's.
			if err := w.CheckInvariants([]*domain.Hold{h}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExtendRefusesClosedHolds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		close  func(w *domain.Wallet, h *domain.Hold) error
		status domain.HoldStatus
	}{
		{"captured", func(w *domain.Wallet, h *domain.Hold) error {
			_, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(60)), Rest: true}, base)
			return err
		}, domain.HoldCaptured},
		{"released", func(w *domain.Wallet, h *domain.Hold) error { return w.ReleaseHold(h, base) }, domain.HoldReleased},
		{"expired", func(w *domain.Wallet, h *domain.Hold) error {
			_, err := w.ExpireDueHolds([]*domain.Hold{h}, base.Add(time.Hour))
			return err
		}, domain.HoldExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
			h := placeHold(t, w, "4", time.Hour, domain.Memo{})
			if err := tc.close(w, h); err != nil || h.Status() != tc.status {
				t.Fatalf("close: %v, status %s", err, h.Status())
			}
			if err := w.ExtendHold(h, base.Add(2*time.Hour), base); !errors.Is(err, domain.ErrHoldNotOpen) {
				t.Fatalf("extend of a %s hold = %v, want ErrHoldNotOpen", tc.name, err)
			}
		})
	}
	// A partially captured hold is open: it can be extended.
	w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
	h := placeHold(t, w, "4", time.Hour, domain.Memo{})
	if _, err := w.CaptureHold(h, domain.TransactionID(newID(60)), domain.MustCredits("1"), base); err != nil {
		t.Fatal(err)
	}
	if err := w.ExtendHold(h, base.Add(2*time.Hour), base); err != nil || !h.ExpiresAt().Equal(base.Add(2*time.Hour)) {
		t.Fatalf("extend of a partially captured hold = %v, expires %s", err, h.ExpiresAt())
	}
}

func TestCaptureTheRest(t *testing.T) {
	w := wallet(
		lotSpec{name: 'A', priority: 10, createdAt: base, remaining: "3"},
		lotSpec{name: 'B', priority: 50, createdAt: base, remaining: "10"},
	)
	h := placeHold(t, w, "5", time.Hour, domain.Memo{Reason: "render", Metadata: domain.Metadata{"job": "1"}})
	if _, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(60)), Rest: true, Amount: domain.MustCredits("1")}, base); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("rest with an amount = %v, want ErrInvalidInput", err)
	}
	if _, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(60))}, base); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("neither rest nor an amount = %v, want ErrInvalidInput", err)
	}
	first, err := w.CaptureHold(h, domain.TransactionID(newID(61)), domain.MustCredits("3.5"), base)
	if err != nil {
		t.Fatal(err)
	}
	if first.Memo().Reason != "render" || first.Memo().Metadata["job"] != "1" {
		t.Fatalf("a capture without a memo records the hold's: %+v", first.Memo())
	}
	rest, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(62)), Rest: true}, base)
	if err != nil {
		t.Fatal(err)
	}
	if !rest.Amount().Equal(domain.MustCredits("1.5")) || h.Status() != domain.HoldCaptured || !h.Captured().Equal(domain.MustCredits("5")) {
		t.Fatalf("rest captured %s; hold %s captured %s", rest.Amount(), h.Status(), h.Captured())
	}
	if !w.Balance().Equal(domain.MustCredits("8")) || !w.Held().IsZero() || !h.ReleasedAt(base).IsZero() {
		t.Fatalf("balance %s held %s released %s, want 8, 0, 0", w.Balance(), w.Held(), h.ReleasedAt(base))
	}
	if _, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(63)), Rest: true}, base); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("rest of a captured hold = %v, want ErrHoldNotCapturable", err)
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Fatal(err)
	}
	c := domain.CaptureOf(rest)
	if c.Transaction != rest.ID() || !c.Amount.Equal(rest.Amount()) || !c.CapturedAt.Equal(base) || c.Memo.Reason != "render" {
		t.Fatalf("CaptureOf = %+v", c)
	}
}

func TestCaptureMemo(t *testing.T) {
	holdMemo := domain.Memo{Reason: "render", Metadata: domain.Metadata{"job": "1"}}
	tests := []struct {
		name    string
		memo    domain.Memo
		want    domain.Memo
		wantErr bool
	}{
		{name: "none: the hold's", want: holdMemo},
		{name: "its own", memo: domain.Memo{Reason: "step 2", Metadata: domain.Metadata{"step": "2"}}, want: domain.Memo{Reason: "step 2", Metadata: domain.Metadata{"step": "2"}}},
		{name: "a reason only", memo: domain.Memo{Reason: "step 2"}, want: domain.Memo{Reason: "step 2", Metadata: holdMemo.Metadata}},
		{name: "metadata only", memo: domain.Memo{Metadata: domain.Metadata{"step": "2"}}, want: domain.Memo{Reason: "render", Metadata: domain.Metadata{"step": "2"}}},
		{name: "NUL in the reason", memo: domain.Memo{Reason: "a\x00b"}, wantErr: true},
		{name: "reason too long", memo: domain.Memo{Reason: strings.Repeat("r", domain.MaxReasonLength+1)}, wantErr: true},
		{name: "NUL in metadata", memo: domain.Memo{Metadata: domain.Metadata{"k": "\x00"}}, wantErr: true},
		{name: "empty metadata key", memo: domain.Memo{Metadata: domain.Metadata{"": "v"}}, wantErr: true},
		{name: "metadata value too long", memo: domain.Memo{Metadata: domain.Metadata{"k": strings.Repeat("v", domain.MaxMetadataValueLength+1)}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
			h := placeHold(t, w, "4", time.Hour, holdMemo)
			tx, err := w.Capture(h, domain.CaptureRequest{Transaction: domain.TransactionID(newID(60)), Amount: domain.MustCredits("1"), Memo: tt.memo}, base)
			if tt.wantErr {
				if !errors.Is(err, domain.ErrInvalidInput) || !h.Captured().IsZero() || !w.Held().Equal(domain.MustCredits("4")) {
					t.Fatalf("Capture = %v, captured %s held %s; want ErrInvalidInput and no change", err, h.Captured(), w.Held())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tx.Memo(); got.Reason != tt.want.Reason || len(got.Metadata) != len(tt.want.Metadata) {
				t.Fatalf("memo %+v, want %+v", got, tt.want)
			} else {
				for k, v := range tt.want.Metadata {
					if got.Metadata[k] != v {
						t.Fatalf("memo %+v, want %+v", got, tt.want)
					}
				}
			}
			if h.Memo().Reason != "render" {
				t.Fatalf("the hold's memo changed: %+v", h.Memo())
			}
		})
	}
}

func TestReleasedAt(t *testing.T) {
	w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
	h := placeHold(t, w, "4", time.Hour, domain.Memo{})
	if _, err := w.CaptureHold(h, domain.TransactionID(newID(60)), domain.MustCredits("1"), base); err != nil {
		t.Fatal(err)
	}
	if !h.ReleasedAt(base).IsZero() {
		t.Fatalf("released while open: %s", h.ReleasedAt(base))
	}
	// Past its expiry, before any sweep, it reads as expired with its rest released.
	if got := h.ReleasedAt(base.Add(time.Hour)); !got.Equal(domain.MustCredits("3")) {
		t.Fatalf("released when due: %s, want 3", got)
	}
	if err := w.ReleaseHold(h, base); err != nil {
		t.Fatal(err)
	}
	if got := h.ReleasedAt(base); !got.Equal(domain.MustCredits("3")) {
		t.Fatalf("released after release: %s, want 3", got)
	}
}
