package agentref

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// ReconcileAPI is what reconciling AgentRef asks of the platform.
type ReconcileAPI interface {
	Conversions(ctx context.Context, status, cursor string) ([]Conversion, string, error)
	Payouts(ctx context.Context, status, cursor string) ([]Payout, string, error)
	// Affiliates also returns the platform's clock when it answered (zero
	// when unknown).
	Affiliates(ctx context.Context, status, cursor string) ([]Affiliate, string, time.Time, error)
	Flags(ctx context.Context, status, cursor string) ([]Flag, string, error)
}

// Reconciliation is AgentRef behind the reward.Reconcilable port: its
// holds, conversions and payouts listed.
type Reconciliation struct {
	API ReconcileAPI
	// Currency applies where a row names none.
	Currency string
}

var _ reward.Reconcilable = (*Reconciliation)(nil)

// Provider is reward.AgentRef.
func (a *Reconciliation) Provider() reward.Provider { return reward.AgentRef }

// Chunk: AgentRef is told of no delivery.
func (a *Reconciliation) Chunk() (acknowledge, unfulfil int) { return 0, 0 }

// Steps set the holds, then apply the conversions (whose approvals post
// or wait accordingly, so they need the holds) and the payouts.
func (a *Reconciliation) Steps() []reward.Step {
	return []reward.Step{
		{Name: "agentref holds", Run: a.holds},
		{Name: "agentref conversions", Needs: "agentref holds", Run: a.conversions},
		{Name: "agentref payouts", Run: a.payouts},
	}
}

// holds makes the ledger's holds agree with AgentRef, so that a lost
// affiliate.blocked, affiliate.unblocked or flag.resolved heals: a blocked
// affiliate is held as of the platform's clock when it listed them, a
// confirmed flag holds its affiliate as of its resolution, and a hold
// AgentRef no longer shows is released as of the listing, unless a
// confirmed flag at least as recent as the hold keeps it (a flag's hold
// ends only with affiliate.unblocked, whose time the API does not give).
// Each write is the store's: a newer event always wins.
func (a *Reconciliation) holds(ctx context.Context, r reward.Reconciling) error {
	var blocked []Affiliate
	var asOf time.Time
	err := readAll(ctx, r, func(cursor string) (string, error) {
		rows, next, at, err := a.API.Affiliates(ctx, "blocked", cursor)
		if asOf.IsZero() {
			// The first page's time: whatever changed after it is newer.
			asOf = at
		}
		r.Listed(len(rows))
		blocked = append(blocked, rows...)
		return next, err
	})
	if err != nil {
		return err
	}
	if asOf.IsZero() {
		asOf = r.Now()
	}
	// The flags are read after the blocked affiliates: a release is as of
	// that listing, so every flag confirmed before it must be known (one
	// confirmed between the two reads is newer than such a release).
	var flags []Flag
	err = readAll(ctx, r, func(cursor string) (string, error) {
		rows, next, err := a.API.Flags(ctx, "confirmed", cursor)
		r.Listed(len(rows))
		flags = append(flags, rows...)
		return next, err
	})
	if err != nil {
		return err
	}
	stored, err := r.Holds(ctx, reward.AgentRef)
	if err != nil {
		return err
	}
	known := map[reward.Recipient]reward.Hold{}
	for _, h := range stored {
		known[h.Recipient] = h
	}
	for _, h := range Holds(blocked, flags, asOf, stored) {
		if old, ok := known[h.Recipient]; ok && (old.Held == h.Held || !h.Supersedes(&old)) {
			continue
		}
		err := r.SetHold(ctx, h)
		if errors.Is(err, reward.ErrOutdated) {
			continue // a newer event got there first
		}
		if err != nil {
			return fmt.Errorf("hold %s: %w", h.Recipient, err)
		}
		known[h.Recipient] = h
	}
	return nil
}

// readAll reads a whole list from its first page: a set is compared whole,
// so a list the deadline stops changes nothing.
func readAll(ctx context.Context, r reward.Reconciling, page func(cursor string) (string, error)) error {
	cursor := ""
	for {
		next, err := page(cursor)
		r.Page()
		if errors.Is(err, ErrCutShort) {
			// The set is incomplete: comparing it would release holds.
			r.CutShort()
		}
		if err != nil || next == "" {
			return err
		}
		if err := r.TimeLeft(ctx); err != nil {
			return err
		}
		cursor = next
	}
}

