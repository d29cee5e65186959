package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

var base = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newID(n int) [16]byte { return [16]byte{0x01, 15: byte(n)} }

var (
	walletID = domain.WalletID(newID(200))
	tenantID = domain.TenantID(newID(201))
	account  = mustAccount("user-1")
)

func mustAccount(s string) domain.AccountID {
	a, err := domain.ParseAccountID(s)
	if err != nil {
		panic(err)
	}
	return a
}

func at(d time.Duration) *time.Time { t := base.Add(d); return &t }

// lotSpec describes a stored lot; lots are named by the last byte of their id.
type lotSpec struct {
	name      byte
	priority  int
	expiresAt *time.Time
	createdAt time.Time
	remaining string
	held      string
	funding   domain.Funding
}

func (s lotSpec) lot() *domain.Lot {
	held := s.held
	if held == "" {
		held = "0"
	}
	rem := domain.MustCredits(s.remaining)
	return domain.RehydrateLot(domain.LotID(newID(int(s.name))), domain.LotPaid, rem, rem, domain.MustCredits(held),
		s.priority, s.expiresAt, s.createdAt, s.funding)
}

// wallet rehydrates a wallet whose caches agree with its lots.
func wallet(specs ...lotSpec) *domain.Wallet {
	var lots []*domain.Lot
	balance, held := domain.ZeroCredits, domain.ZeroCredits
	for _, s := range specs {
		l := s.lot()
		lots = append(lots, l)
		balance, held = balance.Add(l.Remaining()), held.Add(l.Held())
	}
	return domain.RehydrateWallet(walletID, tenantID, account, balance, held, domain.ZeroCredits, base.Add(-time.Hour), lots, nil)
}

func lotName(id domain.LotID) byte { return id[15] }

func TestConsumptionOrder(t *testing.T) {
	old, mid, young := base.Add(-3*time.Hour), base.Add(-2*time.Hour), base.Add(-time.Hour)
	tests := []struct {
		name string
		lots []lotSpec // stored in this order
		want []byte    // consumed in this order
	}{
		{"lowest priority value first", []lotSpec{
			{name: 'A', priority: 50, createdAt: old, remaining: "1"},
			{name: 'B', priority: 10, expiresAt: at(9 * time.Hour), createdAt: old, remaining: "1"},
			{name: 'C', priority: 0, createdAt: young, remaining: "1"},
		}, []byte("CBA")},
		{"then soonest expiry", []lotSpec{
			{name: 'A', priority: 50, expiresAt: at(3 * time.Hour), createdAt: old, remaining: "1"},
			{name: 'B', priority: 50, expiresAt: at(1 * time.Hour), createdAt: young, remaining: "1"},
			{name: 'C', priority: 50, expiresAt: at(2 * time.Hour), createdAt: mid, remaining: "1"},
		}, []byte("BCA")},
		{"never-expiring after expiring", []lotSpec{
			{name: 'A', priority: 50, createdAt: old, remaining: "1"},
			{name: 'B', priority: 50, expiresAt: at(500 * time.Hour), createdAt: young, remaining: "1"},
		}, []byte("BA")},
		{"then oldest", []lotSpec{
			{name: 'A', priority: 50, expiresAt: at(time.Hour), createdAt: young, remaining: "1"},
			{name: 'B', priority: 50, expiresAt: at(time.Hour), createdAt: old, remaining: "1"},
			{name: 'C', priority: 50, expiresAt: at(time.Hour), createdAt: mid, remaining: "1"},
			{name: 'D', priority: 50, createdAt: young, remaining: "1"},
			{name: 'E', priority: 50, createdAt: old, remaining: "1"},
		}, []byte("BCAED")},
		{"then by id", []lotSpec{
			{name: 'B', priority: 50, createdAt: old, remaining: "1"},
			{name: 'A', priority: 50, createdAt: old, remaining: "1"},
		}, []byte("AB")},
		{"priority beats expiry beats age", []lotSpec{
			{name: 'A', priority: 60, expiresAt: at(time.Minute), createdAt: old, remaining: "1"},
			{name: 'B', priority: 40, createdAt: old, remaining: "1"},
			{name: 'C', priority: 40, expiresAt: at(2 * time.Hour), createdAt: young, remaining: "1"},
			{name: 'D', priority: 40, expiresAt: at(time.Hour), createdAt: young, remaining: "1"},
		}, []byte("DCBA")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(tt.lots...)
			var order []byte
			for _, l := range w.Lots() {
				order = append(order, lotName(l.ID()))
			}
			if string(order) != string(tt.want) {
				t.Errorf("Lots() in order %s, want %s", order, tt.want)
			}

			// Spending everything shows the order the credits are taken in.
			tx, err := w.Spend(domain.TransactionID(newID(99)), w.Balance(), domain.Memo{}, base)
			if err != nil {
				t.Fatal(err)
			}
			order = order[:0]
			for _, p := range tx.Postings() {
				if !p.IsSystem() {
					order = append(order, lotName(p.Lot))
				}
			}
			if string(order) != string(tt.want) {
				t.Errorf("Spend took lots in order %s, want %s", order, tt.want)
			}
		})
	}
}

