package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// fulfilmentAPI is what acknowledging a delivery asks of FirstPromoter.
type fulfilmentAPI interface {
	MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error)
	Standings(ctx context.Context, ids []int64) (map[int64]firstpromoter.Standing, error)
}

// acknowledge tells FirstPromoter, in one call, about every reward this
// batch delivered. The ledger is already right whatever happens here: on a
// platform failure the commissions stay in the outbox for the reconciler,
// and no message is failed for it (retrying the message would not help).
func (p *Processor) acknowledge(ctx context.Context, b *batchState) {
	if len(b.delivered) == 0 || p.FirstPromoter == nil {
		return
	}
	s, err := markFulfilled(ctx, p.FirstPromoter, commissionIDs(b.delivered))
	rec := recorder{store: p.Store, now: p.Now(), count: b.count, log: p.Log}
	rec.record(ctx, b.delivered, s)
	if err != nil {
		b.count(CountPlatformError)
		if errors.Is(err, reward.ErrContract) {
			b.count(CountContractBroken)
		}
		p.Log.WarnContext(ctx, "mark_fulfilled failed; the deliveries stay in the outbox for the reconciler", "commissions", len(b.delivered), "error", err.Error())
	}
}

// commissionIDs returns the platform ids of FirstPromoter commissions.
func commissionIDs(cs []reward.Commission) []int64 {
	ids := make([]int64, 0, len(cs))
	for _, c := range cs {
		if id, err := strconv.ParseInt(c.ID, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// settlement is what the platform said of commissions sent to
// mark_fulfilled. An id in none of its parts got no answer (the platform
// could not be reached): it stays in the outbox as it was.
type settlement struct {
	// acknowledged: the platform confirmed them fulfilled.
	acknowledged map[int64]bool
	// refused: the platform failed them one by one and still shows them
	// approved and unfulfilled: it will not fulfil them, and trying again
	// would not change that.
	refused map[int64]string
	// unconfirmed: neither confirmed nor refused for good; tried again.
	unconfirmed map[int64]string
	// batches are asynchronous batches to poll, by platform id.
	batches map[string][]int64
}

func newSettlement() *settlement {
	return &settlement{acknowledged: map[int64]bool{}, refused: map[int64]string{}, unconfirmed: map[int64]string{}, batches: map[string][]int64{}}
}

// markFulfilled sends ids to mark_fulfilled and settles the answer. A
// request refused whole (422) is sent again with only the ids the platform
// lists as approved and unfulfilled, split in halves until the id it
// refuses is alone, so one commission never holds back the others. The
// error is the platform's when it could not be reached or asked: the ids
// it concerns have no verdict.
func markFulfilled(ctx context.Context, api fulfilmentAPI, ids []int64) (*settlement, error) {
	s := newSettlement()
	if len(ids) == 0 {
		return s, nil
	}
	return s, s.send(ctx, api, ids, nil)
}

// send sends ids; standing, when known, is where the platform showed them.
func (s *settlement) send(ctx context.Context, api fulfilmentAPI, ids []int64, standing map[int64]firstpromoter.Standing) error {
	res, err := api.MarkFulfilled(ctx, ids)
	switch {
	case errors.Is(err, firstpromoter.ErrInvalid):
		return s.refusedWhole(ctx, api, ids, standing, err)
	case err != nil:
		return fmt.Errorf("mark_fulfilled %d commissions: %w", len(ids), err)
	case res.Async:
		if res.ID != "" {
			s.batches[string(res.ID)] = ids
		}
		return nil
	}
	return s.settle(ctx, api, ids, answerOf(res))
}

// refusedWhole settles a request the platform refused whole: ids it shows
// fulfilled (a repeat it refuses) are acknowledged, ids it does not list
// approved wait for their reversal, and the rest are sent again, in halves
// when they were all in the refused request; one refused alone is refused.
func (s *settlement) refusedWhole(ctx context.Context, api fulfilmentAPI, ids []int64, standing map[int64]firstpromoter.Standing, refusal error) error {
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
		switch standing[id] {
		case firstpromoter.Fulfilled:
			s.acknowledged[id] = true
		case firstpromoter.Unfulfillable:
			s.unconfirmed[id] = "the platform does not show it approved: " + reason
		default:
			open = append(open, id)
		}
	}
	switch {
	case len(open) == 0:
		return nil
	case len(open) < len(ids):
		return s.send(ctx, api, open, standing)
	case len(open) == 1:
		s.refused[open[0]] = reason
		return nil
	}
	half := len(open) / 2
	return errors.Join(s.send(ctx, api, open[:half], standing), s.send(ctx, api, open[half:], standing))
}

// answer is what the platform said of a set of ids.
type answer struct {
	confirmed bool
	// refusals is how many of the ids it failed one by one; named are
	// those whose id it gave.
	refusals int
	named    map[int64]string
	// outcome describes the answer; messages are its error messages.
	outcome  string
	messages string
}

// answerOf reads a finished batch.
func answerOf(res firstpromoter.BatchResult) answer {
	return answer{
		confirmed: res.Confirmed(), refusals: res.Refusals(), named: res.FailedIDs(),
		outcome:  fmt.Sprintf("batch %s, %d of %d failed", res.Status, res.FailedCount, res.Total),
		messages: strings.Join(res.Messages(), "; "),
	}
}

// reason is why an id was not confirmed: its own message, else the
// answer's messages, else the answer, bounded (a batch of 100 may carry 100
// messages).
func (a answer) reason(id int64) string {
	msg := a.named[id]
	if msg == "" {
		msg = a.messages
	}
	if msg == "" {
		msg = a.outcome
	}
	return bounded(msg)
}

// maxReason bounds a stored reason: a batch of 100 may carry 100 messages.
const maxReason = 300

func bounded(reason string) string {
	if len(reason) > maxReason {
		// Cut on a character boundary: DynamoDB stores only valid UTF-8.
		return strings.ToValidUTF8(reason[:maxReason], "") + "..."
	}
	return reason
}

// settle records a finished answer for ids. Anything short of a plain
// success is checked against the platform's state: an id is acknowledged
// only when the platform shows it fulfilled.
func (s *settlement) settle(ctx context.Context, api fulfilmentAPI, ids []int64, a answer) error {
	if a.confirmed {
		for _, id := range ids {
			s.acknowledged[id] = true
		}
		return nil
	}
	standing, err := api.Standings(ctx, ids)
	if err != nil {
		return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
	}
	var left []int64
	for _, id := range ids {
		if standing[id] == firstpromoter.Fulfilled {
			s.acknowledged[id] = true
		} else {
			left = append(left, id)
		}
	}
	// Refusals that add up to the ids left unfulfilled name them.
	accounted := a.refusals > 0 && a.refusals == len(left)
	for _, id := range left {
		_, named := a.named[id]
		switch {
		case standing[id] == firstpromoter.Unfulfillable:
			// Denied or removed on the platform: its reversal takes it out
			// of the outbox.
			s.unconfirmed[id] = "the platform does not show it approved: " + a.reason(id)
		case named || accounted:
			s.refused[id] = a.reason(id)
		default:
			s.unconfirmed[id] = "not confirmed by the platform (" + a.outcome + ")"
		}
	}
	return nil
}

// recorder stores settlements in the ledger.
type recorder struct {
	store reward.Store
	now   time.Time
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
// commissions stay in the outbox until then).
func (r recorder) record(ctx context.Context, delivered []reward.Commission, s *settlement) {
	byID := map[int64]reward.Commission{}
	for _, c := range delivered {
		if id, err := strconv.ParseInt(c.ID, 10, 64); err == nil {
			byID[id] = c
		}
	}
	for id, ids := range s.batches {
		b := reward.Batch{Provider: reward.FirstPromoter, ID: id, At: r.now}
		for _, n := range ids {
			b.CommissionIDs = append(b.CommissionIDs, strconv.FormatInt(n, 10))
		}
		if err := r.store.RecordBatch(ctx, b); err != nil {
			r.log.WarnContext(ctx, "could not record the platform's batch; the reconciler will acknowledge from the outbox", "batch_id", b.ID, "error", err.Error())
			continue
		}
		for range ids {
			r.count(CountAckPending)
		}
	}
	for id, c := range byID {
		if s.acknowledged[id] {
			r.acknowledged(ctx, c)
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
