// Package announce publishes every ledger entry as an event on EventBridge,
// from the ledger table's stream: the transactional outbox, so that a write
// that did not commit is never announced and one that did is announced at
// least once. An event is built from its stream record alone (and the
// merchant's own ids of the platform's people, looked up once and kept):
// replaying a record publishes the same event, with the ledger entry's id as
// the consumer's idempotency key.
package announce

import (
	"fmt"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Source is the source of every event.
const Source = "rewardrelay"

// SchemaVersion is the version of the detail's shape.
const SchemaVersion = 1

// Detail types. Reward Posted is the event to deliver on: the reward is the
// recipient's now.
const (
	RewardPending      = "Reward Pending"
	RewardPosted       = "Reward Posted"
	RewardVoided       = "Reward Voided"
	RewardReversed     = "Reward Reversed"
	RewardAcknowledged = "Reward Acknowledged"
	RewardUndelivered  = "Reward Undelivered"
	// RewardUnacknowledged: the platform no longer shows the reward
	// fulfilled, after the merchant's delivery of it failed.
	RewardUnacknowledged = "Reward Unacknowledged"
	RedemptionPosted     = "Redemption Posted"
	RedemptionHeld       = "Redemption Held"
	RedemptionVoided     = "Redemption Voided"
	RedemptionReversed   = "Redemption Reversed"
	PayoutCompleted      = "Payout Completed"
	PayoutFailed         = "Payout Failed"
)

// DetailTypes lists every detail type, each with its JSON Schema.
var DetailTypes = []string{
	RewardPending, RewardPosted, RewardVoided, RewardReversed, RewardAcknowledged, RewardUndelivered, RewardUnacknowledged,
	RedemptionPosted, RedemptionHeld, RedemptionVoided, RedemptionReversed, PayoutCompleted, PayoutFailed,
}

// kind is how an entry kind is announced: its detail type and its amount,
// read from the balance the entry moves the reward into (or out of, for
// the kinds that take it away).
type kind struct {
	detailType string
	amount     func(reward.Deltas) int64
}

// kinds maps every entry kind. A redelivered reward is available again:
// it is posted again, under its own entry id, so that a consumer that
// delivers on Reward Posted delivers it again.
var kinds = map[reward.EntryKind]kind{
	reward.KindPending:       {RewardPending, func(d reward.Deltas) int64 { return d.Pending }},
	reward.KindPost:          {RewardPosted, func(d reward.Deltas) int64 { return d.Available }},
	reward.KindVoid:          {RewardVoided, func(d reward.Deltas) int64 { return -d.Pending }},
	reward.KindReverse:       {RewardReversed, func(d reward.Deltas) int64 { return d.Reversed }},
	reward.KindAck:           {RewardAcknowledged, func(d reward.Deltas) int64 { return d.Fulfilled }},
	reward.KindUndelivered:   {RewardUndelivered, func(d reward.Deltas) int64 { return -d.Available }},
	reward.KindUnfulfilled:   {RewardUnacknowledged, func(d reward.Deltas) int64 { return -d.Fulfilled }},
	reward.KindRedelivered:   {RewardPosted, func(d reward.Deltas) int64 { return d.Available }},
	reward.KindRedeem:        {RedemptionPosted, func(d reward.Deltas) int64 { return d.Redeemed }},
	reward.KindRedeemHold:    {RedemptionHeld, func(d reward.Deltas) int64 { return d.Held }},
	reward.KindRedeemCapture: {RedemptionPosted, func(d reward.Deltas) int64 { return d.Redeemed }},
	reward.KindRedeemVoid:    {RedemptionVoided, func(d reward.Deltas) int64 { return -d.Held }},
	reward.KindRedeemReverse: {RedemptionReversed, func(d reward.Deltas) int64 { return -d.Redeemed }},
	reward.KindPayout:        {PayoutCompleted, func(d reward.Deltas) int64 { return -d.Available }},
	reward.KindRefund:        {PayoutFailed, func(d reward.Deltas) int64 { return d.Available }},
}

// Balance is the recipient's balances in the entry's unit (and currency)
// right after the entry.
type Balance struct {
	Pending   int64 `json:"pending"`
	Available int64 `json:"available"`
	Reversed  int64 `json:"reversed"`
	Fulfilled int64 `json:"fulfilled"`
	Redeemed  int64 `json:"redeemed"`
	Held      int64 `json:"held"`
}

// Detail is an event's detail. Exactly one of CommissionID, RedemptionID and
// PayoutID is set, by the entry's subject.
type Detail struct {
	SchemaVersion int    `json:"schema_version"`
	ID            string `json:"id"`
	Provider      string `json:"provider"`
	CommissionID  string `json:"commission_id,omitempty"`
	RedemptionID  string `json:"redemption_id,omitempty"`
	PayoutID      string `json:"payout_id,omitempty"`
	Recipient     string `json:"recipient"`
	// MerchantUserID is the person's id in the merchant's own system, when
	// the platform gives one; null otherwise.
	MerchantUserID *string `json:"merchant_user_id"`
	Unit           string  `json:"unit"`
	// Currency is null for a unit without one.
	Currency   *string `json:"currency"`
	Amount     int64   `json:"amount"`
	Balance    Balance `json:"balance"`
	OccurredAt string  `json:"occurred_at"`
}

// Event is one ledger entry's event.
type Event struct {
	DetailType string
	Detail     Detail
	// At is when the entry was written (the event's time on the bus).
	At time.Time
}

// Of builds the event of a booked entry; merchantUserID is nil when the
// platform gives none. An entry kind without a mapping is an error: it is
// never published under a guessed type.
func Of(b reward.Booked, merchantUserID *string) (Event, error) {
	k, ok := kinds[b.Kind]
	if !ok {
		return Event{}, fmt.Errorf("entry %s: kind %q has no event: %w", b.ID, b.Kind, reward.ErrInvalid)
	}
	d := Detail{
		SchemaVersion: SchemaVersion, ID: b.ID, Provider: string(b.Account.Provider), Recipient: string(b.Account.Recipient),
		MerchantUserID: merchantUserID, Unit: string(b.Account.Unit), Amount: k.amount(b.Deltas),
		Balance: Balance{
			Pending: b.After.Pending, Available: b.After.Available, Reversed: b.After.Reversed,
			Fulfilled: b.After.Fulfilled, Redeemed: b.After.Redeemed, Held: b.After.Held,
		},
		OccurredAt: b.At.UTC().Format(time.RFC3339Nano),
	}
	if b.Account.Currency != "" {
		c := b.Account.Currency
		d.Currency = &c
	}
	subjectKind, id, _ := strings.Cut(b.Subject, ":")
	switch subjectKind {
	case "commission":
		d.CommissionID = id
	case "redemption":
		d.RedemptionID = id
	case "payout":
		d.PayoutID = id
	default:
		return Event{}, fmt.Errorf("entry %s: subject %q is not a commission, redemption or payout: %w", b.ID, b.Subject, reward.ErrInvalid)
	}
	if d.Amount < 0 {
		return Event{}, fmt.Errorf("entry %s: a %s entry of %+v has a negative amount: %w", b.ID, b.Kind, b.Deltas, reward.ErrInvalid)
	}
	return Event{DetailType: k.detailType, Detail: d, At: b.At}, nil
}
