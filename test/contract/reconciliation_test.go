//go:build integration

package contract

import (
	"reflect"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestReconciliationReports: runs are listed newest first, by pages, each
// with its counts and error, but with only the asking tenant's findings (in
// the order found); a run is saved once.
func TestReconciliationReports(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		payment := func(s string) domain.PaymentID {
			id, err := domain.ParsePaymentID(s)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		run := func(at time.Time, seen, unknown int, runErr string, findings ...application.ReconciliationFinding) application.ReconciliationReport {
			return application.ReconciliationReport{ID: domain.ReconciliationID(f.ids.NewID()), StartedAt: at, FinishedAt: at.Add(time.Second),
				WindowStart: at.Add(-24 * time.Hour), WindowEnd: at, PaymentsSeen: seen, UnknownPayments: unknown, Findings: findings, Error: runErr}
		}
		finding := func(tenant domain.TenantID, id string, at time.Time, kind application.FindingError) application.ReconciliationFinding {
			fd := application.ReconciliationFinding{Payment: payment(id), Tenant: tenant, StatusBefore: domain.OrderPending,
				StatusAfter: domain.OrderPaid, PaymentStatus: domain.PaymentPaid, FoundAt: at}
			if kind != "" {
				fd.StatusAfter, fd.ErrorKind, fd.Error = domain.OrderPending, kind, "read payment "+id+": timed out"
			}
			return fd
		}
		oldest := run(start, 3, 1, "",
			finding(f.other, "ord-b", start.Add(2*time.Millisecond), ""),
			finding(f.tenant, "ord-a2", start.Add(time.Millisecond), application.FindingUnavailable),
			finding(f.tenant, "ord-a1", start.Add(time.Millisecond), ""))
		middle := run(start.Add(10*time.Minute), 0, 0, "list payments: a dependency is unavailable")
		newest := run(start.Add(20*time.Minute), 1, 0, "", finding(f.other, "ord-b2", start.Add(20*time.Minute), ""))
		for _, r := range []application.ReconciliationReport{oldest, middle, newest} {
			if err := f.ports.reports.Save(f.ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.ports.reports.Save(f.ctx, middle); err == nil {
			t.Fatal("a run saved twice")
		}

		only := func(r application.ReconciliationReport, tenant domain.TenantID) application.ReconciliationReport {
			var mine []application.ReconciliationFinding
			for _, fd := range r.Findings {
				if fd.Tenant == tenant {
					mine = append(mine, fd)
				}
			}
			r.Findings = mine
			return r
		}
		list := func(tenant domain.TenantID, limit int, before *domain.ReconciliationID) []application.ReconciliationReport {
			t.Helper()
			got, err := f.ports.reports.List(f.ctx, tenant, limit, before)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		check := func(got []application.ReconciliationReport, want ...application.ReconciliationReport) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("got %d runs, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("run %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
		}
		// acme's two findings were found at the same instant: by payment id.
		acmeOldest := only(oldest, f.tenant)
		acmeOldest.Findings[0], acmeOldest.Findings[1] = acmeOldest.Findings[1], acmeOldest.Findings[0]
		check(list(f.tenant, 10, nil), only(newest, f.tenant), only(middle, f.tenant), acmeOldest)
		check(list(f.other, 10, nil), only(newest, f.other), only(middle, f.other), only(oldest, f.other))
		check(list(f.tenant, 1, nil), only(newest, f.tenant))
		check(list(f.tenant, 1, &newest.ID), only(middle, f.tenant))
		check(list(f.tenant, 5, &middle.ID), acmeOldest)
		check(list(f.tenant, 5, &oldest.ID))
		if got := list(domain.TenantID(f.ids.NewID()), 10, nil); len(got) != 3 || got[2].Findings != nil {
			t.Fatalf("a tenant with no findings sees every run and no finding: %+v", got)
		}
	})
}
