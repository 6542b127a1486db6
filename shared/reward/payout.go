package reward

import (
	"fmt"
	"time"
)

// PayoutStatus is a payout's state as the ledger records it.
type PayoutStatus string

// Payout states that move balances.
const (
	PayoutCompleted PayoutStatus = "completed"
	PayoutFailed    PayoutStatus = "failed"
)

// Payout is a payout recorded against an affiliate's available balance.
// Completed means its current attempt is debited; failed means nothing of
// it is.
type Payout struct {
	Provider Provider
	ID       string
	Account  Account
	// Amount is what the current (or last) attempt debited.
	Amount int64
	Status PayoutStatus
	// Attempts counts completions: a failed payout completed again is
	// debited again, under a new entry id.
	Attempts int64
	// StatusAt is the platform's time of the newest word the ledger has on
	// the payout: a word older than it is stale.
	StatusAt  time.Time
	Version   int64
	UpdatedAt time.Time
}

// PayoutIntent is what a payout event, or a platform listing, says.
type PayoutIntent struct {
	Provider Provider
	PayoutID string
	EventID  string
	Account  Account
	Amount   int64
	Status   PayoutStatus
	// StatusAt is when, by the platform's clock, the payout reached Status
	// (an event's creation time); for a listing, a time it is known to have
	// been in Status by, or zero.
	StatusAt time.Time
	// Current marks the platform's current state read from its API rather
	// than an event: it holds whatever the times say.
	Current bool
	At      time.Time
}

// PayoutChange is a planned payout transition.
type PayoutChange struct {
	Outcome Outcome
	Reason  string
	Before  *Payout
	After   Payout
	Entries []Entry
}

// PlanPayout decides what a payout event does. A payout's last word wins:
// completed debits available (once per attempt, each under its own entry
// id) and failed credits a completed debit back, so that a completed payout
// is debited exactly once and a failed one not at all. Events are ordered
// by the platform's times, not by their arrival: one older than the newest
// word the ledger has is stale, and at equal times failed wins, whichever
// arrives first. A listing (Current) is the platform's state now and holds
// whatever the times say. PlanPayout is pure.
func PlanPayout(cur *Payout, in PayoutIntent) (PayoutChange, error) {
	switch {
	case in.PayoutID == "" || len(in.PayoutID) > MaxIDLength:
		return PayoutChange{}, fmt.Errorf("payout id of %d bytes: 1 to %d are stored: %w", len(in.PayoutID), MaxIDLength, ErrInvalid)
	case in.Amount < 0 || in.Amount > MaxAmount:
		return PayoutChange{}, fmt.Errorf("payout %s: amount %d is not within 0 to %d: %w", in.PayoutID, in.Amount, int64(MaxAmount), ErrInvalid)
	case !in.Account.Valid():
		return PayoutChange{}, fmt.Errorf("payout %s: account %s: %w", in.PayoutID, in.Account, ErrInvalid)
	}
	if in.Status != PayoutCompleted && in.Status != PayoutFailed {
		return PayoutChange{}, fmt.Errorf("payout %s: status %q: %w", in.PayoutID, in.Status, ErrInvalid)
	}
	c := PayoutChange{Before: cur}
	if cur != nil {
		c.After = *cur
	} else {
		c.After = Payout{Provider: in.Provider, ID: in.PayoutID, Account: in.Account, Amount: in.Amount}
	}
	subject := "payout:" + in.PayoutID
	entry := func(kind EntryKind, d Deltas, n int64) {
		c.Entries = append(c.Entries, Entry{
			ID: entryID(in.Provider, subject, kind, n), Account: c.After.Account, Subject: subject,
			Kind: kind, Deltas: d, EventID: in.EventID, At: in.At,
		})
	}
	switch {
	case cur != nil && in.Status == cur.Status:
		if !in.StatusAt.After(cur.StatusAt) {
			c.Outcome = Duplicate
			return c, nil
		}
		// The same state, said later: nothing moves, but the newer time
		// makes the words between the two stale.
	case cur != nil && !in.Current && (in.StatusAt.Before(cur.StatusAt) || in.StatusAt.Equal(cur.StatusAt) && in.Status == PayoutCompleted):
		c.Outcome = Stale
		c.Reason = fmt.Sprintf("%s of %s does not follow the payout's %s of %s", in.Status, in.StatusAt.UTC().Format(time.RFC3339), cur.Status, cur.StatusAt.UTC().Format(time.RFC3339))
		return c, nil
	case in.Status == PayoutCompleted:
		c.After.Attempts++
		c.After.Status = PayoutCompleted
		c.After.Amount = in.Amount
		entry(KindPayout, Deltas{Available: -in.Amount}, c.After.Attempts)
	case cur != nil: // completed, now failed: the debit of its attempt comes back
		c.After.Status = PayoutFailed
		entry(KindRefund, Deltas{Available: cur.Amount}, cur.Attempts)
	default:
		// Failed before any completion the ledger saw: nothing was debited.
		// Recording it makes an older "completed" stale.
		c.After.Status = PayoutFailed
	}
	c.Outcome = Applied
	if in.StatusAt.After(c.After.StatusAt) {
		c.After.StatusAt = in.StatusAt
	}
	c.After.Version++
	c.After.UpdatedAt = in.At
	return c, nil
}

// AuditPayouts checks each payout's entries against its status: a
// completed payout's entries sum to minus its amount in available, a failed
// one's to nothing.
func AuditPayouts(entries []Entry, payouts []Payout) []Violation {
	sums := map[string]Deltas{}
	for _, e := range entries {
		k := string(e.Account.Provider) + "/" + e.Subject
		sums[k] = sums[k].Add(e.Deltas)
	}
	var out []Violation
	for _, p := range payouts {
		k := string(p.Provider) + "/payout:" + p.ID
		want := Deltas{}
		if p.Status == PayoutCompleted {
			want.Available = -p.Amount
		}
		if got := sums[k]; got != want {
			out = append(out, Violation{Subject: k, Problem: fmt.Sprintf("entries sum to %+v; status %s with amount %d wants %+v", got, p.Status, p.Amount, want)})
		}
	}
	return out
}
