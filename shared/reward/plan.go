package reward

import (
	"fmt"
	"time"
)

// Target is the state an event says a commission is in now.
type Target string

// Targets. Refunded carries the commission's remaining amount in the intent:
// 0 is a full refund; more is a partial refund, which follows an approval
// (what remains is due to the recipient).
const (
	TargetPending  Target = "pending"
	TargetApproved Target = "approved"
	TargetDenied   Target = "denied"
	TargetRefunded Target = "refunded"
)

// Intent is what one event asks of one commission, after the processor has
// combined the webhook with the platform's current view.
type Intent struct {
	Provider     Provider
	CommissionID string
	EventID      string
	Target       Target
	Account      Account
	// Amount is the commission's amount; for TargetRefunded, what remains
	// of it after the refund (0 for a full refund).
	Amount int64
	// Held means the recipient is on hold: an approval may not post.
	// HoldKnown means Held was read from the store: a change that posts,
	// or holds an approval back, is then written only if the hold is still
	// so (Change.Hold), since a block may land between the read and the
	// write.
	Held, HoldKnown bool
	// Acknowledge means the platform must be told of a delivery (the
	// commission enters the fulfilment outbox).
	Acknowledge bool
	At          time.Time
}

// Outcome says what planning an intent came to.
type Outcome string

// Outcomes. Duplicate and Stale change nothing in the ledger.
const (
	Applied   Outcome = "applied"
	Duplicate Outcome = "duplicate"
	Stale     Outcome = "stale"
)

// Change is a planned transition: the commission before and after and the
// entries that move the balances. Delivered is set when the change posts
// the reward to the recipient's available balance.
type Change struct {
	Outcome   Outcome
	Reason    string
	Before    *Commission
	After     Commission
	Entries   []Entry
	Delivered bool
	// FulfilmentChanged is set when the change writes the fulfilment
	// fields (a delivery entering the outbox, an acknowledgement).
	FulfilmentChanged bool
	// AccountChange is set when the intent names another account than the
	// stored commission's: to be reported, whether or not value moved.
	AccountChange *AccountChange
	// Covered is set when the write must find the available balance
	// covering what the entries take from it (a reward taken back out of
	// available must still be there: not redeemed).
	Covered bool
	// Hold is the recipient's hold the change was planned with, when it
	// depends on it: the write must find it unchanged (ErrHoldChanged).
	Hold *HoldAssumption
}

// HoldAssumption is whether a recipient was on hold when a change was
// planned.
type HoldAssumption struct {
	Provider  Provider
	Recipient Recipient
	Held      bool
}

// AccountChange is a commission whose platform account (recipient or unit)
// differs from the ledger's. A pending credit moves to the new account; a
// delivered reward stays where it was delivered: moving delivered value is
// a person's decision, never the ledger's.
type AccountChange struct {
	From, To Account
	// Moved is set when the pending credit moved from From to To.
	Moved bool
}

func (a AccountChange) String() string {
	if a.Moved {
		return fmt.Sprintf("account changed from %s to %s: the pending credit moved", a.From, a.To)
	}
	return fmt.Sprintf("account changed from %s to %s after delivery: the reward stays in %s", a.From, a.To, a.From)
}

// Deltas sums the change's entries for one account.
func (c Change) Deltas() Deltas {
	var d Deltas
	for _, e := range c.Entries {
		d = d.Add(e.Deltas)
	}
	return d
}