func TestGrantKeepsConsumptionOrder(t *testing.T) {
	w := domain.NewWallet(walletID, tenantID, account, base)
	grants := []struct {
		lot       byte
		priority  int
		expiresAt *time.Time
	}{{'A', 50, nil}, {'B', 50, at(2 * time.Hour)}, {'C', 10, nil}, {'D', 50, at(time.Hour)}}
	for i, g := range grants {
		if _, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(100 + i)), Lot: domain.LotID(newID(int(g.lot))),
			Amount: domain.MustCredits("1"), Source: domain.LotBonus, Priority: g.priority, ExpiresAt: g.expiresAt}, base); err != nil {
			t.Fatal(err)
		}
	}
	var order []byte
	for _, l := range w.Lots() {
		order = append(order, lotName(l.ID()))
	}
	if string(order) != "CDBA" {
		t.Errorf("lots in order %s, want CDBA", order)
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Error(err)
	}
}

func TestGrantRefuses(t *testing.T) {
	tests := []struct {
		name string
		g    domain.Grant
		want error
	}{
		{"zero amount", domain.Grant{Amount: domain.ZeroCredits, Priority: 50}, domain.ErrInvalidInput},
		{"negative amount", domain.Grant{Amount: domain.MustCredits("-1"), Priority: 50}, domain.ErrInvalidInput},
		{"priority below range", domain.Grant{Amount: domain.MustCredits("1"), Priority: -1}, domain.ErrInvalidInput},
		{"priority above range", domain.Grant{Amount: domain.MustCredits("1"), Priority: 101}, domain.ErrInvalidInput},
		{"expiry now", domain.Grant{Amount: domain.MustCredits("1"), Priority: 50, ExpiresAt: at(0)}, domain.ErrInvalidInput},
		{"balance over the limit", domain.Grant{Amount: domain.MustCredits("999999999999999999.999999"), Priority: 50}, domain.ErrBalanceLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "1"})
			tt.g.Source = domain.LotPaid
			if _, err := w.Grant(tt.g, base); !errors.Is(err, tt.want) {
				t.Fatalf("Grant error = %v, want %v", err, tt.want)
			}
			if !w.Balance().Equal(domain.MustCredits("1")) || len(w.ChangedLots()) != 0 {
				t.Fatalf("a refused grant changed the wallet: balance %s", w.Balance())
			}
		})
	}
}

