package application_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type reconShop struct {
	*shop
	reports    *memory.ReconciliationReports
	reconciler *application.Reconciler
	log        *application.ReconciliationLog
}

func newReconShop(t *testing.T) *reconShop {
	s := newShop(t)
	reports := memory.NewReconciliationReports()
	return &reconShop{shop: s, reports: reports,
		reconciler: application.NewReconciler(application.PaymentGateways{domain.GatewayPortOneV2: s.gateway}, s.store.Queries(), s.orders, reports, s.clock, s.ids),
		log:        application.NewReconciliationLog(reports)}
}

func (s *reconShop) run() application.ReconciliationReport {
	s.t.Helper()
	rep, err := s.reconciler.Run(s.ctx, 24*time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return rep
}

func (s *reconShop) status(o *domain.Order) domain.OrderStatus {
	s.t.Helper()
	got, err := s.orders.Get(s.ctx, o.Tenant(), o.PaymentID())
	if err != nil {
		s.t.Fatal(err)
	}
	return got.Status()
}

// TestReconcileGrantsAPaymentWhoseWebhookAndCompleteWereLost: nobody told
// creditd about the payment; the run finds it, grants it once, and says so.
func TestReconcileGrantsAPaymentWhoseWebhookAndCompleteWereLost(t *testing.T) {
	s := newReconShop(t)
	o := s.order("u1")
	s.gateway.Set(paid(o))
	s.clock.Advance(time.Hour)

	rep := s.run()
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s, want 110", b)
	}
	want := application.ReconciliationFinding{Payment: o.PaymentID(), Tenant: s.tenant, StatusBefore: domain.OrderPending,
		StatusAfter: domain.OrderPaid, PaymentStatus: domain.PaymentPaid, FoundAt: s.clock.Now()}
	if len(rep.Findings) != 1 || rep.Findings[0] != want {
		t.Fatalf("findings %+v, want %+v", rep.Findings, want)
	}
	now := s.clock.Now()
	if rep.PaymentsSeen != 1 || rep.UnknownPayments != 0 || rep.Error != "" || !rep.StartedAt.Equal(now) ||
		!rep.WindowStart.Equal(now.Add(-24*time.Hour)) || !rep.WindowEnd.Equal(now) {
		t.Fatalf("report %+v", rep)
	}
	if q := s.gateway.Lists()[0]; !q.From.Equal(rep.WindowStart) || !q.Until.Equal(rep.WindowEnd) || q.Cursor != "" || q.Size < 1 {
		t.Fatalf("listed %+v, want the window [%s, %s)", q, rep.WindowStart, rep.WindowEnd)
	}

	// The next run finds the order converged: nothing to do, and the credits stay granted once.
	if again := s.run(); len(again.Findings) != 0 || again.PaymentsSeen != 1 {
		t.Fatalf("second run %+v", again)
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s after a second run, want 110", b)
	}
	page, err := s.log.List(s.ctx, s.tenant, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[1].ID != rep.ID || len(page.Items[1].Findings) != 1 || len(page.Items[0].Findings) != 0 {
		t.Fatalf("stored reports %+v", page.Items)
	}
}

// TestReconcileLeavesConvergedOrdersAlone: orders that agree with their
// payments produce no finding and no sync.
func TestReconcileLeavesConvergedOrdersAlone(t *testing.T) {
	s := newReconShop(t)
	synced := s.order("u1")
	s.gateway.Set(paid(synced))
	s.sync(synced)
	ready := s.order("u2") // the buyer has opened the payment window, nothing more
	p := paid(ready)
	p.Status, p.Paid = domain.PaymentReady, 0
	s.gateway.Set(p)
	s.order("u3") // never reached the gateway: not listed
	// A sync of either would fail, and be reported as a finding.
	s.gateway.FailGet(synced.PaymentID(), errors.New("synced again"))
	s.gateway.FailGet(ready.PaymentID(), errors.New("synced"))

	rep := s.run()
	if len(rep.Findings) != 0 || rep.PaymentsSeen != 2 || rep.UnknownPayments != 0 {
		t.Fatalf("report %+v, want two payments seen and no finding", rep)
	}
	if st := s.status(ready); st != domain.OrderPending {
		t.Fatalf("READY payment's order %s", st)
	}
}

// TestReconcileCountsUnknownPayments: a payment creditd has no order for
// (another system selling on the same store) is counted, never synced.
func TestReconcileCountsUnknownPayments(t *testing.T) {
	s := newReconShop(t)
	id, _ := domain.ParsePaymentID("shop-legacy-42")
	s.gateway.Set(domain.Payment{ID: id, Status: domain.PaymentPaid, StoreID: testStore, Total: 500, Paid: 500, Currency: "KRW"})
	s.gateway.FailGet(id, errors.New("an unknown payment was synced"))

	rep := s.run()
	if rep.PaymentsSeen != 1 || rep.UnknownPayments != 1 || len(rep.Findings) != 0 {
		t.Fatalf("report %+v, want one unknown payment", rep)
	}
}

// TestReconcilePagesThroughTheWindow: every page is read, each with the
// previous page's cursor, and every lost payment is granted.
func TestReconcilePagesThroughTheWindow(t *testing.T) {
	s := newReconShop(t)
	s.gateway.SetPageSize(2)
	for i := range 5 {
		s.gateway.Set(paid(s.order(fmt.Sprintf("u%d", i))))
	}
	rep := s.run()
	if rep.PaymentsSeen != 5 || len(rep.Findings) != 5 {
		t.Fatalf("report %+v, want 5 payments seen and 5 findings", rep)
	}
	var cursors []string
	for _, q := range s.gateway.Lists() {
		cursors = append(cursors, q.Cursor)
	}
	if fmt.Sprint(cursors) != "[ 2 4]" {
		t.Fatalf("cursors %q, want the first page and then each page's next", cursors)
	}
	for i := range 5 {
		if b := s.balance(fmt.Sprintf("u%d", i)); b != "110" {
			t.Fatalf("u%d's balance %s, want 110", i, b)
		}
	}
}

// TestReconcileRecordsAFailedSyncAndGoesOn: one order's sync fails; the
// finding says so, and the run still grants the next.
func TestReconcileRecordsAFailedSyncAndGoesOn(t *testing.T) {
	s := newReconShop(t)
	first, second := s.order("u1"), s.order("u2")
	s.gateway.Set(paid(first))
	s.gateway.Set(paid(second))
	s.gateway.FailGet(first.PaymentID(), fmt.Errorf("%w: read timed out", application.ErrUnavailable))

	rep := s.run()
	if len(rep.Findings) != 2 || rep.Error != "" {
		t.Fatalf("report %+v, want two findings", rep)
	}
	failed, ok := rep.Findings[0], rep.Findings[1]
	if failed.Payment != first.PaymentID() || failed.ErrorKind != application.FindingUnavailable || failed.Error == "" ||
		failed.StatusAfter != domain.OrderPending {
		t.Fatalf("failed finding %+v", failed)
	}
	if ok.Payment != second.PaymentID() || ok.ErrorKind != "" || ok.StatusAfter != domain.OrderPaid {
		t.Fatalf("second finding %+v", ok)
	}
	if b1, b2 := s.balance("u1"), s.balance("u2"); b1 != "none" || b2 != "110" {
		t.Fatalf("balances %s and %s, want none and 110", b1, b2)
	}
	// The next run, with the gateway answering, grants the first.
	s.gateway.FailGet(first.PaymentID(), nil)
	if again := s.run(); len(again.Findings) != 1 || again.Findings[0].StatusAfter != domain.OrderPaid {
		t.Fatalf("next run %+v", again)
	}
	if b := s.balance("u1"); b != "110" {
		t.Fatalf("balance %s, want 110", b)
	}
}

// TestReconcileListFailureStopsTheRunButKeepsItsReport: a gateway that
// cannot list fails the run, whose report is stored with the reason.
func TestReconcileListFailureStopsTheRunButKeepsItsReport(t *testing.T) {
	s := newReconShop(t)
	s.gateway.FailWith(fmt.Errorf("%w: connection refused", application.ErrUnavailable))
	rep, err := s.reconciler.Run(s.ctx, time.Hour)
	if !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	page, lerr := s.log.List(s.ctx, s.tenant, 10, nil)
	if lerr != nil || len(page.Items) != 1 || page.Items[0].ID != rep.ID || page.Items[0].Error == "" {
		t.Fatalf("stored %+v (%v), want the failed run with its error", page.Items, lerr)
	}
}

func TestReconcileRefusesABadWindow(t *testing.T) {
	s := newReconShop(t)
	for _, since := range []time.Duration{0, -time.Hour, application.MaxReconciliationWindow + time.Second} {
		if _, err := s.reconciler.Run(s.ctx, since); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("since %s: err = %v, want invalid input", since, err)
		}
	}
}

