package relay

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// acknowledge tells each platform, in one call, about every reward this
// batch delivered of it. The ledger is already right whatever happens here:
// on a platform failure the commissions stay in the outbox for the
// reconciler, and no message is failed for it (retrying the message would
// not help).
func (p *Processor) acknowledge(ctx context.Context, b *batchState) {
	if len(b.delivered) == 0 {
		return
	}
	byProvider := map[reward.Provider][]reward.Commission{}
	var order []reward.Provider
	for _, c := range b.delivered {
		if _, ok := byProvider[c.Provider]; !ok {
			order = append(order, c.Provider)
		}
		byProvider[c.Provider] = append(byProvider[c.Provider], c)
	}
	for _, provider := range order {
		ack, ok := p.platform(provider).(reward.Acknowledger)
		if !ok {
			continue
		}
		delivered := byProvider[provider]
		s, err := ack.Acknowledge(ctx, commissionIDs(delivered))
		rec := recorder{provider: provider, store: p.Store, now: p.Now(), count: b.count, log: p.Log}
		rec.record(ctx, delivered, s)
		if err != nil {
			b.count(CountPlatformError)
			if errors.Is(err, reward.ErrContract) {
				b.count(CountContractBroken)
			}
			p.Log.WarnContext(ctx, "telling the platform of the deliveries failed; they stay in the outbox for the reconciler", "provider", provider, "commissions", len(delivered), "error", err.Error())
		}
	}
}

// commissionIDs returns the commissions' platform ids.
func commissionIDs(cs []reward.Commission) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// recorder stores settlements in the ledger.
type recorder struct {
	// provider is the platform the settlements are of.
	provider reward.Provider
	store    reward.Store
	now      time.Time
	// count is called with the counter names of what happened.
	count func(string)
	// refused, when set, is told of each commission the platform refused
	// for good.
	refused func(c reward.Commission, reason string)
	log     *slog.Logger
}

// record stores a settlement for the delivered commissions it covers:
// acknowledged ones leave the outbox with their fulfilled balance, refused
// ones leave it with their reason, unconfirmed ones stay in it with
// theirs, and each asynchronous batch is recorded once for polling (its
// commissions stay in the outbox until then). A nil settlement is an
// empty one: the platform said nothing of any of them.
func (r recorder) record(ctx context.Context, delivered []reward.Commission, s *reward.Settlement) {
	s = settled(s)
	for id, ids := range s.Batches {
		b := reward.Batch{Provider: r.provider, ID: id, At: r.now, CommissionIDs: ids}
		if err := r.store.RecordBatch(ctx, b); err != nil {
			r.log.WarnContext(ctx, "could not record the platform's batch; the reconciler will acknowledge from the outbox", "batch_id", b.ID, "error", err.Error())
			continue
		}
		for range ids {
			r.count(CountAckPending)
		}
	}
	// Each commission once, in its last state.
	byID := map[string]reward.Commission{}
	for _, c := range delivered {
		byID[c.ID] = c
	}
	for _, c := range byID {
		if s.Acknowledged[c.ID] {
			r.acknowledged(ctx, c)
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
		next.Fulfilment, next.FulfilmentError, next.UpdatedAt = reward.Failed, reason, r.now
		if refused {
			next.Fulfilment = reward.Refused
		}
		err := r.store.SetFulfilment(ctx, next, c.Fulfilment)
		if errors.As(err, new(*reward.Mismatch)) {
			// Someone else (a concurrent run, a reversal) changed it first.
			continue
		}
		if err != nil {
			r.log.WarnContext(ctx, "could not record the platform's answer; the reconciler will retry it", "commission_id", c.ID, "error", err.Error())
			continue
		}
		if refused {
			r.count(CountAckRefused)
			r.log.WarnContext(ctx, "the platform refuses to mark the delivery fulfilled; it leaves the outbox", "commission_id", c.ID, "reason", reason)
			if r.refused != nil {
				r.refused(next, reason)
			}
			continue
		}
		r.count(CountAckFailed)
		r.log.InfoContext(ctx, "acknowledgement not confirmed; it stays in the outbox", "commission_id", c.ID, "reason", reason)
	}
}

// acknowledged books the platform's confirmation, from the stored state
// when the commission changed since it was read.
func (r recorder) acknowledged(ctx context.Context, c reward.Commission) {
	for range maxAttempts {
		ack, err := reward.Acknowledge(c, "", r.now)
		if err == nil && ack.Outcome != reward.Applied {
			return
		}
		if err == nil {
			err = r.store.Apply(ctx, reward.EventRecord{}, ack)
		}
		var mm *reward.Mismatch
		switch {
		case err == nil:
			r.count(CountAcknowledged)
			return
		case errors.As(err, &mm) && mm.Current != nil:
			c = *mm.Current
			continue
		}
		r.log.WarnContext(ctx, "could not record the platform's acknowledgement; the reconciler will retry it", "commission_id", c.ID, "error", err.Error())
		return
	}
}

// settled is s, or an empty settlement when the platform returned none (an
// Acknowledger or Unfulfiller that could not be reached may answer nil
// beside its error).
func settled(s *reward.Settlement) *reward.Settlement {
	if s == nil {
		return reward.NewSettlement()
	}
	return s
}
