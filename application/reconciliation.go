package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/creditd/creditd/domain"
)

// ReconciliationReports keeps the reports of reconciliation runs, outside
// any unit of work (a report moves no credits).
type ReconciliationReports interface {
	// Save stores a run's report with its findings.
	Save(ctx context.Context, r ReconciliationReport) error
	// List returns up to limit runs, newest (highest id) first, strictly
	// older than before when it is set. Every run is listed, with its own
	// counts, but with only the findings about tenant's orders: a tenant
	// never sees another's.
	List(ctx context.Context, tenant domain.TenantID, limit int, before *domain.ReconciliationID) ([]ReconciliationReport, error)
}

// ReconciliationReport is what one reconciliation run saw and did.
type ReconciliationReport struct {
	ID                     domain.ReconciliationID
	StartedAt, FinishedAt  time.Time
	WindowStart, WindowEnd time.Time // the payments created in [WindowStart, WindowEnd)
	PaymentsSeen           int       // payments the gateway listed in the window
	UnknownPayments        int       // of those, payments creditd has no order for (not creditd's)
	Findings               []ReconciliationFinding
	// Error says why the run stopped before the end of the window; empty
	// when it went through. The findings before it stand: their syncs happened.
	Error string
}

// ReconciliationFinding is an order that disagreed with its payment, and
// what syncing it did.
type ReconciliationFinding struct {
	Payment       domain.PaymentID
	Tenant        domain.TenantID
	StatusBefore  domain.OrderStatus
	StatusAfter   domain.OrderStatus // StatusBefore when the sync failed before changing it
	PaymentStatus domain.PaymentStatus
	// ErrorKind is empty when the sync succeeded, else one of the
	// FindingError kinds (a closed set, for clients and metrics), with
	// Error the failure in full, for operators.
	ErrorKind FindingError
	Error     string
	FoundAt   time.Time
}

// FindingError classifies a failed sync.
type FindingError string

const (
	// FindingUnavailable: the gateway or the database did not answer; the next run tries again.
	FindingUnavailable FindingError = "unavailable"
	// FindingGatewayRefused: the gateway refused a request (creditd's settings disagree with it).
	FindingGatewayRefused FindingError = "gateway_refused"
	// FindingCancelFailed: the order was rejected, and cancelling its payment failed.
	FindingCancelFailed FindingError = "cancel_failed"
	// FindingInternal: anything else; the full error is in the report.
	FindingInternal FindingError = "internal"
)

// FindingErrors lists every kind.
var FindingErrors = []FindingError{FindingUnavailable, FindingGatewayRefused, FindingCancelFailed, FindingInternal}

func findingError(err error) FindingError {
	switch {
	case errors.Is(err, ErrCancelFailed):
		return FindingCancelFailed
	case errors.Is(err, ErrUnavailable):
		return FindingUnavailable
	case errors.Is(err, ErrGatewayRefused):
		return FindingGatewayRefused
	}
	return FindingInternal
}

// MaxReconciliationWindow bounds how far back one run looks: PortOne's own
// default lookback for its listings.
const MaxReconciliationWindow = 90 * 24 * time.Hour

// reconciliationPageSize is how many payments one gateway call lists.
const reconciliationPageSize = 100

// reportSaveTimeout bounds saving a report after the run's ctx has ended.
const reportSaveTimeout = 10 * time.Second

// Reconciler catches what webhooks and complete calls missed: it lists the
// gateway's payments of a recent window and syncs every order that
// disagrees with its payment, so a payment whose webhook and complete call
// were both lost is still granted.
//
// Several replicas may run it at once: syncing is safe to repeat (see
// Orders.SyncOrder), so a second run costs only gateway reads, and finds
// (and reports) nothing left to do for what the first has synced.
type Reconciler struct {
	gateways PaymentGateways
	queries  Queries
	orders   *Orders
	reports  ReconciliationReports
	clock    Clock
	ids      IDGenerator
}

// NewReconciler builds the reconciliation use case.
func NewReconciler(gateways PaymentGateways, queries Queries, orders *Orders, reports ReconciliationReports, clock Clock, ids IDGenerator) *Reconciler {
	return &Reconciler{gateways: gateways, queries: queries, orders: orders, reports: reports, clock: clock, ids: ids}
}

// Run reconciles the payments created in the last since, and stores and
// returns its report. A failed sync is a finding, and the run goes on; a
// failure to list payments or read orders stops the run, whose report (with
// its Error) is stored all the same and returned with the error.
func (r *Reconciler) Run(ctx context.Context, since time.Duration) (ReconciliationReport, error) {
	if since <= 0 || since > MaxReconciliationWindow {
		return ReconciliationReport{}, fmt.Errorf("%w: the reconciliation window %s must be positive and at most %s",
			domain.ErrInvalidInput, since, MaxReconciliationWindow)
	}
	now := r.clock.Now()
	rep := ReconciliationReport{ID: domain.ReconciliationID(r.ids.NewID()), StartedAt: now, WindowStart: now.Add(-since), WindowEnd: now}
	runErr := r.scan(ctx, &rep)
	rep.FinishedAt = r.clock.Now()
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	// Saved even when ctx has ended (a shutdown mid-run): its syncs happened.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportSaveTimeout)
	defer cancel()
	if err := r.reports.Save(saveCtx, rep); err != nil {
		return rep, errors.Join(runErr, fmt.Errorf("save reconciliation report %s: %w", rep.ID, err))
	}
	return rep, runErr
}

