package firstpromoter

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
	// Endpoint is the request's method and path, e.g. GET /commissions.
	Endpoint string
	// Field is the field's path in the answer, e.g. [3].amount.
	Field string
	// Problem says what is wrong with it: missing, or the type it had.
	Problem string
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("firstpromoter %s: answer field %s %s", e.Endpoint, e.Field, e.Problem)
}

// Unwrap classifies the error as reward.ErrContract.
func (e *ContractError) Unwrap() error { return reward.ErrContract }

// Retry says that the same request gets the same answer.
func (e *ContractError) Retry() (bool, time.Duration) { return false, 0 }

// errMissing is a required field that is absent or null.
type errMissing struct{ field string }

func (e *errMissing) Error() string { return "field " + e.field + " is missing" }

// required are the commission fields rewardrelay relies on.
var required = []string{"id", "status", "unit", "amount"}

// UnmarshalJSON decodes a commission and refuses one that lacks a field
// rewardrelay relies on: a zero id, status, unit or amount would be read
// as a real one.
func (c *Commission) UnmarshalJSON(b []byte) error {
	type plain Commission
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil {
		return err
	}
	for _, f := range required {
		if v, ok := present[f]; !ok || string(v) == "null" {
			return &errMissing{field: f}
		}
	}
	return nil
}

// contractError names the field of a decoding error, or returns nil when
// err is not about a field.
func contractError(endpoint string, err error) error {
	var missing *errMissing
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &missing):
		return &ContractError{Endpoint: endpoint, Field: missing.field, Problem: "is missing or null"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(the answer itself)"
		}
		return &ContractError{Endpoint: endpoint, Field: field, Problem: fmt.Sprintf("is a JSON %s, not %s", typ.Value, typ.Type)}
	}
	return nil
}
