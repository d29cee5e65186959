//go:build integration

package contract

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestLookupQueries: every implementation lists the same rows in the same
// order for each lookup, honours the position and filters exactly, and
// never shows another tenant's rows.
func TestLookupQueries(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		q := f.ports.queries.Lookups
		in := func(h int) *time.Time { at := now.Add(time.Duration(h) * time.Hour); return &at }
		var lots []domain.LotID
		var grants, spends []domain.TransactionID
		var holds []*domain.Hold
		var foreign, captured domain.TransactionID
		var wallet, capturedWallet domain.WalletID
		f.mustTx(func(r application.Repos) error {
			for _, a := range []string{"b", "a", "c"} {
				_, tx := f.grant(r, f.tenant, a, "5", in(3))
				lots = append(lots, tx.Postings()[1].Lot)
				grants = append(grants, tx.ID())
			}
			_, tx := f.grant(r, f.other, "a", "5", in(1))
			foreign = tx.ID()
			w, tx := f.grant(r, f.tenant, "b", "10", in(2))
			wallet = w.ID()
			lots = append(lots, tx.Postings()[1].Lot)
			grants = append(grants, tx.ID())
			spends = append(spends, f.spend(r, w, "1").ID())
			holds = append(holds, f.placeHold(r, w, "1", now.Add(time.Minute)), f.placeHold(r, w, "2", now.Add(time.Hour)))
			// A captured hold, on another tenant's wallet so the lists above stay as they are.
			o, _ := f.grant(r, f.other, "h", "5", nil)
			capturedWallet = o.ID()
			h := f.placeHold(r, o, "2", now.Add(time.Hour))
			capture, err := o.CaptureHold(h, domain.TransactionID(f.ids.NewID()), cr("0.5"), now)
			if err != nil {
				return err
			}
			f.save(r, o, capture)
			captured = capture.ID()
			return r.Holds.Save(f.ctx, h)
		})

		ws, err := q.Wallets(f.ctx, f.tenant, nil, 10)
		if err != nil {
			f.t.Fatal(err)
		}
		var names []string
		for _, w := range ws {
			names = append(names, w.Wallet.AccountID().String())
			if w.Wallet.AccountID().String() == "b" && (len(w.Open) != 2 || len(w.Wallet.Lots()) != 2) {
				t.Errorf("b: %d open holds, %d lots", len(w.Open), len(w.Wallet.Lots()))
			}
		}
		if !slices.Equal(names, []string{"a", "b", "c"}) {
			t.Errorf("wallets: %v", names)
		}
		after := acct("a")
		if ws, err := q.Wallets(f.ctx, f.tenant, &after, 1); err != nil || len(ws) != 1 || ws[0].Wallet.AccountID().String() != "b" {
			t.Errorf("wallets after a: %v", err)
		}

		hist := func(hf application.HistoryFilter) []domain.TransactionID {
			hf.Wallet = wallet
			txs, err := q.History(f.ctx, hf, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []domain.TransactionID
			for _, tx := range txs {
				out = append(out, tx.ID())
			}
			return out
		}
		b := []domain.TransactionID{spends[0], grants[3], grants[0]}
		if got := hist(application.HistoryFilter{}); !slices.Equal(got, b) {
			t.Errorf("history: %v, want %v", got, b)
		}
		if got := hist(application.HistoryFilter{Types: []domain.TransactionType{domain.TransactionGrant}, Before: &grants[3]}); !slices.Equal(got, b[2:]) {
			t.Errorf("grants before the second: %v", got)
		}
		if got := hist(application.HistoryFilter{From: &now, To: in(1)}); !slices.Equal(got, b) {
			t.Errorf("[now, now+1h): %v", got)
		}
		if got := hist(application.HistoryFilter{To: &now}); len(got) != 0 {
			t.Errorf("before now: %v", got)
		}

		tx, err := f.ports.queries.Ledger.Get(f.ctx, f.tenant, spends[0])
		if err != nil || tx.ID() != spends[0] || tx.Postings()[0].LotSource != domain.LotBonus {
			t.Errorf("spend: %v %v", err, tx.Postings())
		}
		if _, err := f.ports.queries.Ledger.Get(f.ctx, f.tenant, foreign); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("another tenant's transaction: %v", err)
		}

		later := now.Add(2 * time.Minute) // the first hold is past its expiry
		hs, err := q.Holds(f.ctx, application.HoldFilter{Wallet: wallet, Now: later, Statuses: []domain.HoldStatus{domain.HoldExpired}}, 10)
		if err != nil || len(hs) != 1 || hs[0].ID() != holds[0].ID() {
			t.Errorf("expired holds: %v %v", hs, err)
		}
		hs, err = q.Holds(f.ctx, application.HoldFilter{Wallet: wallet, Now: later}, 10)
		if err != nil || len(hs) != 2 || hs[0].ID() != holds[1].ID() {
			t.Errorf("holds, newest first: %v %v", hs, err)
		} else if len(hs[0].Captures) != 0 || len(hs[1].Captures) != 0 {
			t.Errorf("captures of holds never captured: %+v, %+v", hs[0].Captures, hs[1].Captures)
		}
		if hs, err := q.Holds(f.ctx, application.HoldFilter{Wallet: capturedWallet, Now: now}, 10); err != nil || len(hs) != 1 ||
			len(hs[0].Captures) != 1 || hs[0].Captures[0].Transaction != captured {
			t.Errorf("a listed hold's captures: %+v %v", hs, err)
		}
		hs, err = q.Holds(f.ctx, application.HoldFilter{Wallet: wallet, Now: later, Before: &[]domain.HoldID{holds[1].ID()}[0]}, 10)
		if err != nil || len(hs) != 1 {
			t.Errorf("holds before the newest: %v %v", hs, err)
		}

		ls, err := q.Lots(f.ctx, application.LotFilter{Tenant: f.tenant, Now: now, Before: *in(4)}, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []domain.LotID
		for _, l := range ls {
			got = append(got, l.Lot.ID())
		}
		// by expiry (b's second lot first), then by id (the grants' order)
		if want := []domain.LotID{lots[3], lots[0], lots[1], lots[2]}; !slices.Equal(got, want) { // b's 2h lot, then b, a, c
			t.Errorf("lots: %v, want %v", got, want)
		}
		ls, err = q.Lots(f.ctx, application.LotFilter{Tenant: f.tenant, Now: now, Before: *in(4),
			After: &application.LotCursor{ExpiresAt: *in(3), Lot: lots[0]}}, 1)
		if err != nil || len(ls) != 1 || ls[0].Lot.ID() != lots[1] || ls[0].Account.String() != "a" {
			t.Errorf("lots after the first of 3h: %v %v", ls, err)
		}
		if ls, err := q.Lots(f.ctx, application.LotFilter{Tenant: f.tenant, Now: *in(3), Before: *in(4)}, 10); err != nil || len(ls) != 0 {
			t.Errorf("lots expired by now: %v %v", ls, err)
		}
	})
}
