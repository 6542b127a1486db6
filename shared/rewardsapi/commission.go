package rewardsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Routes of a commission's delivery: the merchant's own delivery of its
// reward failed, or was made again.
const (
	RouteDeliveryFailed = "POST /v1/commissions/{provider}/{id}/delivery-failed"
	RouteRedeliver      = "POST /v1/commissions/{provider}/{id}/redeliver"
)

// errNoCommission is an unknown commission (or provider).
var errNoCommission = fmt.Errorf("no such commission: %w", reward.ErrNotFound)

// CommissionBody is a commission's delivery as the API answers it.
// Acknowledgement is where the platform's side stands (null for a platform
// that is told nothing): requested or failed while an acknowledgement
// waits, acknowledged, unfulfil_requested or unfulfil_failed while the
// platform is still to be told of a failed delivery, unfulfilled once it
// confirmed, refused or unfulfil_refused when it will not, withdrawn.
type CommissionBody struct {
	Provider        string  `json:"provider"`
	CommissionID    string  `json:"commission_id"`
	Recipient       string  `json:"recipient"`
	Unit            string  `json:"unit"`
	Currency        string  `json:"currency"`
	Amount          int64   `json:"amount"`
	Status          string  `json:"status"`
	Delivery        string  `json:"delivery"`
	Reason          *string `json:"reason"`
	Acknowledgement *string `json:"acknowledgement"`
}

func commissionBody(c reward.Commission) CommissionBody {
	out := CommissionBody{
		Provider: string(c.Provider), CommissionID: c.ID, Recipient: string(c.Account.Recipient), Unit: string(c.Account.Unit),
		Currency: c.Account.Currency, Amount: c.Effective(), Status: string(c.Status), Delivery: "delivered",
	}
	if c.Undelivered {
		reason := c.UndeliveredReason
		out.Delivery, out.Reason = "undelivered", &reason
	}
	if c.Fulfilment != reward.NotRequested {
		f := string(c.Fulfilment)
		out.Acknowledgement = &f
	}
	return out
}

// deliveryFailedRequest is the body of POST .../delivery-failed.
type deliveryFailedRequest struct {
	Reason *string `json:"reason"`
}

func parseReason(body []byte) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return "", invalidf("body", "must be a JSON object")
	}
	for name := range fields {
		if name != "reason" {
			return "", invalidf(name, "is not a field of a delivery failure")
		}
	}
	var in deliveryFailedRequest
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil || in.Reason == nil {
		return "", invalidf("reason", "is required: a string of 1 to %d characters", reward.MaxReasonLength)
	}
	if n := len([]rune(*in.Reason)); n == 0 || n > reward.MaxReasonLength {
		return "", invalidf("reason", "must be 1 to %d characters", reward.MaxReasonLength)
	}
	return *in.Reason, nil
}

// commission reads the path's commission.
func (a API) commission(ctx context.Context, r Request) (reward.Commission, error) {
	p, id := reward.Provider(r.Params["provider"]), r.Params["id"]
	if p != reward.FirstPromoter && p != reward.AgentRef || id == "" || len(id) > reward.MaxIDLength {
		return reward.Commission{}, errNoCommission
	}
	c, err := a.Store.Commission(ctx, p, id)
	if errors.Is(err, reward.ErrNotFound) {
		return c, errNoCommission
	}
	return c, err
}

// delivery answers delivery-failed and redeliver: the change planned from
// the stored commission, written conditional on it, planned again from
// what is stored when another write got in first. A change the platform
// is still to be told of answers 202; one that leaves nothing to tell, or
// a repeat, 200.
func (a API) delivery(ctx context.Context, r Request, plan func(reward.Commission, time.Time) (reward.Change, error)) Response {
	cur, err := a.commission(ctx, r)
	if err != nil {
		return failure(err)
	}
	for attempt := 1; attempt <= conflictRetries; attempt++ {
		c, err := plan(cur, a.Now())
		if err != nil {
			return failure(err)
		}
		if c.Outcome != reward.Applied {
			return ok(http.StatusOK, commissionBody(cur))
		}
		err = a.Store.Apply(ctx, reward.EventRecord{}, c)
		var mm *reward.Mismatch
		var short *reward.Insufficient
		switch {
		case err == nil:
			status := http.StatusOK
			if f := c.After.Fulfilment; c.FulfilmentChanged && (f.Outstanding() || f.Unfulfilling()) {
				status = http.StatusAccepted
			}
			return ok(status, commissionBody(c.After))
		case errors.As(err, &short):
			available := short.Available
			return Response{Status: http.StatusConflict, Body: ErrorBody{Error: "the reward has been redeemed: the available balance no longer holds it", Available: &available}, Outcome: "insufficient"}
		case errors.As(err, &mm) && mm.Current != nil:
			cur = *mm.Current
		case errors.Is(err, reward.ErrConflict):
			if err := a.backoff(ctx, attempt); err != nil {
				return failure(err)
			}
			if cur, err = a.commission(ctx, r); err != nil {
				return failure(err)
			}
		default:
			return failure(err)
		}
	}
	return failure(fmt.Errorf("commission %s: %w", cur.ID, reward.ErrConflict))
}

func (a API) deliveryFailed(ctx context.Context, r Request) Response {
	reason, err := parseReason(r.Body)
	if err != nil {
		return failure(err)
	}
	return a.delivery(ctx, r, func(c reward.Commission, at time.Time) (reward.Change, error) {
		return reward.PlanUndelivered(c, reason, r.Actor, at)
	})
}

func (a API) redeliver(ctx context.Context, r Request) Response {
	return a.delivery(ctx, r, func(c reward.Commission, at time.Time) (reward.Change, error) {
		return reward.PlanRedelivered(c, r.Actor, at)
	})
}
