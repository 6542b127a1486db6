package reward

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Fulfilment states of a delivery the merchant's own system failed to make:
// the platform, told of the delivery before, is told it failed
// (FirstPromoter's mark_unfulfilled). UnfulfilRequested and UnfulfilFailed
// are the outbox's second lane; the fulfilled balance keeps the delivered
// amount until the platform confirms (Unfulfilled).
const (
	UnfulfilRequested Fulfilment = "unfulfil_requested"
	UnfulfilFailed    Fulfilment = "unfulfil_failed"
	Unfulfilled       Fulfilment = "unfulfilled"
	// UnfulfilRefused means the platform will not mark the delivery
	// unfulfilled: out of the outbox, reported as drift.
	UnfulfilRefused Fulfilment = "unfulfil_refused"
)

// KindUnfulfilled takes an acknowledged delivery out of the fulfilled
// balance: the platform no longer shows it fulfilled.
const KindUnfulfilled EntryKind = "unfulfilled"

// MaxReasonLength bounds the reason a merchant gives for a failed delivery.
const MaxReasonLength = 255

// ErrNotDelivered means a commission holds no delivered reward: it is
// pending, denied or reversed.
var ErrNotDelivered = errors.New("reward: the commission is not delivered")

// Unfulfilling reports whether the platform is still to be told that a
// delivery failed: the outbox's second lane.
func (f Fulfilment) Unfulfilling() bool { return f == UnfulfilRequested || f == UnfulfilFailed }

// Booked reports whether the fulfilled balance holds the commission's
// amount: the platform acknowledged the delivery and has not confirmed
// since that it is unfulfilled.
func (f Fulfilment) Booked() bool {
	return f == Acknowledged || f == UnfulfilRequested || f == UnfulfilFailed || f == UnfulfilRefused
}

// ackEntryID numbers the acknowledgements of a commission: the first keeps
// the id acknowledgements always had, the one after the n-th failed
// delivery and its redelivery is #ack#n+1, and one the platform confirms
// while the n-th failure stands (a late answer) #ack#n+1#late: each
// happens at most once per failure.
func ackEntryID(c Commission) string {
	subject := "commission:" + c.ID
	switch {
	case c.Undelivered:
		return entryID(c.Provider, subject, KindAck, c.Undeliveries+1) + "#late"
	case c.Undeliveries == 0:
		return entryID(c.Provider, subject, KindAck)
	}
	return entryID(c.Provider, subject, KindAck, c.Undeliveries+1)
}

// commissionEntry is an entry of c written through the Rewards API, at.
func commissionEntry(c Commission, kind EntryKind, d Deltas, n int64, actor string, at time.Time) Entry {
	subject := "commission:" + c.ID
	return Entry{ID: entryID(c.Provider, subject, kind, n), Account: c.Account, Subject: subject, Kind: kind, Deltas: d, Actor: actor, At: at}
}

func delivered(cur Commission) error {
	if cur.Status != Approved {
		return fmt.Errorf("commission %s is %s, not delivered: %w", cur.ID, cur.Status, ErrNotDelivered)
	}
	return nil
}

// PlanUndelivered plans the merchant's report that its own delivery of a
// commission's reward failed: the reward leaves available (an undelivered
// entry, numbered per failure, whose write the available balance must
// cover: Change.Covered), and a platform told of the delivery is told it
// failed (UnfulfilRequested, when it had acknowledged it; a delivery not
// yet acknowledged is withdrawn from the outbox). A commission already
// undelivered is a Duplicate; one not delivered is ErrNotDelivered.
// PlanUndelivered is pure.
func PlanUndelivered(cur Commission, reason, actor string, at time.Time) (Change, error) {
	if reason == "" || utf8.RuneCountInString(reason) > MaxReasonLength || !utf8.ValidString(reason) {
		return Change{}, fmt.Errorf("reason: 1 to %d characters: %w", MaxReasonLength, ErrInvalid)
	}
	if err := delivered(cur); err != nil {
		return Change{}, err
	}
	c := Change{Before: &cur, After: cur}
	if cur.Undelivered {
		c.Outcome = Duplicate
		return c, nil
	}
	a := &c.After
	c.Outcome, c.Covered = Applied, true
	a.Undelivered, a.UndeliveredReason, a.Undeliveries = true, reason, cur.Undeliveries+1
	a.Version++
	a.UpdatedAt = at
	c.Entries = []Entry{commissionEntry(cur, KindUndelivered, Deltas{Available: -cur.Effective()}, a.Undeliveries, actor, at)}
	switch {
	case cur.Fulfilment.Booked():
		a.Fulfilment, a.FulfilmentError, a.FulfilmentBatch, a.RequestedAt = UnfulfilRequested, "", "", at
		c.FulfilmentChanged = true
	case cur.Fulfilment != NotRequested:
		// Never acknowledged: there is nothing to take back, and nothing
		// to acknowledge any more.
		a.Fulfilment, a.FulfilmentError, a.FulfilmentBatch = Withdrawn, "", ""
		c.FulfilmentChanged = true
	}
	return c, nil
}

// PlanRedelivered plans the merchant's redelivery of a reward whose
// delivery failed: back to available (a redelivered entry), and a platform
// told of the delivery is asked to acknowledge it again (Requested; the
// fulfilled balance drops what it still held until the platform confirms
// again). A commission delivered and not undelivered is a Duplicate; one
// not delivered is ErrNotDelivered. PlanRedelivered is pure.
func PlanRedelivered(cur Commission, actor string, at time.Time) (Change, error) {
	if err := delivered(cur); err != nil {
		return Change{}, err
	}
	c := Change{Before: &cur, After: cur}
	if !cur.Undelivered {
		c.Outcome = Duplicate
		return c, nil
	}
	a := &c.After
	c.Outcome, c.Delivered = Applied, true
	a.Undelivered, a.UndeliveredReason = false, ""
	a.Version++
	a.UpdatedAt = at
	c.Entries = []Entry{commissionEntry(cur, KindRedelivered, Deltas{Available: cur.Effective()}, cur.Undeliveries, actor, at)}
	if cur.Fulfilment.Booked() {
		c.Entries = append(c.Entries, commissionEntry(cur, KindUnfulfilled, Deltas{Fulfilled: -cur.Amount}, cur.Undeliveries, actor, at))
	}
	if cur.Fulfilment != NotRequested {
		a.Fulfilment, a.FulfilmentError, a.FulfilmentBatch, a.RequestedAt = Requested, "", "", at
		c.FulfilmentChanged = true
	}
	return c, nil
}

// ConfirmUnfulfilled plans the platform's confirmation that a failed
// delivery is unfulfilled: the fulfilled balance drops the amount once.
// Anything but a commission waiting for it is not Applied.
func ConfirmUnfulfilled(cur Commission, at time.Time) Change {
	c := Change{Before: &cur, After: cur, Outcome: Duplicate}
	if !cur.Fulfilment.Unfulfilling() {
		return c
	}
	c.Outcome, c.FulfilmentChanged = Applied, true
	c.After.Fulfilment, c.After.FulfilmentError = Unfulfilled, ""
	c.After.Version++
	c.After.UpdatedAt = at
	c.Entries = []Entry{commissionEntry(cur, KindUnfulfilled, Deltas{Fulfilled: -cur.Amount}, cur.Undeliveries, "", at)}
	return c
}
