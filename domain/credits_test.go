package domain_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/creditd/creditd/domain"
)

func TestParseCredits(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical value; empty when the input must be refused
	}{
		{"0", "0"},
		{"-0", "0"},
		{"0.000000", "0"},
		{"12.5", "12.5"},
		{"12.50", "12.5"},
		{"007", "7"},
		{"-5", "-5"}, // ParseCredits takes signed amounts; ParsePositiveCredits refuses them
		{"0.000001", "0.000001"},
		{"1.0000000", "1"}, // a seventh place that is zero loses nothing
		{"999999999999999999.999999", "999999999999999999.999999"},
		{"-999999999999999999.999999", "-999999999999999999.999999"},

		{"0.0000001", ""},
		{"1.1234567", ""},
		{"1000000000000000000", ""}, // 10^18
		{"-1000000000000000000", ""},
		{"1e3", ""},
		{"1E3", ""},
		{"+1", ""},
		{" 1", ""},
		{"1 ", ""},
		{"1.", ""},
		{".5", ""},
		{"-.5", ""},
		{"1.2.3", ""},
		{"1,5", ""},
		{"--1", ""},
		{"-", ""},
		{"", ""},
		{"NaN", ""},
		{"Inf", ""},
		{"0x10", ""},
		{"１", ""}, // full-width digit
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseCredits(tt.in)
			if tt.want == "" {
				if !errors.Is(err, domain.ErrInvalidInput) {
					t.Fatalf("ParseCredits(%q) = %s, %v; want ErrInvalidInput", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCredits(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseCredits(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePositiveCredits(t *testing.T) {
	for in, ok := range map[string]bool{"0.000001": true, "5": true, "0": false, "0.0": false, "-1": false, "abc": false} {
		_, err := domain.ParsePositiveCredits(in)
		if ok != (err == nil) {
			t.Errorf("ParsePositiveCredits(%q) error = %v, want ok=%v", in, err, ok)
		}
		if err != nil && !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ParsePositiveCredits(%q) error = %v, want ErrInvalidInput", in, err)
		}
	}
}

func TestCreditsFromDecimal(t *testing.T) {
	tests := []struct {
		name string
		in   decimal.Decimal
		ok   bool
	}{
		{"six places", decimal.New(1, -6), true},
		{"seven places", decimal.New(1, -7), false},
		{"seven places, zero last", decimal.New(10, -7), true},
		{"just below the limit", decimal.New(1, 18).Sub(decimal.New(1, -6)), true},
		{"the limit", decimal.New(1, 18), false},
		{"minus the limit", decimal.New(-1, 18), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := domain.CreditsFromDecimal(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("CreditsFromDecimal(%s) = %s, %v; want ok=%v", tt.in, c, err, tt.ok)
			}
			if err == nil && !c.Decimal().Equal(tt.in) {
				t.Fatalf("CreditsFromDecimal(%s) = %s", tt.in, c)
			}
		})
	}
}

func TestCreditsArithmetic(t *testing.T) {
	a, b := domain.MustCredits("10.25"), domain.MustCredits("0.75")
	if got := a.Add(b); !got.Equal(domain.MustCredits("11")) {
		t.Errorf("Add = %s", got)
	}
	if got := b.Sub(a); !got.Equal(domain.MustCredits("-9.5")) || !got.IsNegative() {
		t.Errorf("Sub = %s", got)
	}
	if got := domain.MinCredits(a, b); !got.Equal(b) {
		t.Errorf("MinCredits = %s", got)
	}
	if !domain.ZeroCredits.IsZero() || domain.ZeroCredits.IsPositive() {
		t.Error("ZeroCredits is not zero")
	}
	if text, _ := a.MarshalText(); string(text) != "10.25" {
		t.Errorf("MarshalText = %s", text)
	}
}
