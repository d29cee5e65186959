package sandbox_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/portonev1"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
	"github.com/creditd/creditd/domain"
)

// The V1 adapter's contract with the sandbox: creditd's Client, unchanged,
// against the sandbox's V1 API.

func v1Client(t *testing.T, sb *sandbox.Server) *portonev1.Client {
	t.Helper()
	c, err := portonev1.New(portonev1.Config{BaseURL: sb.V1URL(), IMPKey: sb.V1IMPKey, IMPSecret: portonev1.Secret(sb.V1IMPSecret), IMPCode: sb.V1IMPCode})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func paymentID(t *testing.T, s string) domain.PaymentID {
	t.Helper()
	id, err := domain.ParsePaymentID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tokenRequests counts the getToken requests the sandbox received.
func tokenRequests(sb *sandbox.Server) int {
	n := 0
	for _, r := range sb.Requests() {
		if r.Path == "/v1compat/users/getToken" {
			n++
		}
	}
	return n
}

func TestV1ContractReads(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	c := v1Client(t, sb)
	ctx := context.Background()

	sb.Pay("ord-paid", sandbox.PaidWith{Total: 10000, OrderName: "100 credits", CustomData: `{"u":1}`})
	p, err := c.GetPayment(ctx, paymentID(t, "ord-paid"))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := sb.Payment("ord-paid")
	if p.Status != domain.PaymentPaid || p.Total != 10000 || p.Paid != 10000 || p.Cancelled != 0 || p.Currency != "KRW" ||
		p.TransactionID != stored.ImpUID || p.StoreID != sb.V1IMPCode || p.OrderName != "100 credits" || p.CustomData != `{"u":1}` ||
		p.PaidAt == nil || !p.PaidAt.Equal(stored.PaidAt.Truncate(time.Second)) {
		t.Errorf("paid payment read as %+v", p)
	}

	sb.IssueVirtualAccount("ord-va", sandbox.PaidWith{Total: 5000})
	p, err = c.GetPayment(ctx, paymentID(t, "ord-va"))
	if err != nil {
		t.Fatal(err)
	}
	va, _ := sb.Payment("ord-va")
	if p.Status != domain.PaymentVirtualAccountIssued || p.VirtualAccount == nil || p.VirtualAccount.Bank != "088" ||
		p.VirtualAccount.AccountNumber != va.VirtualAccount.AccountNumber || p.VirtualAccount.Holder != "creditd" ||
		p.VirtualAccount.DueAt == nil || !p.VirtualAccount.DueAt.Equal(va.VirtualAccount.ExpiredAt.Truncate(time.Second)) {
		t.Errorf("virtual account read as %+v (%+v)", p, p.VirtualAccount)
	}
	if _, err := sb.Deposit("ord-va"); err != nil {
		t.Fatal(err)
	}
	if p, err = c.GetPayment(ctx, paymentID(t, "ord-va")); err != nil || p.Status != domain.PaymentPaid {
		t.Errorf("after the deposit: %+v %v", p, err)
	}

	sb.Fail("ord-failed", "card declined")
	if p, err = c.GetPayment(ctx, paymentID(t, "ord-failed")); err != nil || p.Status != domain.PaymentFailed || p.FailureReason != "card declined" {
		t.Errorf("failed payment: %+v %v", p, err)
	}
	if _, err = c.GetPayment(ctx, paymentID(t, "ord-none")); !errors.Is(err, application.ErrPaymentNotFound) {
		t.Errorf("an unknown payment: %v", err)
	}
	if n := tokenRequests(sb); n != 1 {
		t.Errorf("%d getToken requests, want 1 (the token is kept)", n)
	}
}

func TestV1ContractPreRegister(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	c := v1Client(t, sb)
	m, err := domain.NewMoney(12000, domain.KRW)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PreRegister(context.Background(), paymentID(t, "ord-1"), m); err != nil {
		t.Fatal(err)
	}
	if total, cur, ok := sb.PreRegistered("ord-1"); !ok || total != 12000 || cur != "KRW" {
		t.Errorf("pre-registered %d %s %v", total, cur, ok)
	}
	if p := sb.Pay("ord-1", sandbox.PaidWith{Total: 1200}); p.Status != sandbox.StatusFailed {
		t.Errorf("a tampered amount is %s", p.Status)
	}
}

func TestV1ContractCancel(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	c := v1Client(t, sb)
	ctx := context.Background()
	sb.Pay("ord-1", sandbox.PaidWith{Total: 10000})
	id := paymentID(t, "ord-1")

	amount := int64(3000)
	pc, err := c.Cancel(ctx, application.CancelRequest{Payment: id, Amount: &amount, CancellableBefore: 10000, Reason: "part"})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := sb.Payment("ord-1")
	if pc.Amount != 3000 || pc.Status != domain.CancellationSucceeded || pc.ID != stored.Cancellations[0].ID || pc.CancelledAt == nil {
		t.Errorf("partial cancel: %+v", pc)
	}
	if stored.Status != sandbox.StatusPartialCancelled || stored.Cancelled != 3000 {
		t.Errorf("stored %s %d", stored.Status, stored.Cancelled)
	}
	p, err := c.GetPayment(ctx, id)
	if err != nil || p.Status != domain.PaymentPartialCancelled || p.Cancelled != 3000 || len(p.Cancellations) != 1 {
		t.Errorf("after a partial cancel: %+v %v", p, err)
	}

	// A stale belief: the sandbox answers HTTP 200 code 1, the client refuses it.
	_, err = c.Cancel(ctx, application.CancelRequest{Payment: id, Amount: &amount, CancellableBefore: 10000, Reason: "stale"})
	if !application.IsGatewayError(err, application.GatewayErrCancellableAmountMismatch) || !errors.Is(err, application.ErrGatewayRefused) {
		t.Errorf("a wrong checksum: %v", err)
	}
	if stored, _ = sb.Payment("ord-1"); stored.Cancelled != 3000 {
		t.Errorf("the refused cancel cancelled: %d", stored.Cancelled)
	}

	pc, err = c.Cancel(ctx, application.CancelRequest{Payment: id, CancellableBefore: 7000, Reason: "rest"})
	if err != nil || pc.Amount != 7000 {
		t.Fatalf("cancel the rest: %+v %v", pc, err)
	}
	if p, err = c.GetPayment(ctx, id); err != nil || p.Status != domain.PaymentCancelled || p.Cancelled != 10000 {
		t.Errorf("after the full cancel: %+v %v", p, err)
	}
	_, err = c.Cancel(ctx, application.CancelRequest{Payment: id, CancellableBefore: 0, Reason: "again"})
	if !application.IsGatewayError(err, application.GatewayErrAlreadyCancelled) {
		t.Errorf("cancelling a cancelled payment: %v", err)
	}
}

func TestV1ContractListPages(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := now
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	c := v1Client(t, sb)
	for i := range 5 {
		mu.Lock()
		clock = now.Add(time.Duration(i) * time.Minute)
		mu.Unlock()
		sb.Pay("ord-"+strconv.Itoa(i), sandbox.PaidWith{Total: int64(1000 * (i + 1))})
	}
	q := application.PaymentListQuery{From: now.Add(-time.Hour), Until: now.Add(time.Hour), Size: 2}
	var got []string
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		page, err := c.ListPayments(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			got = append(got, p.ID.String())
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if want := "[ord-0 ord-1 ord-2 ord-3 ord-4]"; sprint(got) != want {
		t.Errorf("listed %v, want %s", got, want)
	}
	// Until excludes: a window ending at ord-2's payment leaves it out.
	page, err := c.ListPayments(context.Background(), application.PaymentListQuery{From: now, Until: now.Add(2 * time.Minute), Size: 10})
	if err != nil || len(page.Items) != 2 {
		t.Errorf("a window: %+v %v", page, err)
	}
}

func sprint(ids []string) string {
	out := "["
	for i, id := range ids {
		if i > 0 {
			out += " "
		}
		out += id
	}
	return out + "]"
}

func TestV1ContractFaults(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	c := v1Client(t, sb)
	ctx := context.Background()
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	id := paymentID(t, "ord-1")
	if _, err := c.GetPayment(ctx, id); err != nil {
		t.Fatal(err)
	}

	// The client reads again after a 500, three times in all.
	sb.FailNext(1, 500)
	if _, err := c.GetPayment(ctx, id); err != nil {
		t.Errorf("a read after one 500: %v", err)
	}
	sb.FailNext(3, 500)
	if _, err := c.GetPayment(ctx, id); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("three 500s: %v", err)
	}
	if _, err := c.GetPayment(ctx, id); err != nil {
		t.Errorf("after the fault: %v", err)
	}

	// Expired mid-run: the client fetches a new token once and succeeds.
	before := tokenRequests(sb)
	sb.ExpireV1Tokens()
	if _, err := c.GetPayment(ctx, id); err != nil {
		t.Errorf("after the tokens expired: %v", err)
	}
	if n := tokenRequests(sb) - before; n != 1 {
		t.Errorf("%d getToken requests after the expiry, want 1", n)
	}
	statuses := []int{}
	for _, r := range sb.Requests()[len(sb.Requests())-3:] {
		statuses = append(statuses, r.Status)
	}
	if sprint(intsToStrings(statuses)) != "[401 200 200]" {
		t.Errorf("the last three requests answered %v, want 401, getToken 200, 200", statuses)
	}

	// A token that keeps being refused is not retried forever.
	sb.FailNext(2, 401)
	if _, err := c.GetPayment(ctx, id); !errors.Is(err, application.ErrGatewayRefused) {
		t.Errorf("getToken refused after a 401: %v", err)
	}
}

func TestV1ContractTokenLifetime(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := now
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	c := v1Client(t, sb)
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})
	id := paymentID(t, "ord-1")
	if _, err := c.GetPayment(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The sandbox's 30 minutes pass while the client's clock stands still.
	mu.Lock()
	clock = now.Add(31 * time.Minute)
	mu.Unlock()
	if _, err := c.GetPayment(context.Background(), id); err != nil {
		t.Errorf("after the sandbox's token expired: %v", err)
	}
	if n := tokenRequests(sb); n != 2 {
		t.Errorf("%d getToken requests, want 2", n)
	}
}

func intsToStrings(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}