func (in Intent) validate() error {
	switch {
	case in.CommissionID == "":
		return fmt.Errorf("commission id is empty: %w", ErrInvalid)
	case len(in.CommissionID) > MaxIDLength:
		return fmt.Errorf("commission id of %d bytes: at most %d are stored: %w", len(in.CommissionID), MaxIDLength, ErrInvalid)
	case in.Amount < 0:
		return fmt.Errorf("commission %s: amount %d is negative: %w", in.CommissionID, in.Amount, ErrInvalid)
	case in.Amount > MaxAmount:
		return fmt.Errorf("commission %s: amount %d is over %d: %w", in.CommissionID, in.Amount, int64(MaxAmount), ErrInvalid)
	case in.Account.Unit == "":
		return fmt.Errorf("commission %s: unit is empty: %w", in.CommissionID, ErrInvalid)
	case !in.Account.Valid():
		return fmt.Errorf("commission %s: recipient %.80q (currency of %d bytes): %w", in.CommissionID, in.Account.Recipient, len(in.Account.Currency), ErrInvalid)
	}
	switch in.Target {
	case TargetPending, TargetApproved, TargetDenied, TargetRefunded:
		return nil
	}
	return fmt.Errorf("commission %s: target %q: %w", in.CommissionID, in.Target, ErrInvalid)
}

// Plan decides what an intent does to a commission in its current state
// (nil: never seen). Only legal transitions apply: pending -> approved ->
// reversed, pending -> denied, and partial refunds; an event for a state
// already reached is a Duplicate, one that would move backwards is Stale.
// A transition that arrives before its predecessor (approved before
// created) is applied from the data it carries. When the intent names
// another account than the commission's, a pending credit first moves to
// it (a void in the old account, a pending credit in the new) and the
// transition applies there; a delivered reward stays in its account and
// the change says so (AccountChange). Plan is pure.
func Plan(current *Commission, in Intent) (Change, error) {
	if err := in.validate(); err != nil {
		return Change{}, err
	}
	p := planner{in: in, change: Change{Before: current}}
	if current == nil {
		p.change.After = Commission{Provider: in.Provider, ID: in.CommissionID, Account: in.Account}
		p.fromNothing()
	} else {
		if current.Provider != in.Provider || current.ID != in.CommissionID {
			return Change{}, fmt.Errorf("plan %s/%s against commission %s/%s: %w", in.Provider, in.CommissionID, current.Provider, current.ID, ErrInvalid)
		}
		p.change.After = *current
		p.account(*current)
		p.from(*current)
	}
	c := p.change
	switch {
	case c.Outcome == Stale:
		// A stale event's data is old: its account says nothing either.
		c.AccountChange = nil
	case c.Outcome == Duplicate && c.AccountChange != nil && c.AccountChange.Moved:
		// The transition was reached already; the move still applies.
		c.Outcome = Applied
	}
	if c.Outcome == Applied {
		if in.HoldKnown && in.Posts() {
			c.Hold = &HoldAssumption{Provider: in.Provider, Recipient: in.Account.Recipient, Held: in.Held}
		}
		c.After.Version++
		c.After.UpdatedAt = in.At
		if c.Delivered && in.Acknowledge {
			c.After.Fulfilment, c.After.RequestedAt = Requested, in.At
			c.FulfilmentChanged = true
		}
		if c.After.Status == Reversed && current != nil && current.Fulfilment.Outstanding() {
			// Reversed before the platform acknowledged it: out of the
			// outbox in the same write.
			c.After.Fulfilment, c.After.FulfilmentError = Withdrawn, ""
			c.FulfilmentChanged = true
		}
	} else {
		c.After = *current
		c.Entries = nil
	}
	return c, nil
}

type planner struct {
	in     Intent
	change Change
}

func (p *planner) subject() string { return "commission:" + p.in.CommissionID }

func (p *planner) entry(kind EntryKind, d Deltas, n ...int64) {
	p.add(entryID(p.in.Provider, p.subject(), kind, n...), p.change.After.Account, kind, d)
}

func (p *planner) add(id string, a Account, kind EntryKind, d Deltas) {
	p.change.Entries = append(p.change.Entries, Entry{
		ID:      id,
		Account: a,
		Subject: p.subject(),
		Kind:    kind,
		Deltas:  d,
		EventID: p.in.EventID,
		At:      p.in.At,
	})
}

