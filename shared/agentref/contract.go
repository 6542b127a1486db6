package agentref

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// ContractError is a successful answer that breaks the documented
// contract: a field rewardrelay relies on is missing or of another type.
// It is never retried, and never read as a zero value.
type ContractError struct {
	// Endpoint is the request's method and path, e.g. GET /conversions.
	Endpoint string
	// Field is the field's path in the answer, e.g. affiliateId.
	Field string
	// Problem says what is wrong with it: missing, or the type it had.
	Problem string
	// RequestID is the answer's meta.requestId, when it has one.
	RequestID string
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("agentref %s (request %s): answer field %s %s", e.Endpoint, e.RequestID, e.Field, e.Problem)
}

// Unwrap classifies the error as reward.ErrContract.
func (e *ContractError) Unwrap() error { return reward.ErrContract }

// Retry says that the same request gets the same answer.
func (e *ContractError) Retry() (bool, time.Duration) { return false, 0 }

// errMissing is a required field that is absent or null.
type errMissing struct{ field string }

func (e *errMissing) Error() string { return "field " + e.field + " is missing" }

// requireFields refuses b when one of fields is absent or null.
func requireFields(b []byte, fields ...string) error {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil {
		return err
	}
	for _, f := range fields {
		if v, ok := present[f]; !ok || string(v) == "null" {
			return &errMissing{field: f}
		}
	}
	return nil
}

// UnmarshalJSON decodes a conversion that has the fields rewardrelay
// relies on (its commission is checked by CommissionCents).
func (c *Conversion) UnmarshalJSON(b []byte) error {
	type plain Conversion
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	return requireFields(b, "id", "affiliateId", "status")
}

// UnmarshalJSON decodes a payout that has the fields rewardrelay relies
// on (its amount is checked by Amount.Cents).
func (p *Payout) UnmarshalJSON(b []byte) error {
	type plain Payout
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	return requireFields(b, "id", "affiliateId", "status", "createdAt")
}

// UnmarshalJSON decodes an affiliate that has an id and a status.
func (a *Affiliate) UnmarshalJSON(b []byte) error {
	type plain Affiliate
	if err := json.Unmarshal(b, (*plain)(a)); err != nil {
		return err
	}
	return requireFields(b, "id", "status")
}

// UnmarshalJSON decodes a flag that names its affiliate and status.
func (f *Flag) UnmarshalJSON(b []byte) error {
	type plain Flag
	if err := json.Unmarshal(b, (*plain)(f)); err != nil {
		return err
	}
	return requireFields(b, "affiliateId", "status", "createdAt")
}

// contractError names the field of a decoding error of raw, or returns
// nil when err is not about a field.
func contractError(endpoint string, raw []byte, err error) error {
	var missing *errMissing
	var typ *json.UnmarshalTypeError
	cerr := &ContractError{Endpoint: endpoint}
	switch {
	case errors.As(err, &missing):
		cerr.Field, cerr.Problem = missing.field, "is missing or null"
	case errors.As(err, &typ):
		cerr.Field, cerr.Problem = typ.Field, fmt.Sprintf("is a JSON %s, not %s", typ.Value, typ.Type)
		if cerr.Field == "" {
			cerr.Field = "(the answer itself)"
		}
	default:
		return nil
	}
	var page struct {
		Meta struct {
			RequestID string `json:"requestId"`
		} `json:"meta"`
	}
	if json.Unmarshal(raw, &page) == nil {
		cerr.RequestID = page.Meta.RequestID
	}
	return cerr
}
