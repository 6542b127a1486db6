package reward

import (
	"context"
	"time"
)

// RedemptionStore keeps redemptions and answers the Rewards API's reads.
// Every write is one atomic step; implementations translate their storage
// errors into this package's errors, and any other error is transient.
type RedemptionStore interface {
	// Redeem writes a new redemption (c.Before nil) with its entry and
	// balance change, only if its id is new and the account's available
	// balance covers the amount. Errors: *RedemptionExists (the key was
	// used: the stored redemption), *Insufficient (with the available
	// balance), ErrConflict.
	Redeem(ctx context.Context, c RedemptionChange) error
	// TransitionRedemption writes a planned transition of a stored
	// redemption, only if it is still c.Before (status and version).
	// Errors: *RedemptionMismatch (plan again from Current), ErrNotFound,
	// ErrEntryConflict, ErrConflict.
	TransitionRedemption(ctx context.Context, c RedemptionChange) error
	// Redemption returns a stored redemption or ErrNotFound.
	Redemption(ctx context.Context, id string) (Redemption, error)
	// RedemptionHistory returns a stored redemption and its entries, oldest
	// first, or ErrNotFound.
	RedemptionHistory(ctx context.Context, id string) (Redemption, []Entry, error)
	// RecipientBalances lists a recipient's balances (every provider, unit
	// and currency), ordered by account; none for an unknown recipient.
	RecipientBalances(ctx context.Context, r Recipient) ([]Balance, error)
	// RecipientEntries lists up to limit entries of a recipient, newest
	// first (EntrySortKey descending), after cursor ("" for the first
	// page); next is the cursor of the following page, "" on the last.
	// ErrInvalid for a cursor EntryCursor did not write.
	RecipientEntries(ctx context.Context, r Recipient, limit int, cursor string) (entries []Entry, next string, err error)
	// ExpiredHolds lists up to limit held redemptions whose hold expired
	// at or before at, oldest expiry first.
	ExpiredHolds(ctx context.Context, at time.Time, limit int) ([]Redemption, error)
}
