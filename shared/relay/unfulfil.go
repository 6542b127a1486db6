package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// unfulfilmentAPI is what telling FirstPromoter of failed deliveries asks
// of it.
type unfulfilmentAPI interface {
	MarkUnfulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
	Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error)
}

// Counters of the failed deliveries the platform is told of.
const (
	CountUnfulfilled     = "unfulfilled"
	CountUnfulfilFailed  = "unfulfilment_failed"
	CountUnfulfilRefused = "unfulfilment_refused"
)

// unfulfilChunk is how many ids one mark_unfulfilled carries: at most
// FirstPromoter's synchronous limit, so that every answer says what
// happened and no batch process has to be recorded and polled. Failed
// deliveries are rare: the requests this costs are few.
const unfulfilChunk = firstpromoter.SyncBatchLimit

// unfulfil tells FirstPromoter of the failed deliveries waiting in the
// outbox's second lane, in chunks, and records what it answered.
func (rc *Reconciler) unfulfil(ctx context.Context, r *run) error {
	store := rc.Processor.Store
	limit := rc.OutboxLimit
	if limit <= 0 {
		limit = 1000
	}
	todo, err := store.UnfulfilOutbox(ctx, reward.FirstPromoter, limit)
	if err != nil || len(todo) == 0 {
		return err
	}
	// The outbox's age is its oldest lane's: one alarm for both.
	if age := int(rc.Processor.Now().Sub(todo[0].RequestedAt).Seconds()); age > r.res.Counts[GaugeOutboxAge] {
		r.res.Counts[GaugeOutboxAge] = age
	}
	for start := 0; start < len(todo); start += unfulfilChunk {
		if err := rc.timeLeft(ctx); err != nil {
			return err
		}
		chunk := todo[start:min(start+unfulfilChunk, len(todo))]
		s, err := markUnfulfilled(ctx, rc.FirstPromoter, commissionIDs(chunk))
		rc.recordUnfulfilled(ctx, r, chunk, s)
		if err != nil {
			r.count(CountPlatformError)
			return err
		}
	}
	return nil
}

// markUnfulfilled sends ids to mark_unfulfilled and settles the answer as
// markFulfilled does, the other way round: an id is confirmed when the
// platform no longer shows it fulfilled; a request refused whole (422) is
// sent again with the ids it still shows fulfilled, in halves, until the id
// it refuses is alone. In the settlement, acknowledged holds the confirmed
// ids.
func markUnfulfilled(ctx context.Context, api unfulfilmentAPI, ids []int64) (*settlement, error) {
	s := newSettlement()
	if len(ids) == 0 {
		return s, nil
	}
	return s, s.sendUnfulfil(ctx, api, ids, nil)
}

func (s *settlement) sendUnfulfil(ctx context.Context, api unfulfilmentAPI, ids []int64, standing map[int64]firstpromoter.Standing) error {
	res, err := api.MarkUnfulfilled(ctx, ids)
	switch {
	case errors.Is(err, firstpromoter.ErrInvalid):
		return s.unfulfilRefusedWhole(ctx, api, ids, standing, err)
	case err != nil:
		return fmt.Errorf("mark_unfulfilled %d commissions: %w", len(ids), err)
	case res.Async:
		// Not expected within the synchronous limit; the next run sends
		// them again (mark_unfulfilled twice leaves them unfulfilled).
		for _, id := range ids {
			s.unconfirmed[id] = "the platform is still processing mark_unfulfilled (batch " + string(res.ID) + ")"
		}
		return nil
	}
	a := answerOf(res)
	if a.confirmed {
		for _, id := range ids {
			s.acknowledged[id] = true
		}
		return nil
	}
	if standing, err = api.Standings(ctx, ids); err != nil {
		return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
	}
	var left []int64
	for _, id := range ids {
		if standing[id] != firstpromoter.Fulfilled {
			s.acknowledged[id] = true
		} else {
			left = append(left, id)
		}
	}
	accounted := a.refusals > 0 && a.refusals == len(left)
	for _, id := range left {
		if _, named := a.named[id]; named || accounted {
			s.refused[id] = a.reason(id)
		} else {
			s.unconfirmed[id] = "not confirmed by the platform (" + a.outcome + ")"
		}
	}
	return nil
}

// unfulfilRefusedWhole settles a mark_unfulfilled the platform refused
// whole: ids it no longer shows fulfilled are confirmed, the rest are sent
// again, in halves when they were all in the refused request; one refused
// alone is refused.
func (s *settlement) unfulfilRefusedWhole(ctx context.Context, api unfulfilmentAPI, ids []int64, standing map[int64]firstpromoter.Standing, refusal error) error {
	reason := "the platform refused the request"
	var apiErr *firstpromoter.APIError
	if errors.As(refusal, &apiErr) && (apiErr.Message != "" || apiErr.Code != "") {
		reason = bounded(strings.TrimSpace(apiErr.Code + " " + apiErr.Message))
	}
	if standing == nil {
		var err error
		if standing, err = api.Standings(ctx, ids); err != nil {
			return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
		}
	}
	var open []int64
	for _, id := range ids {
		if standing[id] == firstpromoter.Fulfilled {
			open = append(open, id)
		} else {
			s.acknowledged[id] = true
		}
	}
	switch {
	case len(open) == 0:
		return nil
	case len(open) < len(ids):
		return s.sendUnfulfil(ctx, api, open, standing)
	case len(open) == 1:
		s.refused[open[0]] = reason
		return nil
	}
	half := len(open) / 2
	return errors.Join(s.sendUnfulfil(ctx, api, open[:half], standing), s.sendUnfulfil(ctx, api, open[half:], standing))
}

// recordUnfulfilled stores what the platform said of failed deliveries:
// confirmed ones leave the lane and the fulfilled balance, refused ones
// leave the lane with the platform's reason (drift of the run), unconfirmed
// ones stay in it with theirs. Ids the platform could not be asked about
// stay as they were.
func (rc *Reconciler) recordUnfulfilled(ctx context.Context, r *run, cs []reward.Commission, s *settlement) {
	store, now := rc.Processor.Store, rc.Processor.Now()
	for _, c := range cs {
		id, err := strconv.ParseInt(c.ID, 10, 64)
		if err != nil {
			continue
		}
		if s.acknowledged[id] {
			rc.confirmUnfulfilled(ctx, r, c)
			continue
		}
		reason, refused := s.refused[id]
		if !refused {
			var ok bool
			if reason, ok = s.unconfirmed[id]; !ok {
				continue
			}
		}
		next := c
		next.Fulfilment, next.FulfilmentError, next.UpdatedAt = reward.UnfulfilFailed, reason, now
		if refused {
			next.Fulfilment = reward.UnfulfilRefused
		}
		err = store.SetFulfilment(ctx, next, c.Fulfilment)
		if errors.As(err, new(*reward.Mismatch)) {
			continue // redelivered, or a concurrent run got there first
		}
		if err != nil {
			r.log.Warn("could not record the platform's answer to mark_unfulfilled; the next run sends it again", "commission_id", c.ID, "error", err.Error())
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
		r.log.Warn("could not record the platform's confirmation of mark_unfulfilled; the next run sends it again", "commission_id", c.ID, "error", err.Error())
		return
	}
}

// MarkUnfulfilled records the request; dry, it pretends it completed
// without calling.
func (f observedFP) MarkUnfulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	return f.act(ctx, ids, f.ReconcileFirstPromoterAPI.MarkUnfulfilled, &f.acts.Unfulfil)
}
