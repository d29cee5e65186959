package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
	"github.com/creditd/creditd/domain"
)

type reconcileCmd struct {
	Since time.Duration `default:"24h" placeholder:"DURATION" help:"Reconcile the payments created this long ago until now (at most 2160h, 90 days); e.g. 72h after an outage."`
}

// errSyncsFailed makes reconcile exit 1 after its report when an order
// still disagrees with its payment.
type errSyncsFailed struct{ n int }

func (e errSyncsFailed) Error() string {
	return fmt.Sprintf("reconciliation could not sync %d orders; the next run tries again", e.n)
}

// Run reconciles once, as the scheduled runs do (its report is stored with
// theirs), and prints what it found.
func (c reconcileCmd) Run(cfg app.Config, log *slog.Logger) error {
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		gateways, orders, err := newGateways(cfg)
		if err != nil {
			return err
		}
		clock, ids := system.Clock{}, system.UUIDv7{}
		pg := postgres.Config{WriteLanes: 1}
		uow, queries := postgres.NewUnitOfWork(db, pg, clock), postgres.NewQueries(db, pg)
		// Syncing never reads the catalog: only creating orders does.
		o := application.NewOrders(uow, queries, nil, gateways, clock, ids, orders)
		reconciler := application.NewReconciler(gateways, queries, o, postgres.NewReconciliationStore(db), clock, ids)
		rep, err := reconciler.Run(ctx, c.Since)
		if rep.ID == (domain.ReconciliationID{}) {
			return err // nothing ran
		}
		if perr := printReconciliation(os.Stdout, rep); perr != nil {
			return errors.Join(err, perr)
		}
		if err != nil {
			return err
		}
		failed := 0
		for _, f := range rep.Findings {
			if f.ErrorKind != "" {
				failed++
			}
		}
		if failed > 0 {
			return errSyncsFailed{failed}
		}
		return nil
	})
}

// Validate makes a --since out of range a usage error, as kong's own are.
func (c reconcileCmd) Validate() error {
	if c.Since <= 0 || c.Since > application.MaxReconciliationWindow {
		return fmt.Errorf("--since %s must be positive and at most %s", c.Since, application.MaxReconciliationWindow)
	}
	return nil
}

// printReconciliation writes a run's summary and its findings, one per line.
func printReconciliation(w io.Writer, r application.ReconciliationReport) error {
	status := "complete"
	if r.Error != "" {
		status = "stopped: " + r.Error
	}
	fmt.Fprintf(w, "run %s over %s .. %s: %d payments seen, %d unknown (not creditd's), %d findings; %s\n",
		r.ID, r.WindowStart.UTC().Format(time.RFC3339), r.WindowEnd.UTC().Format(time.RFC3339), r.PaymentsSeen, r.UnknownPayments,
		len(r.Findings), status)
	if len(r.Findings) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAYMENT\tTENANT\tBEFORE\tAFTER\tPAYMENT STATUS\tERROR")
	for _, f := range r.Findings {
		e := "-"
		if f.ErrorKind != "" {
			e = string(f.ErrorKind) + ": " + f.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Payment, f.Tenant, f.StatusBefore, f.StatusAfter, f.PaymentStatus, e)
	}
	return tw.Flush()
}
