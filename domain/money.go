package domain

import (
	"fmt"
	"strconv"
)

// Currency is an ISO 4217 currency creditd sells in, with the number of
// digits of its minor unit (KRW and JPY have none, USD has two).
type Currency struct {
	code        string
	minorDigits int
}

var (
	KRW = Currency{"KRW", 0}
	USD = Currency{"USD", 2}
	JPY = Currency{"JPY", 0}
)

var currencies = []Currency{KRW, USD, JPY}

// ParseCurrency accepts the code of a currency creditd sells in.
func ParseCurrency(s string) (Currency, error) {
	for _, c := range currencies {
		if c.code == s {
			return c, nil
		}
	}
	return Currency{}, fmt.Errorf("%w: currency %q is not one of KRW, USD, JPY", ErrInvalidInput, s)
}

func (c Currency) String() string   { return c.code }
func (c Currency) MinorDigits() int { return c.minorDigits }
func (c Currency) IsZero() bool     { return c.code == "" }

// MaxMoneyAmount bounds an amount in minor units: far above any price, and
// small enough that amount × credits stays exact in NUMERIC and decimal.
const MaxMoneyAmount = 1_000_000_000_000_000 // 10^15

// Money is an amount in a currency's minor unit (PortOne's own convention:
// 10000 KRW is 10000, 6 USD is 600). Integers only: a float never touches it.
type Money struct {
	amount   int64
	currency Currency
}

// NewMoney checks 0 <= amount <= MaxMoneyAmount and a known currency.
func NewMoney(amount int64, currency Currency) (Money, error) {
	if currency.IsZero() {
		return Money{}, fmt.Errorf("%w: money needs a currency", ErrInvalidInput)
	}
	if amount < 0 || amount > MaxMoneyAmount {
		return Money{}, fmt.Errorf("%w: amount must be between 0 and %d minor units", ErrInvalidInput, int64(MaxMoneyAmount))
	}
	return Money{amount: amount, currency: currency}, nil
}

// ParseMoney parses an amount written as a decimal string of minor units
// ("10000"): digits only, no sign, no fraction, no exponent.
func ParseMoney(s string, currency Currency) (Money, error) {
	if s == "" || len(s) > 16 || (len(s) > 1 && s[0] == '0') {
		return Money{}, fmt.Errorf("%w: %q is not an amount in minor units", ErrInvalidInput, s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return Money{}, fmt.Errorf("%w: %q is not an amount in minor units (digits only)", ErrInvalidInput, s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return Money{}, fmt.Errorf("%w: %q is not an amount in minor units", ErrInvalidInput, s)
	}
	return NewMoney(n, currency)
}

func (m Money) Amount() int64      { return m.amount }
func (m Money) Currency() Currency { return m.currency }
func (m Money) IsZero() bool       { return m.amount == 0 }

// String is the amount in minor units, as JSON carries it ("10000").
func (m Money) String() string { return strconv.FormatInt(m.amount, 10) }
