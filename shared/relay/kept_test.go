package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// TestAnEventFirstSeenBeforeItsCommissionWasListedDeliversOnce: an
// approval whose commission the platform did not list yet is a record of
// its own, which no state change checks; delivered again once another
// event delivered the commission, it is planned from the stored state and
// changes nothing: one delivery, one acknowledgement.
func TestAnEventFirstSeenBeforeItsCommissionWasListedDeliversOnce(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		c := simulator.FPCommission{ID: 5, Status: "approved", Unit: "points", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: t0}
		early := h.fpEventOf("early", "commission.updated", c, "pending")
		if res := h.p.Process(t.Context(), []Message{early}); len(res.Failed) != 0 || res.Counts[CountStale] != 1 {
			t.Fatalf("before the platform lists it: %+v, want a stale event", res)
		}
		h.sim.PutCommission(c)
		h.process(t, h.fpEvent("later", "commission.updated", 5, "pending"))
		want := reward.Deltas{Available: 500, Fulfilled: 500}
		if b := h.balance(t, promoter7); b != want {
			t.Fatalf("after the delivery: %+v, want %+v", b, want)
		}
		for range 2 {
			res := h.p.Process(t.Context(), []Message{early})
			if len(res.Failed) != 0 || res.Counts[CountApplied] != 0 || res.Counts[CountDelivered] != 0 {
				t.Errorf("the early event again: %+v, want nothing applied", res.Counts)
			}
		}
		if b := h.balance(t, promoter7); b != want {
			t.Errorf("after the early event came again: %+v, want %+v", b, want)
		}
		if n := h.sim.CallCount("POST"); n != 1 {
			t.Errorf("%d mark_fulfilled requests, want 1", n)
		}
	})
}

// TestCopiesOfAnEventThatChangedNothingInTwoInvocationsMoveNothingLater:
// the same message in two invocations at once, changing nothing, is kept
// on its commission by one and a duplicate to the other; neither fails,
// and after a later move it still moves nothing back.
func TestCopiesOfAnEventThatChangedNothingInTwoInvocationsMoveNothingLater(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		conv := func(affiliate string) map[string]any {
			return map[string]any{"id": "conv_1", "affiliateId": affiliate, "amount": 10000, "currency": "usd", "commissionAmount": 2000, "status": "pending"}
		}
		h.process(t, h.arEvent(t, "msg_1", "conversion.created", conv("aff_1")))
		again := h.arEvent(t, "msg_1b", "conversion.created", conv("aff_1"))
		var wg sync.WaitGroup
		results := make([]Result, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = h.p.Process(t.Context(), []Message{again})
			}()
		}
		wg.Wait()
		for _, res := range results {
			if len(res.Failed) != 0 || res.Counts[CountApplied] != 0 || res.Counts[CountDuplicate] != 1 {
				t.Errorf("a copy of msg_1b: failed %v, counts %+v; want a duplicate", res.Failed, res.Counts)
			}
		}
		h.process(t, h.arEvent(t, "msg_2", "conversion.created", conv("aff_2")))
		if res := h.p.Process(t.Context(), []Message{again}); len(res.Failed) != 0 || res.Counts[CountApplied] != 0 {
			t.Errorf("msg_1b after the move: %+v, want nothing applied", res.Counts)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_2")); b != (reward.Deltas{Pending: 2000}) {
			t.Errorf("aff_2 holds %+v, want the pending credit", b)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_1")); b != (reward.Deltas{}) {
			t.Errorf("aff_1 holds %+v, want nothing", b)
		}
	})
}