// TestReconciliationLogShowsATenantOnlyItsOwnFindings: every run is listed,
// newest first and by pages, each with only the asking tenant's findings.
func TestReconciliationLogShowsATenantOnlyItsOwnFindings(t *testing.T) {
	s := newReconShop(t)
	other := domain.TenantID(s.ids.NewID())
	pack, err := domain.NewProduct(other, s.pack.ID(), s.pack.Spec(), start)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := domain.NewOrder(other, mustPaymentID("ord-other-1"), acct("v1"), pack, domain.GatewayPortOneV2, s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.UnitOfWork().WithinTx(s.ctx, application.Scope{Orders: []domain.PaymentID{theirs.PaymentID()}},
		func(ctx context.Context, r application.Repos) error { return r.Orders.Save(ctx, theirs) }); err != nil {
		t.Fatal(err)
	}
	mine := s.order("u1")
	s.gateway.Set(paid(mine))
	s.gateway.Set(paid(theirs))
	first := s.run()
	if len(first.Findings) != 2 {
		t.Fatalf("first run %+v, want a finding for each tenant", first)
	}
	s.clock.Advance(10 * time.Minute)
	second := s.run()

	list := func(tenant domain.TenantID, limit int, before *domain.ReconciliationID) application.ReconciliationPage {
		t.Helper()
		page, err := s.log.List(s.ctx, tenant, limit, before)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	for tenant, want := range map[domain.TenantID]domain.PaymentID{s.tenant: mine.PaymentID(), other: theirs.PaymentID()} {
		page := list(tenant, 1, nil)
		if len(page.Items) != 1 || page.Items[0].ID != second.ID || len(page.Items[0].Findings) != 0 || page.Next == nil {
			t.Fatalf("newest page %+v", page)
		}
		page = list(tenant, 1, page.Next)
		if len(page.Items) != 1 || page.Items[0].ID != first.ID || page.Next != nil {
			t.Fatalf("second page %+v", page)
		}
		got := page.Items[0]
		if len(got.Findings) != 1 || got.Findings[0].Payment != want || got.Findings[0].Tenant != tenant ||
			got.PaymentsSeen != 2 || got.UnknownPayments != 0 {
			t.Fatalf("tenant %s sees %+v, want only its finding about %s", tenant, got, want)
		}
	}
	if _, err := s.log.List(s.ctx, s.tenant, 0, nil); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("limit 0: err = %v", err)
	}
}

func mustPaymentID(s string) domain.PaymentID {
	id, err := domain.ParsePaymentID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// TestReconcileIfDue: a scheduled run is skipped while another (of any
// replica) started less than an interval ago.
func TestReconcileIfDue(t *testing.T) {
	s := newReconShop(t)
	for i, step := range []struct {
		advance time.Duration
		ran     bool
	}{{0, true}, {5 * time.Minute, false}, {5 * time.Minute, true}, {time.Minute, false}} {
		s.clock.Advance(step.advance)
		_, ran, err := s.reconciler.RunIfDue(s.ctx, time.Hour, 10*time.Minute)
		if err != nil || ran != step.ran {
			t.Fatalf("step %d: ran %v (%v), want %v", i, ran, err, step.ran)
		}
	}
}
