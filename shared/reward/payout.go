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
type Payout struct {
	Provider Provider
	ID       string
	Account  Account
	Amount   int64
	Status   PayoutStatus
	// Attempts counts completions: a failed payout completed again is
	// debited again, under a new entry id.
	Attempts  int64
	Version   int64
	UpdatedAt time.Time
}

// PayoutIntent is what a payout event asks.
type PayoutIntent struct {
	Provider Provider
	PayoutID string
	EventID  string
	Account  Account
	Amount   int64
	Status   PayoutStatus
	At       time.Time
}

// PayoutChange is a planned payout transition.
type PayoutChange struct {
	Outcome Outcome
	Reason  string
	Before  *Payout
	After   Payout
	Entries []Entry
}

// PlanPayout decides what a payout event does: completed debits available
// once per attempt; failed credits a completed debit back.
func PlanPayout(cur *Payout, in PayoutIntent) (PayoutChange, error) {
	if in.PayoutID == "" || in.Amount < 0 || !in.Account.Recipient.Valid() {
		return PayoutChange{}, fmt.Errorf("payout %q: %w", in.PayoutID, ErrInvalid)
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
	case in.Status == PayoutCompleted && (cur == nil || cur.Status == PayoutFailed && cur.Attempts > 0):
		c.Outcome = Applied
		c.After.Attempts++
		c.After.Status = PayoutCompleted
		c.After.Amount = in.Amount
		entry(KindPayout, Deltas{Available: -in.Amount}, c.After.Attempts)
	case in.Status == PayoutCompleted:
		c.Outcome = Duplicate
	case in.Status == PayoutFailed && cur != nil && cur.Status == PayoutCompleted:
		c.Outcome = Applied
		c.After.Status = PayoutFailed
		entry(KindRefund, Deltas{Available: cur.Amount}, cur.Attempts)
	case in.Status == PayoutFailed && cur == nil:
		// Failed before any completion: nothing was debited. Record it so a
		// late "completed" of the same attempt is recognised.
		c.Outcome = Applied
		c.After.Status = PayoutFailed
	case in.Status == PayoutFailed:
		c.Outcome = Duplicate
	default:
		return PayoutChange{}, fmt.Errorf("payout %s: status %q: %w", in.PayoutID, in.Status, ErrInvalid)
	}
	if c.Outcome == Applied {
		c.After.Version++
		c.After.UpdatedAt = in.At
	} else {
		c.Entries = nil
	}
	return c, nil
}
