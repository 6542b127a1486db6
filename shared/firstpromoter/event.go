package firstpromoter

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Event is a FirstPromoter webhook delivery's body, decoded once, at the
// edge of the processor, leniently: what rewardrelay reads of it.
type Event struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Changes   struct {
		Status []string `json:"status"`
	} `json:"changes"`
	Data struct {
		ID       json.Number `json:"id"`
		Status   string      `json:"status"`
		Amount   int64       `json:"amount"`
		Unit     string      `json:"unit"`
		Test     bool        `json:"test"`
		Referral *struct {
			ID  json.Number `json:"id"`
			UID string      `json:"uid"`
		} `json:"referral"`
	} `json:"data"`
}

// ParseEvent decodes a delivery's body; an error wraps reward.ErrInvalid.
func ParseEvent(body []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("decode firstpromoter event: %w: %w", reward.ErrInvalid, err)
	}
	return e, nil
}

// Target is what a commission event says the status is now.
func (e Event) Target() reward.Target {
	switch e.EventType {
	case "commission.deleted", "commission.denied":
		return reward.TargetDenied
	case "commission.approved":
		return reward.TargetApproved
	case "commission.pending":
		return reward.TargetPending
	}
	status := e.Data.Status
	if len(e.Changes.Status) == 2 && status == "" {
		status = e.Changes.Status[1]
	}
	return StatusTarget(status)
}

// StatusTarget is the ledger's target for a commission status.
func StatusTarget(status string) reward.Target {
	switch status {
	case "approved":
		return reward.TargetApproved
	case "denied":
		return reward.TargetDenied
	default:
		return reward.TargetPending
	}
}

// CommissionID is the event's commission id; an error wraps
// reward.ErrInvalid.
func (e Event) CommissionID() (int64, error) {
	id, err := strconv.ParseInt(e.Data.ID.String(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("commission id %q: %w", e.Data.ID, reward.ErrInvalid)
	}
	return id, nil
}

// IsCommission reports whether the event is about a commission (payout
// events echo rewardrelay's own mark_fulfilled).
func (e Event) IsCommission() bool {
	switch e.EventType {
	case "commission.created", "commission.updated", "commission.approved", "commission.denied", "commission.pending", "commission.deleted":
		return true
	}
	return false
}