// TestTheReconcilerAndAnApprovalAtOnceDeliverOnce: the reconciler applies
// an approval while the processor handles its webhook; whichever comes
// second changes nothing (the event kept on the commission, or the
// reconciler's plan refused with the stored state), and the webhook
// delivered again later still changes nothing: one delivery, acknowledged
// once.
func TestTheReconcilerAndAnApprovalAtOnceDeliverOnce(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.fpCommission(1, "pending")
		h.process(t, h.fpEvent("e1", "commission.created", 1, ""))
		h.sim.SetStatus(1, "approved")
		approval := h.fpEvent("e2", "commission.updated", 1, "pending")
		rc := h.reconciler(t)
		var wg sync.WaitGroup
		var res Result
		wg.Add(2)
		go func() { defer wg.Done(); res = h.p.Process(t.Context(), []Message{approval}) }()
		go func() { defer wg.Done(); rc.Run(t.Context()) }()
		wg.Wait()
		if len(res.Failed) != 0 {
			t.Errorf("the approval beside the reconciler: %+v", res)
		}
		again := h.p.Process(t.Context(), []Message{approval})
		if len(again.Failed) != 0 || again.Counts[CountApplied] != 0 {
			t.Errorf("the approval again: %+v, want nothing applied", again.Counts)
		}
		rc.Run(t.Context())
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
			t.Errorf("%+v, want one delivery, acknowledged", b)
		}
		if n := h.sim.CallCount("POST"); n != 1 {
			t.Errorf("%d mark_fulfilled requests, want 1", n)
		}
	})
}

// TestAnEventKeptBeforeItsBatchAcknowledgesTheDeliveryLeavesItAcknowledged:
// FirstPromoter's two webhooks of one approved commission in one batch: the
// first delivers it, the second is kept on the commission while the
// delivery waits in the outbox; the batch's acknowledgement still settles
// it.
func TestAnEventKeptBeforeItsBatchAcknowledgesTheDeliveryLeavesItAcknowledged(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.fpCommission(1, "approved")
		res := h.p.Process(t.Context(), []Message{h.fpEvent("e1", "commission.created", 1, ""), h.fpEvent("e2", "commission.updated", 1, "pending")})
		if len(res.Failed) != 0 || res.Counts[CountDelivered] != 1 || res.Counts[CountDuplicate] != 1 || res.Counts[CountAcknowledged] != 1 {
			t.Errorf("one batch of both webhooks: %+v, want one delivery acknowledged and a duplicate", res.Counts)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
			t.Errorf("%+v, want one delivery, acknowledged", b)
		}
		c, err := h.store.Commission(t.Context(), reward.FirstPromoter, "1")
		if err != nil || c.Fulfilment != reward.Acknowledged {
			t.Errorf("commission %+v %v, want acknowledged", c, err)
		}
		if out, _ := h.store.Outbox(t.Context(), reward.FirstPromoter, 10); len(out) != 0 {
			t.Errorf("outbox still holds %d", len(out))
		}
	})
}

// busyCommission is a store where a transaction is in flight on the
// commission the first time an event is kept on it.
type busyCommission struct {
	reward.Store
	busy int
}

func (s *busyCommission) RecordEvent(ctx context.Context, ev reward.EventRecord) error {
	if ev.CommissionID != "" && s.busy > 0 {
		s.busy--
		return fmt.Errorf("record event %s: %w", ev.ID, reward.ErrConflict)
	}
	return s.Store.RecordEvent(ctx, ev)
}

// TestAnEventKeptWhileATransactionIsOnItsCommissionIsPlannedAgain: keeping
// an event that changed nothing meets a transaction in flight on its
// commission (DynamoDB's TransactionConflictException, which the SDK does
// not retry); the processor plans it again from the stored state and keeps
// it, instead of failing the message.
func TestAnEventKeptWhileATransactionIsOnItsCommissionIsPlannedAgain(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.fpCommission(1, "pending")
		created := h.fpEvent("e1", "commission.created", 1, "")
		h.process(t, created)
		h.p.Store = &busyCommission{Store: h.store, busy: 1}
		again := h.fpEvent("e1-again", "commission.created", 1, "")
		res := h.p.Process(t.Context(), []Message{again})
		if len(res.Failed) != 0 || res.Counts[CountDuplicate]+res.Counts[CountStale] != 1 {
			t.Fatalf("the event that changed nothing, after a conflict: %+v failed %v, want it kept once", res.Counts, res.Failed)
		}
		h.p.Store = h.store
		pending, err := h.store.Commission(t.Context(), reward.FirstPromoter, "1")
		if err != nil {
			t.Fatal(err)
		}
		approve := reward.Intent{Provider: reward.FirstPromoter, CommissionID: "1", Target: reward.TargetApproved, Account: pending.Account, Amount: pending.Amount, At: t0}
		c, err := reward.Plan(&pending, approve)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{Provider: reward.FirstPromoter, ID: "e1-again"}, c); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("the kept event applied later: %v, want ErrDuplicateEvent", err)
		}
	})
}