func TestSpendTakesOnlyFreeUnexpiredCredits(t *testing.T) {
	w := wallet(
		lotSpec{name: 'A', priority: 0, expiresAt: at(time.Hour), createdAt: base, remaining: "10"},
		lotSpec{name: 'B', priority: 50, createdAt: base, remaining: "10", held: "4"},
		lotSpec{name: 'C', priority: 50, createdAt: base.Add(time.Second), remaining: "10"},
	)
	now := base.Add(time.Hour) // A expires at exactly this instant
	_, err := w.Spend(domain.TransactionID(newID(90)), domain.MustCredits("16.000001"), domain.Memo{}, now)
	var insufficient *domain.InsufficientCreditsError
	if !errors.As(err, &insufficient) || !errors.Is(err, domain.ErrInsufficientCredits) ||
		!insufficient.Available.Equal(domain.MustCredits("16")) || !insufficient.Requested.Equal(domain.MustCredits("16.000001")) {
		t.Fatalf("Spend error = %v, want insufficient credits (16 available)", err)
	}
	tx, err := w.Spend(domain.TransactionID(newID(91)), domain.MustCredits("16"), domain.Memo{}, now)
	if err != nil {
		t.Fatal(err)
	}
	var took []string
	for _, p := range tx.Postings() {
		if !p.IsSystem() {
			took = append(took, string(lotName(p.Lot))+p.Amount.String())
		}
	}
	if !slices.Equal(took, []string{"B-6", "C-10"}) {
		t.Errorf("Spend took %v, want [B-6 C-10]", took)
	}
	if !w.Balance().Equal(domain.MustCredits("14")) || !tx.BalanceAfter().Equal(domain.MustCredits("14")) {
		t.Errorf("balance %s, transaction says %s; want 14", w.Balance(), tx.BalanceAfter())
	}
}

func TestHoldLifecycle(t *testing.T) {
	w := wallet(
		lotSpec{name: 'A', priority: 10, createdAt: base, remaining: "3"},
		lotSpec{name: 'B', priority: 50, createdAt: base, remaining: "10"},
	)
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(50)), Amount: domain.MustCredits("5"), ExpiresAt: base.Add(time.Hour)}, base)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Allocations(); len(got) != 2 || lotName(got[0].Lot) != 'A' || !got[0].Amount.Equal(domain.MustCredits("3")) {
		t.Fatalf("allocations %v, want 3 on A then 2 on B", got)
	}
	if !w.Available().Equal(domain.MustCredits("8")) {
		t.Fatalf("available %s, want 8", w.Available())
	}
	if _, err := w.CaptureHold(h, domain.TransactionID(newID(51)), domain.MustCredits("5.000001"), base); !errors.Is(err, domain.ErrCaptureExceedsHold) {
		t.Fatalf("over-capture error = %v", err)
	}
	tx, err := w.CaptureHold(h, domain.TransactionID(newID(52)), domain.MustCredits("4"), base)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Hold() == nil || *tx.Hold() != h.ID() || h.Status() != domain.HoldPartiallyCaptured || !h.Remaining().Equal(domain.MustCredits("1")) {
		t.Fatalf("after capture: hold %v, status %s, remaining %s", tx.Hold(), h.Status(), h.Remaining())
	}
	if err := w.CheckInvariants([]*domain.Hold{h}); err != nil {
		t.Fatal(err)
	}
	if err := w.ReleaseHold(h, base); err != nil {
		t.Fatal(err)
	}
	if _, err := w.CaptureHold(h, domain.TransactionID(newID(53)), domain.MustCredits("1"), base); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("capture after release error = %v", err)
	}
	if err := w.ReleaseHold(h, base); !errors.Is(err, domain.ErrHoldNotReleasable) {
		t.Fatalf("second release error = %v", err)
	}
	if !w.Balance().Equal(domain.MustCredits("9")) || !w.Held().IsZero() {
		t.Fatalf("balance %s held %s, want 9 and 0", w.Balance(), w.Held())
	}
	if err := w.CheckInvariants(nil); err != nil {
		t.Fatal(err)
	}
}

