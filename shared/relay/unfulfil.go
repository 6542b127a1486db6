package relay

import (
	"context"
	"errors"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Counters of the failed deliveries the platform is told of.
const (
	CountUnfulfilled     = "unfulfilled"
	CountUnfulfilFailed  = "unfulfilment_failed"
	CountUnfulfilRefused = "unfulfilment_refused"
)

// unfulfil tells a platform of the failed deliveries waiting in the
// outbox's second lane, in chunks of the platform's size, and records
// what it answered.
func (rc *Reconciler) unfulfil(ctx context.Context, r *run, pl reward.Reconcilable, un reward.Unfulfiller) error {
	store := rc.Processor.Store
	limit := rc.OutboxLimit
	if limit <= 0 {
		limit = 1000
	}
	todo, err := store.UnfulfilOutbox(ctx, pl.Provider(), limit)
	if err != nil || len(todo) == 0 {
		return err
	}
	// The outbox's age is its oldest lane's: one alarm for both.
	if age := int(rc.Processor.Now().Sub(todo[0].RequestedAt).Seconds()); age > r.res.Counts[GaugeOutboxAge] {
		r.res.Counts[GaugeOutboxAge] = age
	}
	_, size := pl.Chunk()
	size = max(size, 1)
	for start := 0; start < len(todo); start += size {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		chunk := todo[start:min(start+size, len(todo))]
		s, err := rc.tellUnfulfilled(ctx, pl.Provider(), un, commissionIDs(chunk))
		rc.recordUnfulfilled(ctx, r, chunk, s)
		if err != nil {
			r.count(CountPlatformError)
			return err
		}
	}
	return nil
}

// recordUnfulfilled stores what the platform said of failed deliveries:
// confirmed ones leave the lane and the fulfilled balance, refused ones
// leave the lane with the platform's reason (drift of the run), unconfirmed
// ones stay in it with theirs. Ids the platform could not be asked about
// stay as they were.
func (rc *Reconciler) recordUnfulfilled(ctx context.Context, r *run, cs []reward.Commission, s *reward.Settlement) {
	store, now := rc.Processor.Store, rc.Processor.Now()
	s = settled(s)
	for _, c := range cs {
		if s.Acknowledged[c.ID] {
			rc.confirmUnfulfilled(ctx, r, c)
			continue
		}
		reason, refused := s.Refused[c.ID]
		if !refused {
			var ok bool
			if reason, ok = s.Unconfirmed[c.ID]; !ok {
				continue
			}
		}
		next := c
		next.Fulfilment, next.FulfilmentError, next.UpdatedAt = reward.UnfulfilFailed, reason, now
		if refused {
			next.Fulfilment = reward.UnfulfilRefused
		}
		err := store.SetFulfilment(ctx, next, c.Fulfilment)
		if errors.As(err, new(*reward.Mismatch)) {
			continue // redelivered, or a concurrent run got there first
		}
		if err != nil {
			r.log.Warn("could not record the platform's answer about a failed delivery; the next run tells it again", "commission_id", c.ID, "error", err.Error())
			continue
		}
		if refused {
			r.count(CountUnfulfilRefused)
			r.drift(c.Provider, c.ID, "the platform refuses to mark the failed delivery unfulfilled: "+reason)
			continue
		}
		r.count(CountUnfulfilFailed)
	}
}

// confirmUnfulfilled books the platform's confirmation, from the stored
// state when the commission changed since it was read, as long as the
// failed delivery it confirms is still the stored one.
func (rc *Reconciler) confirmUnfulfilled(ctx context.Context, r *run, c reward.Commission) {
	store, now := rc.Processor.Store, rc.Processor.Now()
	for range maxAttempts {
		change := reward.ConfirmUnfulfilled(c, now)
		if change.Outcome != reward.Applied {
			return
		}
		err := store.Apply(ctx, reward.EventRecord{}, change)
		var mm *reward.Mismatch
		switch {
		case err == nil:
			r.count(CountUnfulfilled)
			rc.audit(ctx, r, c.Provider, c.ID)
			return
		case errors.As(err, &mm) && mm.Current != nil:
			if mm.Current.Undeliveries != c.Undeliveries {
				// Redelivered and failed again since: the platform has
				// not been told of that failure yet.
				return
			}
			c = *mm.Current
			continue
		}
		r.log.Warn("could not record the platform's confirmation of a failed delivery; the next run tells it again", "commission_id", c.ID, "error", err.Error())
		return
	}
}
