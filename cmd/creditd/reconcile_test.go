package main

import (
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestPrintReconciliation(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	id, _ := domain.ParsePaymentID("ord-1")
	rep := application.ReconciliationReport{ID: domain.ReconciliationID{1}, WindowStart: at.Add(-24 * time.Hour), WindowEnd: at,
		PaymentsSeen: 4, UnknownPayments: 1, Findings: []application.ReconciliationFinding{
			{Payment: id, StatusBefore: domain.OrderPending, StatusAfter: domain.OrderPaid, PaymentStatus: domain.PaymentPaid},
			{Payment: id, StatusBefore: domain.OrderPending, StatusAfter: domain.OrderPending, PaymentStatus: domain.PaymentPaid,
				ErrorKind: application.FindingUnavailable, Error: "read payment ord-1: timeout"},
		}}
	var b strings.Builder
	if err := printReconciliation(&b, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "4 payments seen, 1 unknown (not creditd's), 2 findings; complete") ||
		!strings.HasPrefix(lines[1], "PAYMENT") || !strings.Contains(lines[2], "PENDING  PAID") ||
		!strings.Contains(lines[3], "unavailable: read payment ord-1: timeout") {
		t.Fatalf("output:\n%s", b.String())
	}
}
