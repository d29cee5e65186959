package domain

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// CreditScale is the largest number of decimal places a credit amount may have.
const CreditScale = 6

// maxCreditDigits bounds the integer part so every amount and every sum of
// them fits NUMERIC(30,6).
const maxCreditDigits = 18

var creditLimit = decimal.New(1, maxCreditDigits) // exclusive

// Credits is an amount of credits: a decimal with at most CreditScale places.
// The zero value is zero credits.
type Credits struct{ d decimal.Decimal }

// ZeroCredits is zero credits.
var ZeroCredits = Credits{}

// ParseCredits parses a decimal string such as "12.5". It refuses anything
// that is not a plain decimal, has more than CreditScale places, or is too large.
func ParseCredits(s string) (Credits, error) {
	d, err := decimal.NewFromString(s)
	if err != nil || !isPlainDecimal(s) {
		return Credits{}, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidInput, s)
	}
	return creditsFromDecimal(d)
}

// ParsePositiveCredits is ParseCredits for amounts that must be above zero.
func ParsePositiveCredits(s string) (Credits, error) {
	c, err := ParseCredits(s)
	if err != nil {
		return Credits{}, err
	}
	if !c.IsPositive() {
		return Credits{}, fmt.Errorf("%w: amount must be greater than zero", ErrInvalidInput)
	}
	return c, nil
}

// MustCredits parses s or panics; for tests and constants.
func MustCredits(s string) Credits {
	c, err := ParseCredits(s)
	if err != nil {
		panic(err)
	}
	return c
}

// CreditsFromDecimal converts a stored decimal, checking the same limits as ParseCredits.
func CreditsFromDecimal(d decimal.Decimal) (Credits, error) { return creditsFromDecimal(d) }

func creditsFromDecimal(d decimal.Decimal) (Credits, error) {
	if d.Exponent() < -CreditScale && !d.Equal(d.Truncate(CreditScale)) {
		return Credits{}, fmt.Errorf("%w: amounts have at most %d decimal places", ErrInvalidInput, CreditScale)
	}
	if d.Abs().Cmp(creditLimit) >= 0 {
		return Credits{}, fmt.Errorf("%w: amount must be below 10^%d", ErrInvalidInput, maxCreditDigits)
	}
	return Credits{d: d.Truncate(CreditScale)}, nil
}

// isPlainDecimal accepts [-]digits[.digits]: no exponent, no leading '+',
// no spaces, which decimal.NewFromString would otherwise let through.
func isPlainDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot = true
			if i == len(s)-1 {
				return false
			}
		default:
			return false
		}
	}
	return digits > 0
}

func (c Credits) Decimal() decimal.Decimal     { return c.d }
func (c Credits) Add(o Credits) Credits        { return Credits{d: c.d.Add(o.d)} }
func (c Credits) Sub(o Credits) Credits        { return Credits{d: c.d.Sub(o.d)} }
func (c Credits) Neg() Credits                 { return Credits{d: c.d.Neg()} }
func (c Credits) Cmp(o Credits) int            { return c.d.Cmp(o.d) }
func (c Credits) Equal(o Credits) bool         { return c.d.Equal(o.d) }
func (c Credits) IsZero() bool                 { return c.d.IsZero() }
func (c Credits) IsPositive() bool             { return c.d.IsPositive() }
func (c Credits) IsNegative() bool             { return c.d.IsNegative() }
func (c Credits) String() string               { return c.d.String() }
func (c Credits) MarshalText() ([]byte, error) { return []byte(c.d.String()), nil }

// MinCredits returns the smaller of a and b.
func MinCredits(a, b Credits) Credits {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}