// RunIfDue runs as Run does unless a run (of any replica) started less than
// every ago, and says whether it ran: scheduled runs in several replicas then
// add up to about one per every, though two that check at the same moment
// may both run (which costs only gateway reads).
func (r *Reconciler) RunIfDue(ctx context.Context, since, every time.Duration) (ReconciliationReport, bool, error) {
	latest, err := r.reports.List(ctx, domain.TenantID{}, 1, nil) // no tenant: the runs without findings
	if err != nil {
		return ReconciliationReport{}, false, fmt.Errorf("read the latest reconciliation run: %w", err)
	}
	if len(latest) > 0 && r.clock.Now().Sub(latest[0].StartedAt) < every {
		return ReconciliationReport{}, false, nil
	}
	rep, err := r.Run(ctx, since)
	return rep, true, err
}

// scan pages through the window's payments at every gateway. One gateway
// failing to list does not keep the others from being reconciled.
func (r *Reconciler) scan(ctx context.Context, rep *ReconciliationReport) error {
	var errs []error
	for _, g := range domain.Gateways {
		gw, ok := r.gateways[g]
		if !ok {
			continue
		}
		if err := r.scanGateway(ctx, rep, g, gw); err != nil {
			errs = append(errs, fmt.Errorf("PortOne %s: %w", g, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// scanGateway pages through the window's payments at one gateway, checking each once.
func (r *Reconciler) scanGateway(ctx context.Context, rep *ReconciliationReport, g domain.Gateway, gw PaymentGateway) error {
	q := PaymentListQuery{From: rep.WindowStart, Until: rep.WindowEnd, Size: reconciliationPageSize}
	seen := map[domain.PaymentID]bool{}
	for {
		page, err := gw.ListPayments(ctx, q)
		if err != nil {
			return fmt.Errorf("list payments: %w", err)
		}
		for _, p := range page.Items {
			if seen[p.ID] { // a listing that shifted under the cursor
				continue
			}
			seen[p.ID] = true
			rep.PaymentsSeen++
			if err := r.check(ctx, rep, g, p); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		if page.Next == q.Cursor {
			return fmt.Errorf("list payments: the gateway returned cursor %q again", page.Next)
		}
		q.Cursor = page.Next
	}
}

// check syncs the payment's order if it disagrees with the payment. A
// payment another gateway lists under an order's id is not that order's.
func (r *Reconciler) check(ctx context.Context, rep *ReconciliationReport, g domain.Gateway, p domain.Payment) error {
	order, err := r.queries.Orders.Get(ctx, p.ID)
	if errors.Is(err, domain.ErrNotFound) || err == nil && order.Gateway() != g {
		rep.UnknownPayments++
		return nil
	} else if err != nil {
		return fmt.Errorf("read order %s: %w", p.ID, err)
	}
	if !r.differs(order, p) {
		return nil
	}
	f := ReconciliationFinding{Payment: p.ID, Tenant: order.Tenant(), StatusBefore: order.Status(), StatusAfter: order.Status(),
		PaymentStatus: p.Status, FoundAt: r.clock.Now()}
	synced, err := r.orders.SyncOrder(ctx, p.ID)
	if synced != nil {
		f.StatusAfter = synced.Status()
	}
	if err != nil {
		f.ErrorKind, f.Error = findingError(err), err.Error()
	}
	rep.Findings = append(rep.Findings, f)
	return ctx.Err() // the run ends with its ctx; a sync failing for another reason does not end it
}

// differs reports whether syncing the order with the payment, as listed,
// would change anything: asked of a copy, since Converge changes the order.
func (r *Reconciler) differs(o *domain.Order, p domain.Payment) bool {
	if o.Status() == domain.OrderRefunded {
		return false // final: SyncOrder leaves it as it is
	}
	c := *o
	conv := c.Converge(p, r.orders.Checkout(o.Gateway()).StoreID, r.clock.Now())
	return conv.Changed || conv.CancelAtGateway && r.orders.cfg.CancelRejected
}

// ReconciliationLog is the record of reconciliation runs, as each tenant
// may see it.
type ReconciliationLog struct{ reports ReconciliationReports }

// NewReconciliationLog builds the reports' reader.
func NewReconciliationLog(reports ReconciliationReports) *ReconciliationLog {
	return &ReconciliationLog{reports: reports}
}

// ReconciliationPage is one page of runs.
type ReconciliationPage struct {
	Items []ReconciliationReport
	Next  *domain.ReconciliationID // the cursor of the next page; nil on the last
}

// List pages through the runs, newest first, each with only the tenant's findings.
func (l *ReconciliationLog) List(ctx context.Context, tenant domain.TenantID, limit int, before *domain.ReconciliationID) (ReconciliationPage, error) {
	if limit < 1 || limit > MaxPageSize {
		return ReconciliationPage{}, fmt.Errorf("%w: limit must be between 1 and %d", domain.ErrInvalidInput, MaxPageSize)
	}
	items, err := l.reports.List(ctx, tenant, limit+1, before)
	if err != nil {
		return ReconciliationPage{}, err
	}
	page := ReconciliationPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		next := items[limit-1].ID
		page.Next = &next
	}
	return page, nil
}
