package relay

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// fpEnvelope is FirstPromoter's webhook envelope, decoded leniently.
type fpEnvelope struct {
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

// target is what a FirstPromoter commission event says the status is now.
func (e fpEnvelope) target() reward.Target {
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
	return statusTarget(status)
}

func statusTarget(status string) reward.Target {
	switch status {
	case "approved":
		return reward.TargetApproved
	case "denied":
		return reward.TargetDenied
	default:
		return reward.TargetPending
	}
}

// arEnvelope is AgentRef's envelope.
type arEnvelope struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   string          `json:"createdAt"`
	Environment string          `json:"environment"`
	Data        json.RawMessage `json:"data"`
}

// arConversion accepts both names the docs use for the amounts.
type arConversion struct {
	ID               string `json:"id"`
	AffiliateID      string `json:"affiliateId"`
	Currency         string `json:"currency"`
	CommissionAmount *int64 `json:"commissionAmount"`
	Commission       *int64 `json:"commission"`
	Status           string `json:"status"`
}

func (c arConversion) commission() (int64, error) {
	switch {
	case c.CommissionAmount != nil:
		return *c.CommissionAmount, nil
	case c.Commission != nil:
		return *c.Commission, nil
	}
	return 0, fmt.Errorf("conversion %s has neither commissionAmount nor commission: %w", c.ID, reward.ErrInvalid)
}

// intent is the conversion's current state as a ledger intent.
func (c arConversion) intent(currency string) (reward.Intent, error) {
	if c.ID == "" || c.AffiliateID == "" {
		return reward.Intent{}, fmt.Errorf("conversion without id or affiliateId: %w", reward.ErrInvalid)
	}
	amount, err := c.commission()
	if err != nil {
		return reward.Intent{}, err
	}
	if c.Currency != "" {
		currency = strings.ToLower(c.Currency)
	}
	in := reward.Intent{
		Provider: reward.AgentRef, CommissionID: c.ID, Amount: amount,
		Account: reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(c.AffiliateID), Unit: reward.Cash, Currency: currency},
	}
	switch c.Status {
	case "approved", "paid":
		// Paid follows an approval: the reward is due whatever was paid
		// out since (a payout debits it on its own).
		in.Target = reward.TargetApproved
	case "rejected":
		in.Target = reward.TargetDenied
	case "refunded":
		in.Target, in.Amount = reward.TargetRefunded, 0
	case "partially_refunded":
		in.Target = reward.TargetRefunded
	default:
		in.Target = reward.TargetPending
	}
	return in, nil
}

type arAffiliate struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"` // flag events name the affiliate here
	Status      string `json:"status"`
}

type arPayout struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
}

// intent is the payout's ledger intent: status, said at statusAt by the
// platform's clock.
func (po arPayout) intent(currency string, status reward.PayoutStatus, statusAt time.Time) reward.PayoutIntent {
	if po.Currency != "" {
		currency = strings.ToLower(po.Currency)
	}
	return reward.PayoutIntent{
		Provider: reward.AgentRef, PayoutID: po.ID, Amount: po.Amount, Status: status, StatusAt: statusAt,
		Account: reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(po.AffiliateID), Unit: reward.Cash, Currency: currency},
	}
}

func parseID(n json.Number) (int64, error) {
	id, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("commission id %q: %w", n, reward.ErrInvalid)
	}
	return id, nil
}
