package reward

import (
	"context"
	"fmt"
	"time"
)

// EventRecord remembers that a webhook event was handled, so an exact
// redelivery costs one conditional write and changes nothing. It expires
// after the longest platform retry window.
type EventRecord struct {
	Provider   Provider
	ID         string
	Type       string
	Outcome    Outcome
	ReceivedAt time.Time
	ExpiresAt  time.Time
}

// Mismatch is the error Store.Apply returns when the commission is not in
// the state the change was planned against. Current is the stored state
// (nil: it does not exist): plan again from it.
type Mismatch struct {
	Current *Commission
}

func (m *Mismatch) Error() string {
	if m.Current == nil {
		return "reward: commission does not exist"
	}
	return fmt.Sprintf("reward: commission %s/%s is %s (amount %d, refunded %d)", m.Current.Provider, m.Current.ID, m.Current.Status, m.Current.Amount, m.Current.Refunded)
}

// PayoutMismatch is Mismatch for payouts.
type PayoutMismatch struct {
	Current *Payout
}

func (m *PayoutMismatch) Error() string { return "reward: payout is not in the planned state" }

// ErrDuplicateEvent means the event id was already recorded: nothing was
// written.
var ErrDuplicateEvent = fmt.Errorf("reward: event already handled")

// Store keeps the ledger. Every write is atomic: it happens whole or not at
// all. Implementations translate their storage errors into the sentinel
// errors of this package; any other error is transient and worth a retry.
type Store interface {
	// Apply writes a planned change in one atomic step: the event record
	// (skipped when ev.ID is empty), the commission (only if it is still
	// in the state of change.Before: same status, amount, refunded amount
	// held approval and reduced mark, or absent when Before is nil; its fulfilment
	// fields change only with change.FulfilmentChanged, and then only if
	// they are still Before's: see FulfilmentHolds), the new entries
	// (each only if its id is new) and the balance deltas. Errors:
	// ErrDuplicateEvent; *Mismatch; ErrEntryConflict when an entry id
	// exists with other content; ErrConflict when a concurrent write got
	// in the way (retry).
	Apply(ctx context.Context, ev EventRecord, change Change) error
	// ApplyPayout is Apply for payouts (*PayoutMismatch on a state change).
	ApplyPayout(ctx context.Context, ev EventRecord, change PayoutChange) error
	// RecordEvent stores an event record alone (a stale or duplicate
	// transition, an event that only needs acknowledging). ErrDuplicateEvent
	// if it exists.
	RecordEvent(ctx context.Context, ev EventRecord) error
	// SetHold records whether a recipient is on hold, with its event.
	SetHold(ctx context.Context, ev EventRecord, account Account, held bool) error
	// Held reports whether a recipient of a provider is on hold.
	Held(ctx context.Context, p Provider, r Recipient) (bool, error)
	// Commission returns a stored commission or ErrNotFound.
	Commission(ctx context.Context, p Provider, id string) (Commission, error)
	// Payout returns a stored payout or ErrNotFound.
	Payout(ctx context.Context, p Provider, id string) (Payout, error)
	// SetFulfilment stores c's fulfilment fields (state, batch, error;
	// RequestedAt is kept) if the stored commission's fulfilment is still
	// from; *Mismatch otherwise.
	SetFulfilment(ctx context.Context, c Commission, from Fulfilment) error
	// RecordBatch remembers an asynchronous acknowledgement batch of the
	// platform for polling: one write however many commissions it covers.
	RecordBatch(ctx context.Context, b Batch) error
	// Batches lists the recorded batches of p, oldest first.
	Batches(ctx context.Context, p Provider) ([]Batch, error)
	// DeleteBatch forgets a batch once its outcome is recorded.
	DeleteBatch(ctx context.Context, b Batch) error
	// Cursor returns a named position of the reconciler ("" when none).
	Cursor(ctx context.Context, name string) (string, error)
	// SetCursor stores a named position ("" resets it).
	SetCursor(ctx context.Context, name, value string) error
	// RecordRun stores a reconciler run summary.
	RecordRun(ctx context.Context, r Run) error
	// Runs lists the most recent run summaries, newest first.
	Runs(ctx context.Context, limit int) ([]Run, error)
	// History returns a commission and its entries (ErrNotFound when the
	// commission does not exist).
	History(ctx context.Context, p Provider, id string) (Commission, []Entry, error)
	// Outbox lists up to limit commissions of p whose delivery is not yet
	// acknowledged (requested or failed), oldest RequestedAt first.
	Outbox(ctx context.Context, p Provider, limit int) ([]Commission, error)
	// Ledger returns everything the audit needs: all entries, balances and
	// commissions.
	Ledger(ctx context.Context) (Ledger, error)
}

// Batch is a platform batch process acknowledging deliveries in the
// background; its commissions stay in the outbox until it is polled.
type Batch struct {
	Provider      Provider
	ID            string
	CommissionIDs []string
	At            time.Time
}

// Run is the summary of one reconciler run.
type Run struct {
	ID       string
	Started  time.Time
	Finished time.Time
	// Complete is false when the run stopped at its deadline; it resumes
	// from its cursors.
	Complete bool
	Counts   map[string]int
	Drift    []Drift
	Errors   []string
}

// Drift is a difference between a platform and the ledger that must not be
// repaired silently: it is reported, never credited automatically.
type Drift struct {
	Provider     Provider
	CommissionID string
	Problem      string
}

// Ledger is a full read of the store, for the audit and the CLI.
type Ledger struct {
	Entries     []Entry
	Balances    []Balance
	Commissions []Commission
	Payouts     []Payout
}

// Audit checks the ledger's invariants.
func (l Ledger) Audit() []Violation { return Audit(l.Entries, l.Balances, l.Commissions) }

// SameState reports whether two commission states plan alike: the fields
// Store.Apply's condition compares.
func SameState(a, b *Commission) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Status == b.Status && a.Amount == b.Amount && a.Refunded == b.Refunded && a.HeldApproval == b.HeldApproval && a.Reduced == b.Reduced
}

// SamePayoutState reports whether two payout states plan alike: the fields
// Store.ApplyPayout's condition compares.
func SamePayoutState(a, b *Payout) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Status == b.Status && a.Attempts == b.Attempts
}
