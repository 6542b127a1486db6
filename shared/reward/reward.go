// Package reward is rewardrelay's domain: commissions, the recipients and
// units of their rewards, the commission state machine and the two-phase
// ledger that delivers each reward exactly once. It imports only the
// standard library; storage and platforms are ports implemented elsewhere.
package reward

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Provider names an affiliate platform.
type Provider string

// The supported providers.
const (
	FirstPromoter Provider = "firstpromoter"
	AgentRef      Provider = "agentref"
)

// Unit is what a commission's amount counts. The amount is stored exactly as
// the platform gives it, with its unit: what it means per unit (a count of
// points, cents of a discount, percent or basis points) is the platform's.
type Unit string

// The units. Cash is never delivered by rewardrelay for FirstPromoter; for
// AgentRef, commissions are cash amounts in a currency and are recorded.
const (
	Points      Unit = "points"
	Credits     Unit = "credits"
	FreeMonths  Unit = "free_months"
	MonDiscount Unit = "mon_discount"
	DiscountPer Unit = "discount_per"
	Cash        Unit = "cash"
)

// NonMonetary lists the units a FirstPromoter deployment delivers by default.
var NonMonetary = []Unit{Points, Credits, FreeMonths, MonDiscount, DiscountPer}

// ParseUnit checks a platform's unit string.
func ParseUnit(s string) (Unit, error) {
	switch u := Unit(s); u {
	case Points, Credits, FreeMonths, MonDiscount, DiscountPer, Cash:
		return u, nil
	}
	return "", fmt.Errorf("unit %q: %w", s, ErrInvalid)
}

// Recipient is a typed recipient id: "promoter:<id>", "referral:<uid or
// id>" (FirstPromoter) or "affiliate:<id>" (AgentRef).
type Recipient string

// Recipient constructors.
func Promoter(id string) Recipient  { return Recipient("promoter:" + id) }
func Affiliate(id string) Recipient { return Recipient("affiliate:" + id) }

// Referral is the referred customer: the merchant's own uid when the
// platform has it, else the platform's referral id.
func Referral(uid, id string) Recipient {
	if uid != "" {
		return Recipient("referral:" + uid)
	}
	return Recipient("referral:" + id)
}

// Valid reports whether r is one of the typed forms with a non-empty id.
func (r Recipient) Valid() bool {
	kind, id, ok := strings.Cut(string(r), ":")
	return ok && id != "" && (kind == "promoter" || kind == "referral" || kind == "affiliate")
}

// Limits of what the ledger stores. Ids are DynamoDB key parts (a sort key
// holds at most 1,024 bytes, with the entry's kind and the provider beside
// the id); amounts are bounded so that no balance of a recipient can
// overflow an int64 (it would take nine million commissions at the largest
// amount).
const (
	MaxIDLength = 256
	MaxAmount   = 1_000_000_000_000
)

// Valid reports whether the account has a valid recipient of at most
// MaxIDLength bytes after its kind, a unit and a currency of at most
// MaxIDLength bytes.
func (a Account) Valid() bool {
	_, id, _ := strings.Cut(string(a.Recipient), ":")
	return a.Recipient.Valid() && len(id) <= MaxIDLength && a.Unit != "" && len(a.Currency) <= MaxIDLength
}

// Account identifies a balance: one per provider, recipient, unit and
// currency (empty for non-cash units).
type Account struct {
	Provider  Provider
	Recipient Recipient
	Unit      Unit
	Currency  string
}

func (a Account) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", a.Provider, a.Recipient, a.Unit, a.Currency)
}

// Status is a commission's state in the ledger.
type Status string

// Commission states. Approved means delivered: the reward is in the
// recipient's available balance.
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Denied   Status = "denied"
	Reversed Status = "reversed"
)

// Fulfilment tracks the platform's acknowledgement of a delivered reward.
type Fulfilment string

// Fulfilment states. Requested and Failed are the outbox: delivered, not
// yet acknowledged, tried again until the platform answers.
const (
	NotRequested Fulfilment = ""
	Requested    Fulfilment = "requested"
	Acknowledged Fulfilment = "acknowledged"
	Failed       Fulfilment = "failed"
	// Refused means the platform will not mark the delivery fulfilled:
	// out of the outbox, reported as drift.
	Refused Fulfilment = "refused"
	// Withdrawn means the delivery was reversed before the platform
	// acknowledged it: there is nothing left to acknowledge.
	Withdrawn Fulfilment = "withdrawn"
)

// Commission is one commission as the ledger knows it.
type Commission struct {
	Provider Provider
	ID       string
	Account  Account
	// Amount is what was credited; Refunded is how much of it has been
	// voided or reversed by partial refunds since.
	Amount   int64
	Refunded int64
	Status   Status
	// Version increments with every stored change; 0 means not stored.
	Version int64
	// HeldApproval marks an approval that arrived while the recipient was
	// on hold: the reward stays pending until the hold is released.
	HeldApproval bool
	// Reduced marks a commission a refund has cut: a later approval
	// carrying a larger amount must not restore what was refunded.
	Reduced bool
	// Moves counts the times its pending credit moved to another account
	// (the platform named another recipient or unit): it numbers the move
	// entries, so that each move has ids of its own.
	Moves int64
	// Undelivered marks a delivered reward the merchant's own delivery
	// failed to give (UndeliveredReason says why): it is out of available
	// until it is redelivered. Undeliveries counts the failures: it
	// numbers their entries.
	Undelivered       bool
	UndeliveredReason string
	Undeliveries      int64

	Fulfilment      Fulfilment
	FulfilmentBatch string // platform batch process id, when asynchronous
	FulfilmentError string
	// RequestedAt is when the delivery entered the outbox: set once, kept
	// through failed acknowledgements, so the outbox's age is measured
	// from it.
	RequestedAt time.Time
	UpdatedAt   time.Time
}

// Effective is the amount the commission is worth now.
func (c Commission) Effective() int64 { return c.Amount - c.Refunded }

// Sentinel errors.
var (
	// ErrInvalid means the event's data cannot be applied as it is.
	ErrInvalid = errors.New("reward: invalid event data")
	// ErrEntryConflict means an entry id exists with other content: the
	// ledger refuses to overwrite it and an operator must look.
	ErrEntryConflict = errors.New("reward: ledger entry exists with different content")
	// ErrConflict means the commission changed between planning and
	// writing; retrying with the stored state resolves it.
	ErrConflict = errors.New("reward: concurrent change")
	// ErrNotFound means the item does not exist.
	ErrNotFound = errors.New("reward: not found")
	// ErrContract means a platform answered in a shape its documentation
	// does not allow: a field rewardrelay relies on is missing or of
	// another type. Retrying gets the same answer; a person must look.
	ErrContract = errors.New("reward: a platform's answer breaks its documented contract")
)