func TestHoldExpires(t *testing.T) {
	w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10"})
	h, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(50)), Amount: domain.MustCredits("4"), ExpiresAt: base.Add(time.Minute)}, base)
	if err != nil {
		t.Fatal(err)
	}
	later := base.Add(time.Minute)
	if h.StatusAt(later) != domain.HoldExpired || h.Status() != domain.HoldActive {
		t.Fatalf("status at expiry %s (stored %s)", h.StatusAt(later), h.Status())
	}
	if _, err := w.CaptureHold(h, domain.TransactionID(newID(51)), domain.MustCredits("1"), later); !errors.Is(err, domain.ErrHoldNotCapturable) {
		t.Fatalf("capture of an expired hold error = %v", err)
	}
	if expired, err := w.ExpireDueHolds([]*domain.Hold{h}, base); len(expired) != 0 || err != nil {
		t.Fatalf("ExpireDueHolds before expiry = %v, %v", expired, err)
	}
	if expired, err := w.ExpireDueHolds([]*domain.Hold{h}, later); len(expired) != 1 || err != nil {
		t.Fatalf("ExpireDueHolds = %v, %v", expired, err)
	}
	if h.Status() != domain.HoldExpired || !w.Held().IsZero() || !w.Balance().Equal(domain.MustCredits("10")) || w.HoldsDueAt() != nil {
		t.Fatalf("after expiry: status %s held %s balance %s next due %v", h.Status(), w.Held(), w.Balance(), w.HoldsDueAt())
	}
}

