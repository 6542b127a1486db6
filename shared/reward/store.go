package reward

import (
	"context"
	"errors"
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
	// CommissionID is the commission an event that changed nothing was
	// planned against (empty: none): RecordEvent keeps the id on it.
	CommissionID string
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

// ErrOutdated means the store holds a state as new as the write or newer:
// nothing was written.
var ErrOutdated = errors.New("reward: a newer state is stored")

// ErrHoldChanged is what Store.Apply returns when the recipient's hold is
// no longer the one the change was planned with: read it and plan again.
var ErrHoldChanged = errors.New("reward: the recipient's hold changed")

// Hold says whether a recipient is on hold (nothing of theirs posts), as of
// At: the platform's time of the event, or of the listing, that said so.
type Hold struct {
	Provider  Provider
	Recipient Recipient
	Held      bool
	At        time.Time
}

// Supersedes reports whether h replaces the stored hold old (nil: none).
// Only a newer hold does: a blocked event retried after the unblocked one
// that followed it, or redriven after its event record expired, changes
// nothing. A hold stored without a time is older than any.
func (h Hold) Supersedes(old *Hold) bool { return old == nil || old.At.Before(h.At) }

// Store keeps the ledger. Every write is atomic: it happens whole or not at
// all. Implementations translate their storage errors into the sentinel
// errors of this package; any other error is transient and worth a retry.
type Store interface {
	// Apply writes a planned change in one atomic step: the commission
	// (only if it has not applied ev.ID nor kept it as an event that
	// changed nothing (see RecordEvent: redelivered after a later change,
	// it is still the same event), and it is still in the state of
	// change.Before, as SameState compares it, or absent when Before is
	// nil; its fulfilment fields change only with change.FulfilmentChanged,
	// and then only if they are still Before's: see FulfilmentHolds) with
	// ev.ID added to the ids of the events applied to it (none when ev.ID
	// is empty), the new entries (each only if its id is new) and the
	// balance deltas (with change.Covered, only if the available balance
	// covers what the entries take from it). No event record of its own is
	// written: an exact redelivery is refused by the commission's ids, any
	// other replay is planned again from the stored state. A record of
	// ev.ID of its own (written while the commission did not exist) does
	// not stop it: such an event applies when it comes again, as if it had
	// come late. Errors: ErrDuplicateEvent when the commission has applied
	// or kept ev.ID; *Mismatch; ErrEntryConflict when an entry id exists with
	// other content; ErrConflict when a concurrent write got in the way
	// (retry); *Insufficient when change.Covered and the available balance
	// does not cover the entries; ErrHoldChanged when change.Hold is set
	// and the recipient's hold is no longer change.Hold.Held (checked
	// after the commission's condition).
	Apply(ctx context.Context, ev EventRecord, change Change) error
	// ApplyPayout is Apply for payouts (*PayoutMismatch on a state change).
	ApplyPayout(ctx context.Context, ev EventRecord, change PayoutChange) error
	// RecordEvent remembers an event that changed nothing (a stale or
	// duplicate transition, an event that only needs acknowledging). With
	// ev.CommissionID naming a stored commission, the id is kept on the
	// commission with the ids it applied (Apply refuses it later; no item
	// of its own, so that no state change needs to check one); otherwise
	// it is a record of its own that expires at ev.ExpiresAt.
	// ErrDuplicateEvent if the commission has the id or the record exists;
	// ErrConflict when a write on the commission got in the way (plan
	// again from the stored state).
	RecordEvent(ctx context.Context, ev EventRecord) error
	// SetHold records whether a recipient is on hold, with its event
	// (skipped when ev.ID is empty), only if h supersedes the stored hold.
	// Errors: ErrDuplicateEvent; ErrOutdated when the stored hold is as new
	// or newer (nothing is written, not even the event record).
	SetHold(ctx context.Context, ev EventRecord, h Hold) error
	// Held reports whether a recipient of a provider is on hold.
	Held(ctx context.Context, p Provider, r Recipient) (bool, error)
	// Holds lists the holds of p, held or released, in no order.
	Holds(ctx context.Context, p Provider) ([]Hold, error)
	// Commission returns a stored commission or ErrNotFound.
	Commission(ctx context.Context, p Provider, id string) (Commission, error)
	// Payout returns a stored payout or ErrNotFound.
	Payout(ctx context.Context, p Provider, id string) (Payout, error)
	// SetFulfilment stores c's fulfilment fields (state, batch, error;
	// RequestedAt is kept) if the stored commission's fulfilment is still
	// from and its failed deliveries are still c's (an answer about one
	// failure never settles a later one); *Mismatch otherwise.
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
	// UnfulfilOutbox lists up to limit commissions of p whose failed
	// delivery the platform is still to be told of (Fulfilment.Unfulfilling),
	// oldest RequestedAt first.
	UnfulfilOutbox(ctx context.Context, p Provider, limit int) ([]Commission, error)
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
	Redemptions []Redemption
}

// Audit checks the ledger's invariants, payouts and redemptions included.
func (l Ledger) Audit() []Violation {
	out := append(Audit(l.Entries, l.Balances, l.Commissions), AuditPayouts(l.Entries, l.Payouts)...)
	return append(out, AuditRedemptions(l.Entries, l.Redemptions)...)
}

// SameState reports whether two commission states plan alike: the fields
// Store.Apply's condition compares. The account and the move count are
// part of it: entries planned for one account must never be written
// against a commission whose credit is in another; so is whether the
// reward is undelivered (its entries take from where the reward is).
func SameState(a, b *Commission) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Status == b.Status && a.Amount == b.Amount && a.Refunded == b.Refunded && a.HeldApproval == b.HeldApproval && a.Reduced == b.Reduced &&
		a.Account == b.Account && a.Moves == b.Moves && a.Undelivered == b.Undelivered && a.Undeliveries == b.Undeliveries
}

// SamePayoutState reports whether two payout states plan alike: the fields
// Store.ApplyPayout's condition compares.
func SamePayoutState(a, b *Payout) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Status == b.Status && a.Attempts == b.Attempts && a.StatusAt.Equal(b.StatusAt)
}