// conversions applies every conversion status AgentRef announces no
// webhook for (approval, and payment, which follows it: a conversion
// approved and paid between two runs is only ever listed as paid) or
// whose webhook may be lost.
func (a *Reconciliation) conversions(ctx context.Context, r reward.Reconciling) error {
	for _, status := range []string{"approved", "paid", "rejected", "refunded", "partially_refunded"} {
		err := resume(ctx, r, "agentref:conversions:"+status, func(cursor string) (string, error) {
			rows, next, err := a.API.Conversions(ctx, status, cursor)
			if err != nil {
				return cursor, err
			}
			for _, c := range rows {
				if err := r.TimeLeft(ctx); err != nil {
					return cursor, err
				}
				r.Listed(1)
				if err := a.conversion(ctx, r, c); err != nil {
					return cursor, err
				}
			}
			return next, nil
		})
		if err := r.ListFailed(ctx, "agentref conversions "+status, err); err != nil {
			return err
		}
	}
	return nil
}

// conversion applies one listed conversion.
func (a *Reconciliation) conversion(ctx context.Context, r reward.Reconciling, c Conversion) error {
	in, err := c.Intent(a.Currency)
	if err != nil {
		r.Drift(reward.AgentRef, c.ID, err.Error())
		return nil
	}
	if err := readHold(ctx, r.Ledger(), &in); err != nil {
		return err
	}
	change, ok, err := r.Apply(ctx, in)
	if err != nil {
		return fmt.Errorf("conversion %s: %w", c.ID, err)
	}
	if !ok {
		return nil
	}
	if change.Outcome == reward.Stale {
		// The platform went back on a final state (approved after a
		// rejection): a person must decide.
		r.Drift(reward.AgentRef, c.ID, fmt.Sprintf("the platform says %s: %s", c.Status, change.Reason))
	}
	if ac := change.AccountChange; ac != nil {
		r.Drift(reward.AgentRef, c.ID, ac.String())
	}
	return nil
}

// payouts makes each listed payout what the platform says it is now:
// completed, debited once for its current attempt; failed, nothing of it
// debited. What webhooks already did is not done again.
func (a *Reconciliation) payouts(ctx context.Context, r reward.Reconciling) error {
	for _, status := range []reward.PayoutStatus{reward.PayoutCompleted, reward.PayoutFailed} {
		err := resume(ctx, r, "agentref:payouts:"+string(status), func(cursor string) (string, error) {
			rows, next, err := a.API.Payouts(ctx, string(status), cursor)
			if err != nil {
				return cursor, err
			}
			for _, po := range rows {
				if err := r.TimeLeft(ctx); err != nil {
					return cursor, err
				}
				r.Listed(1)
				in, err := po.Intent(a.Currency, status)
				if err != nil {
					r.Drift(reward.AgentRef, po.ID, err.Error())
					continue
				}
				if _, err := r.ApplyPayout(ctx, in); err != nil {
					return cursor, fmt.Errorf("payout %s: %w", po.ID, err)
				}
			}
			return next, nil
		})
		if err := r.ListFailed(ctx, "agentref payouts "+string(status), err); err != nil {
			return err
		}
	}
	return nil
}

// resume pages from a stored cursor until the end or the deadline. A page
// that fails or stops at the deadline (its rows check it one by one) leaves
// its own cursor stored: the next run reads it again.
func resume(ctx context.Context, r reward.Reconciling, name string, page func(cursor string) (string, error)) error {
	cursor, err := r.Cursor(ctx, name)
	if err != nil {
		return err
	}
	// Cursors are stored even when a call was cut short at the deadline.
	final := context.WithoutCancel(ctx)
	for {
		next, err := page(cursor)
		r.Page()
		if errors.Is(err, ErrCutShort) {
			// Nothing past this page can be read: the next run starts the
			// list again rather than stop at the same page.
			r.CutShort()
			_ = r.SetCursor(final, name, "")
			return err
		}
		if err != nil {
			_ = r.SetCursor(final, name, cursor)
			return err
		}
		cursor = next
		if cursor == "" {
			return r.SetCursor(final, name, "")
		}
		if err := r.TimeLeft(ctx); err != nil {
			if serr := r.SetCursor(final, name, cursor); serr != nil {
				return serr
			}
			return err
		}
	}
}
