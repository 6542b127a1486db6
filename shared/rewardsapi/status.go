package rewardsapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// failures maps each kind of error to its status, outcome and answer: the
// one place a status code is chosen. Anything else is the ledger failing:
// 503, with a fixed answer and the error kept for the log.
var failures = []struct {
	kind    error
	status  int
	outcome string
	answer  string // "" answers the error's own text (request errors only)
}{
	{errNoRoute, http.StatusNotFound, "not_found", "no such route"},
	{errNoCommission, http.StatusNotFound, "not_found", "no such commission"},
	{reward.ErrNotDelivered, http.StatusConflict, "conflict", ""},
	{reward.ErrNotFound, http.StatusNotFound, "not_found", "no such redemption"},
	{reward.ErrKeyReused, http.StatusUnprocessableEntity, "key_reused", "the Idempotency-Key was used with another request"},
	{reward.ErrHoldExpired, http.StatusConflict, "conflict", "the hold has expired"},
	{reward.ErrTransition, http.StatusConflict, "conflict", ""},
}

func ok(status int, body any) Response {
	return Response{Status: status, Body: body, Outcome: "ok"}
}

func failure(err error) Response {
	var in *invalid
	if errors.As(err, &in) {
		return Response{Status: http.StatusBadRequest, Body: ErrorBody{Error: in.Error()}, Outcome: "invalid"}
	}
	var short *reward.Insufficient
	if errors.As(err, &short) {
		available := short.Available
		return Response{Status: http.StatusConflict, Body: ErrorBody{Error: "the amount exceeds the available balance", Available: &available}, Outcome: "insufficient"}
	}
	for _, f := range failures {
		if errors.Is(err, f.kind) {
			answer := f.answer
			if answer == "" {
				answer = transitionText(err)
			}
			return Response{Status: f.status, Body: ErrorBody{Error: answer}, Outcome: f.outcome}
		}
	}
	if errors.Is(err, reward.ErrInvalid) {
		return Response{Status: http.StatusBadRequest, Body: ErrorBody{Error: "the request cannot be applied as it is"}, Outcome: "invalid"}
	}
	return Response{Status: http.StatusServiceUnavailable, Body: ErrorBody{Error: "the ledger is unavailable; retry later"}, Outcome: "unavailable", Err: err}
}

// transitionText is the domain's reason for a refused transition
// ("capture a redemption that is voided"), without the sentinel's text.
func transitionText(err error) string {
	return strings.TrimSuffix(strings.TrimSuffix(err.Error(), ": "+reward.ErrTransition.Error()), ": "+reward.ErrNotDelivered.Error())
}