// account compares the intent's account with the commission's: a pending
// credit moves to the new account before the transition; a delivered (or
// reversed) reward stays where it is and the change is reported. A denied
// commission holds nothing anywhere: there is nothing to move or report.
func (p *planner) account(cur Commission) {
	if p.in.Account == cur.Account {
		return
	}
	switch cur.Status {
	case Pending:
		// Numbered by the move, so that a commission that moves again (or
		// back) writes new entries, never ones that exist.
		n := cur.Moves + 1
		eff := cur.Effective()
		p.add(moveEntryID(p.in.Provider, p.subject(), n, KindVoid), cur.Account, KindVoid, Deltas{Pending: -eff})
		p.add(moveEntryID(p.in.Provider, p.subject(), n, KindPending), p.in.Account, KindPending, Deltas{Pending: eff})
		p.change.After.Account, p.change.After.Moves = p.in.Account, n
		p.change.AccountChange = &AccountChange{From: cur.Account, To: p.in.Account, Moved: true}
	case Approved, Reversed:
		p.change.AccountChange = &AccountChange{From: cur.Account, To: p.in.Account}
	}
}

func (p *planner) applied(status Status) {
	p.change.Outcome = Applied
	p.change.After.Status = status
}

func (p *planner) duplicate() { p.change.Outcome = Duplicate }

func (p *planner) stale(format string, args ...any) {
	p.change.Outcome = Stale
	p.change.Reason = fmt.Sprintf(format, args...)
}

func (p *planner) fromNothing() {
	in, a := p.in, &p.change.After
	a.Amount = in.Amount
	switch in.Target {
	case TargetPending:
		p.applied(Pending)
		p.entry(KindPending, Deltas{Pending: in.Amount})
	case TargetApproved:
		if in.Held {
			p.applied(Pending)
			a.HeldApproval = true
			p.entry(KindPending, Deltas{Pending: in.Amount})
			return
		}
		p.applied(Approved)
		p.entry(KindPost, Deltas{Available: in.Amount})
		p.change.Delivered = true
	case TargetDenied:
		p.applied(Denied)
	case TargetRefunded:
		if in.Amount == 0 {
			p.applied(Denied)
			return
		}
		// A partial refund follows an approval: what remains is approved.
		p.in.Target = TargetApproved
		p.fromNothing()
		a.Reduced = true
	}
}

func (p *planner) from(cur Commission) {
	in, a := p.in, &p.change.After
	eff := cur.Effective()
	switch cur.Status {
	case Pending:
		switch in.Target {
		case TargetPending:
			if in.Amount == eff {
				p.duplicate()
			} else {
				p.stale("pending amount changed from %d to %d", eff, in.Amount)
			}
		case TargetApproved:
			if in.Held {
				if cur.HeldApproval {
					p.duplicate()
					return
				}
				p.applied(Pending)
				a.HeldApproval = true
				return
			}
			// The platform's amount is delivered, unless a refund already
			// reduced the commission: an approval carrying the original
			// amount (a late webhook) must not undo it.
			posted := in.Amount
			if cur.Refunded > 0 || cur.Reduced {
				posted = min(in.Amount, eff)
			}
			p.applied(Approved)
			a.HeldApproval = false
			a.Amount, a.Refunded = posted, 0
			p.entry(KindPost, Deltas{Pending: -eff, Available: posted})
			p.change.Delivered = true
		case TargetDenied:
			p.applied(Denied)
			a.Refunded = cur.Amount
			p.entry(KindVoid, Deltas{Pending: -eff}, 0)
		case TargetRefunded:
			if in.Amount > 0 {
				p.partialRefund(cur)
				return
			}
			if in.Amount >= eff {
				p.duplicate()
				return
			}
			p.applied(Denied)
			a.Refunded += eff
			a.Reduced = true
			p.entry(KindVoid, Deltas{Pending: -eff}, 0)
		}
	case Approved:
		switch in.Target {
		case TargetPending:
			p.stale("commission was delivered; it cannot return to pending")
		case TargetApproved:
			p.duplicate()
		case TargetDenied:
			p.applied(Reversed)
			a.Refunded = cur.Amount
			p.entry(KindReverse, Deltas{Available: -cur.inAvailable(eff), Reversed: eff}, 0)
		case TargetRefunded:
			if in.Amount >= eff {
				p.duplicate()
				return
			}
			diff := eff - in.Amount
			status := Approved
			if in.Amount == 0 {
				status = Reversed
			}
			p.applied(status)
			a.Refunded += diff
			p.entry(KindReverse, Deltas{Available: -cur.inAvailable(diff), Reversed: diff}, in.Amount)
		}
	case Denied, Reversed:
		if in.Target == TargetRefunded && in.Amount > 0 {
			// A partial refund follows an approval, which cannot come after
			// a rejection or a full refund.
			p.stale("commission is %s; a partial refund implies an approval it cannot have", cur.Status)
			return
		}
		switch in.Target {
		case TargetDenied, TargetRefunded:
			p.duplicate()
		default:
			p.stale("commission is %s; it cannot become %s", cur.Status, in.Target)
		}
	default:
		p.stale("commission has unknown status %q", cur.Status)
	}
}

