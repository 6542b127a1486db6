package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Run counters of the expiry of redemption holds.
const (
	CountHoldsExpired = "redemption_holds_expired"
)

// expiredHoldsPage is how many expired holds one read lists.
const expiredHoldsPage = 100

// ExpiryActor is the actor of the entries that void expired holds.
const ExpiryActor = "reconciler"

// expireHolds voids the redemption holds whose expiry has passed: their
// amount returns to available. A hold captured or voided meanwhile is left
// as it is (the write is conditional on the state it was planned from).
// Each voided redemption is audited.
func (rc *Reconciler) expireHolds(ctx context.Context, r *run) error {
	store := rc.Redemptions
	for {
		now := rc.Processor.Now()
		holds, err := store.ExpiredHolds(ctx, now, expiredHoldsPage)
		if err != nil {
			return err
		}
		if rc.dry {
			// A dry run writes nothing: it says what it would void.
			for _, h := range holds {
				r.count(CountHoldsExpired)
				r.log.Info("redemption hold expired: a run would void it", "redemption_id", h.ID, "recipient", h.Account.Recipient, "amount", h.Amount)
			}
			return nil
		}
		voided := 0
		for _, h := range holds {
			if err := rc.timeLeft(ctx); err != nil {
				return err
			}
			ok, err := rc.expireHold(ctx, h, now)
			if err != nil {
				r.fail("expired holds", fmt.Errorf("redemption %s: %w", h.ID, err))
				continue
			}
			if ok {
				voided++
				r.count(CountHoldsExpired)
				r.log.Info("redemption hold expired: voided", "redemption_id", h.ID, "recipient", h.Account.Recipient, "amount", h.Amount)
				rc.auditRedemption(ctx, r, h.ID)
			}
		}
		// A page that voided nothing (the index not yet showing captures
		// and voids, or failures) is not read again in this run.
		if len(holds) < expiredHoldsPage || voided == 0 {
			return nil
		}
	}
}

// expireHold voids one expired hold; false when it is no longer held.
func (rc *Reconciler) expireHold(ctx context.Context, cur reward.Redemption, now time.Time) (bool, error) {
	store := rc.Redemptions
	for range 5 {
		c, err := reward.PlanRedemptionTransition(cur, reward.ActionExpire, ExpiryActor, now)
		if errors.Is(err, reward.ErrTransition) || err == nil && c.Unchanged {
			// Captured, voided or reversed since it was listed.
			return false, nil
		}
		if err != nil {
			return false, err
		}
		err = store.TransitionRedemption(ctx, c)
		var m *reward.RedemptionMismatch
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &m):
			cur = m.Current
		case errors.Is(err, reward.ErrConflict):
			if cur, err = store.Redemption(ctx, cur.ID); err != nil {
				return false, err
			}
		default:
			return false, err
		}
	}
	return false, fmt.Errorf("redemption %s kept changing: %w", cur.ID, reward.ErrConflict)
}

// auditRedemption checks a redemption the run has just changed.
func (rc *Reconciler) auditRedemption(ctx context.Context, r *run, id string) {
	red, entries, err := rc.Redemptions.RedemptionHistory(ctx, id)
	if err != nil {
		r.fail("audit", fmt.Errorf("redemption %s: %w", id, err))
		return
	}
	r.count(CountAudited)
	for _, v := range reward.AuditRedemptions(entries, []reward.Redemption{red}) {
		r.count(CountViolations)
		r.summary.Errors = append(r.summary.Errors, "audit: "+v.String())
		r.log.Error("ledger invariant violated", "redemption_id", id, "problem", v.Problem)
	}
}
