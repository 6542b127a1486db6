package agentref

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
)

// Amount is a REST amount (a conversion's amount and commission, a
// payout's amount) as the API sent it: the official SDKs type it as a
// number (a float in Python), not an integer. rewardrelay reads it in the
// currency's minor unit (cents), the unit of the webhooks' amounts: an
// integral value, written as an integer or as a decimal (1250, 1250.0,
// 1.25e3), is that many cents. A value that is not a whole, non-negative
// number of cents (12.5, -3, a string) cannot be interpreted: Cents
// refuses it, and the reconciler records the row as drift. Decoding never
// fails, so one such row never fails its page.
type Amount string

// UnmarshalJSON keeps the value as sent; null is no value.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*a = ""
		return nil
	}
	*a = Amount(b)
	return nil
}

// MarshalJSON writes the value as it was sent (null when there is none).
func (a Amount) MarshalJSON() ([]byte, error) {
	if a == "" {
		return []byte("null"), nil
	}
	return []byte(a), nil
}

// ErrAmount is an amount that cannot be read as whole cents.
var ErrAmount = errors.New("agentref: amount is not a whole, non-negative number of cents")

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$`)

// Cents reads the amount as a whole number of cents.
func (a Amount) Cents() (int64, error) {
	if a == "" {
		return 0, fmt.Errorf("amount missing: %w", ErrAmount)
	}
	s := string(a)
	if len(s) > 64 || !jsonNumber.MatchString(s) {
		return 0, fmt.Errorf("amount %.64s is not a number: %w", s, ErrAmount)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || r.Sign() < 0 || !r.Num().IsInt64() {
		return 0, fmt.Errorf("amount %s: %w", s, ErrAmount)
	}
	return r.Num().Int64(), nil
}

// CentsOf is a whole number of cents as an Amount.
func CentsOf(n int64) Amount { return Amount(strconv.FormatInt(n, 10)) }
