package relay

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// acknowledge tells FirstPromoter, in one call, about every reward this
// batch delivered. The ledger is already right whatever happens here: on a
// platform failure the commissions stay in the outbox for the reconciler,
// and no message is failed for it (retrying the message would not help).
func (p *Processor) acknowledge(ctx context.Context, b *batchState) {
	if len(b.delivered) == 0 || p.FirstPromoter == nil {
		return
	}
	ids := make([]int64, 0, len(b.delivered))
	for _, c := range b.delivered {
		id, err := strconv.ParseInt(c.ID, 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	res, err := p.FirstPromoter.MarkFulfilled(ctx, ids)
	if err != nil {
		b.count(CountPlatformError)
		p.Log.WarnContext(ctx, "mark_fulfilled failed; the deliveries stay in the outbox for the reconciler", "commissions", len(ids), "error", err.Error())
		return
	}
	Record(ctx, p.Store, p.Now(), b.delivered, res, b.count, p.Log)
}

// Record stores a mark_fulfilled answer: acknowledged commissions leave the
// outbox with their fulfilled balance, per-id failures stay in it with their
// reason, and an asynchronous batch is recorded once for polling (its
// commissions stay in the outbox until then). count is
// called with the counter names of what happened.
func Record(ctx context.Context, store reward.Store, now time.Time, delivered []reward.Commission, res firstpromoter.BatchResult, count func(string), log *slog.Logger) {
	if res.Async {
		b := reward.Batch{Provider: reward.FirstPromoter, ID: string(res.ID), At: now}
		for _, c := range delivered {
			b.CommissionIDs = append(b.CommissionIDs, c.ID)
		}
		if err := store.RecordBatch(ctx, b); err != nil {
			log.WarnContext(ctx, "could not record the platform's batch; the reconciler will acknowledge from the outbox", "batch_id", b.ID, "error", err.Error())
			return
		}
		for range delivered {
			count(CountAckPending)
		}
		return
	}
	failed := res.FailedIDs()
	for _, c := range delivered {
		id, _ := strconv.ParseInt(c.ID, 10, 64)
		var err error
		switch msg, bad := failed[id]; {
		case bad:
			next := c
			next.Fulfilment, next.FulfilmentError, next.UpdatedAt = reward.Failed, msg, now
			err = store.SetFulfilment(ctx, next, c.Fulfilment)
			count(CountAckFailed)
		default:
			var ack reward.Change
			if ack, err = reward.Acknowledge(c, "", now); err == nil {
				err = store.Apply(ctx, reward.EventRecord{}, ack)
			}
			if err == nil {
				count(CountAcknowledged)
			}
		}
		var mm *reward.Mismatch
		if errors.As(err, &mm) {
			// Someone else (a concurrent run) recorded the outcome first.
			continue
		}
		if err != nil {
			log.WarnContext(ctx, "could not record the platform's acknowledgement; the reconciler will retry it", "commission_id", c.ID, "error", err.Error())
		}
	}
}
