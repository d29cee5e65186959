package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/uptrace/bun"
)

// TestDraftsJoinTheBatchOnlyWhenCommitted: a unit reads its own writes over
// the batch's rows; a committed draft's rows join the batch and are written
// once each, in first-write order; a draft never committed leaves nothing.
func TestDraftsJoinTheBatchOnlyWhenCommitted(t *testing.T) {
	b := newBatch(context.Background(), bun.Tx{}, time.Time{})
	loaded := transactionRow{Reason: "loaded"}
	b.txs.load([16]byte{1}, loaded)

	first := b.unit(application.Scope{})
	if got, _ := first.txs.get([16]byte{1}); got.Reason != "loaded" {
		t.Fatalf("a unit reads %q, want the loaded row", got.Reason)
	}
	first.txs.put([16]byte{2}, transactionRow{Reason: "first"})
	first.txs.put([16]byte{1}, transactionRow{Reason: "changed"})
	first.txs.put([16]byte{2}, transactionRow{Reason: "first, again"})
	if got, _ := first.txs.get([16]byte{1}); got.Reason != "changed" {
		t.Fatalf("a unit reads %q, want its own write", got.Reason)
	}
	if got, _ := b.txs.get([16]byte{1}); got.Reason != "loaded" {
		t.Fatalf("the batch sees %q before the unit commits", got.Reason)
	}

	dropped := b.unit(application.Scope{})
	dropped.txs.put([16]byte{3}, transactionRow{Reason: "dropped"})
	if _, ok := dropped.txs.get([16]byte{2}); ok {
		t.Fatal("a unit sees another unit's uncommitted write")
	}

	first.commit()
	second := b.unit(application.Scope{})
	second.txs.put([16]byte{1}, transactionRow{Reason: "second"})
	second.commit()

	var written []string
	for _, k := range b.txs.written {
		written = append(written, b.txs.rows[k].Reason)
	}
	if want := []string{"first, again", "second"}; !slices.Equal(written, want) {
		t.Fatalf("written %v, want %v (each row once, in first-write order)", written, want)
	}
	if _, ok := b.txs.get([16]byte{3}); ok {
		t.Fatal("a draft never committed reached the batch")
	}
	if _, ok := b.lots.write(); ok {
		t.Fatal("a table nobody wrote has something to store")
	}
}

// TestStagedRowsAreWrittenInTheTablesOrder: rows that concurrent batches may
// both insert go in one global order, whatever order units wrote them in.
func TestStagedRowsAreWrittenInTheTablesOrder(t *testing.T) {
	b := newBatch(context.Background(), bun.Tx{}, time.Time{})
	u := b.unit(application.Scope{})
	for _, account := range []string{"carol", "alice", "bob"} {
		k := walletKey{account: account}
		u.wallets.put(k, walletState{row: walletRow{AccountID: account}})
	}
	u.commit()
	w, ok := b.wallets.write()
	if !ok {
		t.Fatal("nothing to write")
	}
	if accounts := w.params[2].([]string); !slices.Equal(accounts, []string{"alice", "bob", "carol"}) {
		t.Fatalf("wallets written in the order %v", accounts)
	}
}
