package agentref

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Event is an AgentRef webhook delivery's body, decoded once, at the edge
// of the processor, with its data decoded for its type: Conversion,
// Affiliate (affiliate.* and flag.resolved, and whatever other type names
// an affiliate) or Payout. The undocumented types are decoded leniently:
// fields rewardrelay does not read are ignored.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	CreatedAt   string          `json:"createdAt"`
	Environment string          `json:"environment"`
	Data        json.RawMessage `json:"data"`

	Conversion *ConversionData `json:"-"`
	Affiliate  *AffiliateData  `json:"-"`
	Payout     *PayoutData     `json:"-"`
	// DataErr is why the data could not be decoded for the event's type
	// (wrapping reward.ErrInvalid); the event is refused when it is read.
	DataErr error `json:"-"`
}

// ParseEvent decodes a delivery's body and its data. An envelope that is
// not JSON is an error wrapping reward.ErrInvalid; data that does not
// decode is the event's DataErr.
func ParseEvent(body []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("decode agentref event: %w: %w", reward.ErrInvalid, err)
	}
	var v any
	what := e.Type
	switch e.Type {
	case "conversion.created", "conversion.refunded":
		e.Conversion, what = &ConversionData{}, "conversion"
		v = e.Conversion
	case "payout.completed", "payout.failed":
		e.Payout, what = &PayoutData{}, "payout"
		v = e.Payout
	default:
		// affiliate.*, flag.resolved, and the types only recorded, whose
		// affiliate (when they name one) orders them with its events.
		e.Affiliate = &AffiliateData{}
		v = e.Affiliate
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		e.Conversion, e.Affiliate, e.Payout = nil, nil, nil
		e.DataErr = fmt.Errorf("decode %s: %w: %w", what, reward.ErrInvalid, err)
	}
	return e, nil
}

// Recipient is the affiliate the event concerns ("" when it names none):
// its events apply one after another.
func (e Event) Recipient() string {
	switch {
	case e.Conversion != nil:
		return e.Conversion.AffiliateID
	case e.Payout != nil:
		return e.Payout.AffiliateID
	case e.Affiliate != nil && e.Affiliate.AffiliateID != "":
		return e.Affiliate.AffiliateID
	case e.Affiliate != nil && strings.HasPrefix(e.Type, "affiliate."):
		return e.Affiliate.ID
	}
	return ""
}

// At is when AgentRef created the event (the envelope's createdAt, checked
// by the webhook function); ok is false when it cannot be read.
func (e Event) At() (time.Time, bool) {
	at, err := time.Parse(time.RFC3339, e.CreatedAt)
	return at, err == nil
}

// ConversionData is a conversion event's data. It accepts both names the
// docs use for the amounts.
type ConversionData struct {
	ID               string `json:"id"`
	AffiliateID      string `json:"affiliateId"`
	Currency         string `json:"currency"`
	CommissionAmount *int64 `json:"commissionAmount"`
	Commission       *int64 `json:"commission"`
	Status           string `json:"status"`
}

func (c ConversionData) commission() (int64, error) {
	switch {
	case c.CommissionAmount != nil:
		return *c.CommissionAmount, nil
	case c.Commission != nil:
		return *c.Commission, nil
	}
	return 0, fmt.Errorf("conversion %s has neither commissionAmount nor commission: %w", c.ID, reward.ErrInvalid)
}

// Intent is the conversion's current state as a ledger intent; currency
// applies when the conversion names none.
func (c ConversionData) Intent(currency string) (reward.Intent, error) {
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

// AffiliateData is the data of affiliate.* and flag.resolved events.
type AffiliateData struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"` // flag events name the affiliate here
	Status      string `json:"status"`
}

// PayoutData is a payout event's data.
type PayoutData struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
}

// Intent is the payout's ledger intent: status, said at statusAt by the
// platform's clock; currency applies when the payout names none.
func (po PayoutData) Intent(currency string, status reward.PayoutStatus, statusAt time.Time) reward.PayoutIntent {
	if po.Currency != "" {
		currency = strings.ToLower(po.Currency)
	}
	return reward.PayoutIntent{
		Provider: reward.AgentRef, PayoutID: po.ID, Amount: po.Amount, Status: status, StatusAt: statusAt,
		Account: reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(po.AffiliateID), Unit: reward.Cash, Currency: currency},
	}
}

// Request is what the event asks of the ledger: currency applies where
// the platform names none, and received orders a hold or a payout when the
// envelope's createdAt cannot be read. Payout.created, payout.processing
// and program.* ask nothing (they are kept as event records). An error
// wraps reward.ErrInvalid: a field relied on is missing or mistyped.
func (e Event) Request(currency string, received time.Time) (reward.Request, error) {
	at, ok := e.At()
	if !ok {
		at = received
	}
	switch e.Type {
	case "conversion.created", "conversion.refunded":
		if e.DataErr != nil {
			return reward.Request{}, e.DataErr
		}
		in, err := e.Conversion.Intent(currency)
		if err != nil {
			return reward.Request{}, err
		}
		if e.Type == "conversion.refunded" && in.Target != reward.TargetRefunded {
			in.Target, in.Amount = reward.TargetRefunded, 0
		}
		in.EventID = e.ID
		return reward.Request{Intent: &in}, nil
	case "affiliate.blocked", "affiliate.unblocked", "flag.resolved":
		if e.DataErr != nil {
			return reward.Request{}, e.DataErr
		}
		a := e.Affiliate
		affiliate, held := a.ID, e.Type == "affiliate.blocked"
		if e.Type == "flag.resolved" {
			if a.Status == "" {
				// The resolution decides the hold: a flag without one is
				// refused, never ignored.
				return reward.Request{}, fmt.Errorf("flag.resolved without data.status (the resolution): %w", reward.ErrInvalid)
			}
			if a.Status != "confirmed" {
				return reward.Request{}, nil
			}
			affiliate, held = a.AffiliateID, true
		}
		if affiliate == "" {
			return reward.Request{}, fmt.Errorf("%s without an affiliate id: %w", e.Type, reward.ErrInvalid)
		}
		// The event's own time orders holds: a retried or redriven event
		// never undoes a later one, whatever order they are processed in.
		return reward.Request{Hold: &reward.Hold{Provider: reward.AgentRef, Recipient: reward.Affiliate(affiliate), Held: held, At: at}}, nil
	case "payout.completed", "payout.failed":
		if e.DataErr != nil {
			return reward.Request{}, e.DataErr
		}
		status := reward.PayoutCompleted
		if e.Type == "payout.failed" {
			status = reward.PayoutFailed
		}
		// Events are ordered by when the platform created them: a failure
		// and a retry's completion may arrive in either order.
		in := e.Payout.Intent(currency, status, at)
		in.EventID = e.ID
		return reward.Request{Payout: &in}, nil
	}
	return reward.Request{}, nil
}
