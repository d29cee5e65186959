package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

var (
	day1  = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	store = domain.TenantID{1}
)

func krw(n int64) domain.Money {
	m, err := domain.NewMoney(n, domain.KRW)
	if err != nil {
		panic(err)
	}
	return m
}

func days(n int) *int { return &n }

func validSpec() domain.ProductSpec {
	return domain.ProductSpec{Name: "100 credits", Price: krw(10000), Credits: domain.MustCredits("100"),
		BonusCredits: domain.MustCredits("10"), CreditValidityDays: days(365)}
}

func TestParseProductID(t *testing.T) {
	for _, ok := range []string{"p", "pack-100", "A.b_C-9", strings.Repeat("x", 64)} {
		if id, err := domain.ParseProductID(ok); err != nil || id.String() != ok {
			t.Errorf("ParseProductID(%q) = %v, %v", ok, id, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 65), "a b", "a/b", "a\x00", "é", "a+b", "pack%20"} {
		if _, err := domain.ParseProductID(bad); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ParseProductID(%q): %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestProductSpecRules(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*domain.ProductSpec)
		field string // "" when the spec is valid
	}{
		{"valid", func(*domain.ProductSpec) {}, ""},
		{"no bonus, never expires", func(s *domain.ProductSpec) { s.BonusCredits, s.CreditValidityDays = domain.ZeroCredits, nil }, ""},
		{"name of 100 characters", func(s *domain.ProductSpec) { s.Name = strings.Repeat("크", 100) }, ""},
		{"validity of one day", func(s *domain.ProductSpec) { s.CreditValidityDays = days(1) }, ""},
		{"validity of ten years", func(s *domain.ProductSpec) { s.CreditValidityDays = days(3650) }, ""},
		{"fractional credits", func(s *domain.ProductSpec) { s.Credits = domain.MustCredits("0.000001") }, ""},

		{"empty name", func(s *domain.ProductSpec) { s.Name = "" }, "name"},
		{"name too long", func(s *domain.ProductSpec) { s.Name = strings.Repeat("n", 101) }, "name"},
		{"name with NUL", func(s *domain.ProductSpec) { s.Name = "a\x00b" }, "name"},
		{"name with a newline", func(s *domain.ProductSpec) { s.Name = "a\nb" }, "name"},
		{"name invalid UTF-8", func(s *domain.ProductSpec) { s.Name = "a\xffb" }, "name"},
		{"blank name", func(s *domain.ProductSpec) { s.Name = " " }, "name"},
		{"padded name", func(s *domain.ProductSpec) { s.Name = "pack " }, "name"},
		{"zero price", func(s *domain.ProductSpec) { s.Price = krw(0) }, "price"},
		{"no price", func(s *domain.ProductSpec) { s.Price = domain.Money{} }, "price"},
		{"zero credits", func(s *domain.ProductSpec) { s.Credits = domain.ZeroCredits }, "credits"},
		{"negative credits", func(s *domain.ProductSpec) { s.Credits = domain.MustCredits("-1") }, "credits"},
		{"negative bonus", func(s *domain.ProductSpec) { s.BonusCredits = domain.MustCredits("-0.1") }, "bonusCredits"},
		{"validity zero", func(s *domain.ProductSpec) { s.CreditValidityDays = days(0) }, "creditValidityDays"},
		{"validity negative", func(s *domain.ProductSpec) { s.CreditValidityDays = days(-1) }, "creditValidityDays"},
		{"validity too long", func(s *domain.ProductSpec) { s.CreditValidityDays = days(3651) }, "creditValidityDays"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := validSpec()
			tc.edit(&spec)
			p, err := domain.NewProduct(store, domain.ProductID{}, spec, day1)
			var ferr *domain.InvalidFieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("NewProduct: %v", err)
			case tc.field == "" && (!p.Active() || !p.CreatedAt().Equal(day1) || !p.UpdatedAt().Equal(day1)):
				t.Fatalf("a new product is active, created and updated now: %+v", p)
			case tc.field != "" && !errors.Is(err, domain.ErrInvalidInput):
				t.Fatalf("NewProduct: %v, want ErrInvalidInput", err)
			case tc.field != "" && (!errors.As(err, &ferr) || ferr.Field != tc.field):
				t.Fatalf("NewProduct: %v, want a field error on %s", err, tc.field)
			}

			// A change to the same values is refused alike, and leaves the product as it was.
			p, err = domain.NewProduct(store, domain.ProductID{}, validSpec(), day1)
			if err != nil {
				t.Fatal(err)
			}
			c := domain.ProductChange{Name: &spec.Name, Price: &spec.Price, Credits: &spec.Credits, BonusCredits: &spec.BonusCredits,
				CreditValidityDays: spec.CreditValidityDays, ClearCreditValidity: spec.CreditValidityDays == nil}
			before := *p
			err = p.Change(c, day1.Add(time.Hour))
			if (tc.field == "") != (err == nil) {
				t.Fatalf("Change: %v", err)
			}
			if err != nil && *p != before {
				t.Fatalf("a refused change changed the product: %+v", p)
			}
		})
	}
}

func TestProductChange(t *testing.T) {
	p, err := domain.NewProduct(store, domain.ProductID{}, validSpec(), day1)
	if err != nil {
		t.Fatal(err)
	}
	later := day1.Add(time.Hour)
	name := "renamed"
	if err := p.Change(domain.ProductChange{Name: &name}, later); err != nil {
		t.Fatal(err)
	}
	spec := p.Spec()
	if spec.Name != "renamed" || spec.Price != krw(10000) || !spec.Credits.Equal(domain.MustCredits("100")) ||
		*spec.CreditValidityDays != 365 || !p.Active() || !p.UpdatedAt().Equal(later) || !p.CreatedAt().Equal(day1) {
		t.Fatalf("after a name change: %+v", spec)
	}

	off := false
	if err := p.Change(domain.ProductChange{Active: &off, ClearCreditValidity: true}, later); err != nil {
		t.Fatal(err)
	}
	if p.Active() || p.Spec().CreditValidityDays != nil {
		t.Fatalf("archive and clear validity: active %v, validity %v", p.Active(), p.Spec().CreditValidityDays)
	}

	// The product shares no memory with its callers.
	d := new(int)
	*d = 30
	if err := p.Change(domain.ProductChange{CreditValidityDays: d}, later); err != nil {
		t.Fatal(err)
	}
	*d = 9999
	*p.Spec().CreditValidityDays = 9999
	if got := *p.Spec().CreditValidityDays; got != 30 {
		t.Fatalf("validity changed behind the product's back: %d", got)
	}
	spec = validSpec()
	q, _ := domain.NewProduct(store, domain.ProductID{}, spec, day1)
	*spec.CreditValidityDays = 0
	if *q.Spec().CreditValidityDays != 365 {
		t.Fatal("NewProduct kept the caller's pointer")
	}
}
