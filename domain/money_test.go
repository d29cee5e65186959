package domain_test

import (
	"errors"
	"testing"

	"github.com/creditd/creditd/domain"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // -1 when the input must be refused
	}{
		{"1", 1},
		{"10000", 10000},
		{"0", 0}, // Money may be zero; a product's price may not (ProductSpec)
		{"1000000000000000", domain.MaxMoneyAmount},

		{"1000000000000001", -1},
		{"9999999999999999", -1},
		{"99999999999999999999", -1}, // beyond int64
		{"10000.5", -1},
		{"10000.0", -1},
		{"-1", -1},
		{"+1", -1},
		{"1e4", -1},
		{"1E4", -1},
		{"0x10", -1},
		{"010", -1},
		{"00", -1},
		{" 1", -1},
		{"1 ", -1},
		{"1,000", -1},
		{"", -1},
		{"１", -1}, // full-width digit
		{"NaN", -1},
	}
	for _, tc := range tests {
		m, err := domain.ParseMoney(tc.in, domain.KRW)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("ParseMoney(%q) = %s, want a refusal", tc.in, m)
		case tc.want < 0 && !errors.Is(err, domain.ErrInvalidInput):
			t.Errorf("ParseMoney(%q): %v, want ErrInvalidInput", tc.in, err)
		case tc.want >= 0 && err != nil:
			t.Errorf("ParseMoney(%q): %v", tc.in, err)
		case tc.want >= 0 && (m.Amount() != tc.want || m.Currency() != domain.KRW || m.String() != tc.in):
			t.Errorf("ParseMoney(%q) = %d %s (%q)", tc.in, m.Amount(), m.Currency(), m.String())
		}
	}
	if _, err := domain.ParseMoney("1", domain.Currency{}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("money without a currency: %v", err)
	}
}

func TestNewMoney(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		ok     bool
	}{{0, true}, {600, true}, {domain.MaxMoneyAmount, true}, {-1, false}, {domain.MaxMoneyAmount + 1, false}} {
		m, err := domain.NewMoney(tc.amount, domain.USD)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, domain.ErrInvalidInput)) {
			t.Errorf("NewMoney(%d) = %v, %v", tc.amount, m, err)
		}
	}
}

func TestParseCurrency(t *testing.T) {
	for code, digits := range map[string]int{"KRW": 0, "USD": 2, "JPY": 0} {
		c, err := domain.ParseCurrency(code)
		if err != nil || c.String() != code || c.MinorDigits() != digits || c.IsZero() {
			t.Errorf("ParseCurrency(%q) = %v (%d digits), %v", code, c, c.MinorDigits(), err)
		}
	}
	for _, code := range []string{"", "krw", "EUR", "KRW ", "원"} {
		if c, err := domain.ParseCurrency(code); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ParseCurrency(%q) = %v, %v: want ErrInvalidInput", code, c, err)
		}
	}
}