func TestPlaceHoldRefuses(t *testing.T) {
	tests := []struct {
		name   string
		amount string
		in     time.Duration
		want   error
	}{
		{"too short", "1", time.Second - 1, domain.ErrInvalidInput},
		{"too long", "1", domain.MaxHoldDuration + 1, domain.ErrInvalidInput},
		{"zero amount", "0", time.Minute, domain.ErrInvalidInput},
		{"more than free", "6.000001", time.Minute, domain.ErrInsufficientCredits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wallet(lotSpec{name: 'A', priority: 50, createdAt: base, remaining: "10", held: "4"})
			_, err := w.PlaceHold(domain.NewHold{Hold: domain.HoldID(newID(50)), Amount: domain.MustCredits(tt.amount), ExpiresAt: base.Add(tt.in)}, base)
			if !errors.Is(err, tt.want) {
				t.Fatalf("PlaceHold error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExpireDueLeavesHeldCredits(t *testing.T) {
	w := wallet(
		lotSpec{name: 'A', priority: 50, expiresAt: at(time.Hour), createdAt: base, remaining: "10", held: "4"},
		lotSpec{name: 'B', priority: 50, createdAt: base, remaining: "5"},
	)
	if _, due, err := w.ExpireDue(domain.TransactionID(newID(60)), base); due || err != nil {
		t.Fatalf("ExpireDue before expiry = %v, %v", due, err)
	}
	tx, due, err := w.ExpireDue(domain.TransactionID(newID(61)), base.Add(time.Hour))
	if !due || err != nil {
		t.Fatalf("ExpireDue = %v, %v", due, err)
	}
	if tx.Type() != domain.TransactionExpiration || !tx.Amount().Equal(domain.MustCredits("6")) {
		t.Fatalf("expired %s in a %s transaction, want 6 in EXPIRATION", tx.Amount(), tx.Type())
	}
	if !w.Balance().Equal(domain.MustCredits("9")) || !w.Held().Equal(domain.MustCredits("4")) {
		t.Fatalf("balance %s held %s, want 9 and 4", w.Balance(), w.Held())
	}
	if _, due, _ := w.ExpireDue(domain.TransactionID(newID(62)), base.Add(2*time.Hour)); due {
		t.Fatal("ExpireDue expired held credits")
	}
}

func TestCheckInvariants(t *testing.T) {
	lot := func(remaining, held, amount string) *domain.Lot {
		return domain.RehydrateLot(domain.LotID(newID('A')), domain.LotBonus, domain.MustCredits(amount), domain.MustCredits(remaining),
			domain.MustCredits(held), 50, nil, base, domain.Funding{})
	}
	hold := func(reserves string) *domain.Hold {
		return domain.RehydrateHold(domain.HoldID(newID(70)), tenantID, walletID, account, domain.MustCredits(reserves), domain.ZeroCredits,
			domain.HoldActive, domain.Memo{}, base.Add(time.Hour), base, []domain.HoldAllocation{{Lot: domain.LotID(newID('A')), Amount: domain.MustCredits(reserves)}})
	}
	tests := []struct {
		name          string
		balance, held string
		lot           *domain.Lot
		holds         []*domain.Hold
		ok            bool
		holdsDueAt    *time.Time // nil: the hold's own expiry
	}{
		{"sound", "10", "3", lot("10", "3", "12"), []*domain.Hold{hold("3")}, true, nil},
		{"next hold expiry after an open hold's", "10", "3", lot("10", "3", "12"), []*domain.Hold{hold("3")}, false, ptr(base.Add(2 * time.Hour))},
		{"balance cache off", "11", "3", lot("10", "3", "12"), []*domain.Hold{hold("3")}, false, nil},
		{"held cache off", "10", "4", lot("10", "3", "12"), []*domain.Hold{hold("3")}, false, nil},
		{"holds disagree with lots", "10", "3", lot("10", "3", "12"), []*domain.Hold{hold("2")}, false, nil},
		{"missing hold", "10", "3", lot("10", "3", "12"), nil, false, nil},
		{"lot over-held", "10", "11", lot("10", "11", "12"), []*domain.Hold{hold("11")}, false, nil},
		{"remaining above amount", "13", "0", lot("13", "0", "12"), nil, false, nil},
		{"negative remaining", "-1", "0", lot("-1", "0", "12"), nil, false, nil},
		{"negative held", "10", "-1", lot("10", "-1", "12"), []*domain.Hold{hold("-1")}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := tt.holdsDueAt
			if due == nil {
				due = ptr(base.Add(time.Hour))
			}
			w := domain.RehydrateWallet(walletID, tenantID, account, domain.MustCredits(tt.balance), domain.MustCredits(tt.held), domain.ZeroCredits, base, []*domain.Lot{tt.lot}, due)
			if err := w.CheckInvariants(tt.holds); tt.ok != (err == nil) {
				t.Fatalf("CheckInvariants = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRehydrateTransactionRefusesUnbalanced(t *testing.T) {
	postings := []domain.Posting{
		{System: domain.SystemPromotions, Amount: domain.MustCredits("-5")},
		{Wallet: walletID, AccountID: account, Lot: domain.LotID(newID('A')), Amount: domain.MustCredits("5")},
	}
	if _, err := domain.RehydrateTransaction(domain.TransactionID(newID(80)), tenantID, domain.TransactionGrant, walletID, account,
		domain.MustCredits("5"), domain.MustCredits("5"), nil, domain.Memo{}, base, postings); err != nil {
		t.Fatalf("balanced transaction refused: %v", err)
	}
	postings[1].Amount = domain.MustCredits("5.000001")
	if _, err := domain.RehydrateTransaction(domain.TransactionID(newID(81)), tenantID, domain.TransactionGrant, walletID, account,
		domain.MustCredits("5"), domain.MustCredits("5"), nil, domain.Memo{}, base, postings); err == nil {
		t.Fatal("unbalanced transaction accepted")
	}
	if _, err := domain.RehydrateTransaction(domain.TransactionID(newID(82)), tenantID, domain.TransactionGrant, walletID, account,
		domain.MustCredits("0"), domain.MustCredits("5"), nil, domain.Memo{}, base, postings[:1]); err == nil {
		t.Fatal("transaction with one posting accepted")
	}
}

func TestGrantRefusesUnknownSource(t *testing.T) {
	w := domain.NewWallet(domain.WalletID{1}, domain.TenantID{1}, mustAccount("u"), time.Unix(0, 0))
	_, err := w.Grant(domain.Grant{Amount: domain.MustCredits("1"), Priority: domain.DefaultLotPriority}, time.Unix(0, 0))
	if !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("grant without a source: %v", err)
	}
	if !w.Balance().IsZero() || len(w.Lots()) != 0 {
		t.Fatal("a refused grant changed the wallet")
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewFunding(t *testing.T) {
	good := []string{"pay_01", "order 7", "인보이스-42", strings.Repeat("x", domain.MaxFundingReferenceLength)}
	for _, ref := range good {
		if f, err := domain.NewFunding(domain.FundedByOrder, ref); err != nil || f.Reference() != ref || f.Kind() != domain.FundedByOrder || f.IsZero() {
			t.Errorf("NewFunding(%q) = %v, %v", ref, f, err)
		}
	}
	bad := []string{"", "a\x00b", "tab\there", "line\n", "\xff", strings.Repeat("x", domain.MaxFundingReferenceLength+1)}
	for _, ref := range bad {
		if _, err := domain.NewFunding(domain.FundedExternally, ref); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("NewFunding(%q) error = %v, want invalid input", ref, err)
		}
	}
	if _, err := domain.NewFunding(domain.FundingKind{}, "x"); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("NewFunding of no kind: %v", err)
	}
	for _, s := range []string{"order", "external"} {
		if k, err := domain.FundingKindFromString(s); err != nil || k.String() != s {
			t.Errorf("FundingKindFromString(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := domain.FundingKindFromString("paid"); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("FundingKindFromString(paid): %v", err)
	}
}

// TestPostingsSayWhatFundedTheirLot: a grant's funding stays with its lot,
// and every posting on the lot, the grant's and a later spend's, names the
// lot's source and funding.
func TestPostingsSayWhatFundedTheirLot(t *testing.T) {
	w := domain.NewWallet(walletID, tenantID, account, base)
	order, err := domain.NewFunding(domain.FundedByOrder, "pay_123")
	if err != nil {
		t.Fatal(err)
	}
	grant, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(1)), Lot: domain.LotID(newID(2)), Amount: domain.MustCredits("10"),
		Source: domain.LotPaid, Priority: domain.DefaultLotPriority, Funding: order}, base)
	if err != nil {
		t.Fatal(err)
	}
	bonus, err := w.Grant(domain.Grant{Transaction: domain.TransactionID(newID(3)), Lot: domain.LotID(newID(4)), Amount: domain.MustCredits("1"),
		Source: domain.LotBonus, Priority: 0}, base)
	if err != nil {
		t.Fatal(err)
	}
	if grant.Funding() != order || !bonus.Funding().IsZero() || w.Lots()[1].Funding() != order {
		t.Fatalf("funding: grant %v, bonus %v, lot %v", grant.Funding(), bonus.Funding(), w.Lots()[1].Funding())
	}
	spend, err := w.Spend(domain.TransactionID(newID(5)), domain.MustCredits("3"), domain.Memo{}, base)
	if err != nil {
		t.Fatal(err)
	}
	if !spend.Funding().IsZero() {
		t.Errorf("a spend has funding %v", spend.Funding())
	}
	var got []string
	for _, p := range spend.Postings() {
		if !p.IsSystem() {
			got = append(got, fmt.Sprintf("%s %s %s/%s", p.Amount, p.LotSource, p.LotFunding.Kind(), p.LotFunding.Reference()))
		}
	}
	if want := []string{"-1 bonus /", "-2 paid order/pay_123"}; !slices.Equal(got, want) {
		t.Fatalf("spend postings %v, want %v", got, want)
	}
}