// partialRefund plans a partial refund of a pending commission. A partial
// refund follows an approval the ledger has not seen: the refunded part is
// voided and what remains is approved, exactly as an approval of that amount
// would be (held while the recipient is on hold).
func (p *planner) partialRefund(cur Commission) {
	rest := min(p.in.Amount, cur.Effective())
	if diff := cur.Effective() - rest; diff > 0 {
		cur.Refunded += diff
		cur.Reduced = true
		p.change.After = cur
		p.entry(KindVoid, Deltas{Pending: -diff}, rest)
	}
	approval := planner{in: p.in, change: Change{Before: p.change.Before, After: cur}}
	approval.in.Target, approval.in.Amount = TargetApproved, rest
	approval.from(cur)
	voids := p.change.Entries
	if approval.change.Outcome == Applied {
		p.change = approval.change
	} else if len(voids) == 0 {
		p.duplicate()
		return
	}
	p.change.Outcome = Applied
	p.change.Entries = append(voids, approval.change.Entries...)
}

// inAvailable is how much of amount a reversal takes from available: all of
// it, or nothing when the reward is undelivered (it left available then).
func (c Commission) inAvailable(amount int64) int64 {
	if c.Undelivered {
		return 0
	}
	return amount
}

// Posts reports whether the intent may post a reward: an approval, or a
// partial refund (which follows one). The recipient's hold must be known.
func (in Intent) Posts() bool {
	return in.Target == TargetApproved || in.Target == TargetRefunded && in.Amount > 0
}

// Acknowledge plans the platform's acknowledgement of a delivered reward:
// the fulfilled balance takes the delivered amount once. Confirmed after
// the merchant reported the delivery failed, it is booked all the same and
// the platform is to be told of the failure (UnfulfilRequested).
func Acknowledge(cur Commission, eventID string, at time.Time) (Change, error) {
	c := Change{Before: &cur, After: cur}
	switch {
	case cur.Fulfilment.Booked():
		c.Outcome = Duplicate
		return c, nil
	case cur.Status != Approved && cur.Status != Reversed:
		return Change{}, fmt.Errorf("acknowledge %s/%s: commission is %s, not delivered: %w", cur.Provider, cur.ID, cur.Status, ErrInvalid)
	case cur.Undelivered && cur.Fulfilment != Withdrawn:
		// The platform has been told of the failure since: an older answer.
		c.Outcome, c.Reason = Stale, "the platform was told the delivery failed"
		return c, nil
	}
	c.Outcome = Applied
	c.FulfilmentChanged = true
	c.After.Fulfilment = Acknowledged
	c.After.FulfilmentError = ""
	if cur.Undelivered {
		// Confirmed after the merchant's delivery failed (an answer that
		// was late or lost): booked, and the platform is to be told of the
		// failure.
		c.After.Fulfilment, c.After.RequestedAt = UnfulfilRequested, at
	}
	c.After.Version++
	c.After.UpdatedAt = at
	subject := "commission:" + cur.ID
	c.Entries = []Entry{{
		ID: ackEntryID(cur), Account: cur.Account, Subject: subject, Kind: KindAck,
		Deltas: Deltas{Fulfilled: cur.Amount}, EventID: eventID, At: at,
	}}
	return c, nil
}
