package relay

import (
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// payoutEvent is payout.<status> of a 300 payout of affiliate a1, created
// by the platform minute minutes after t0.
func (h *harness) payoutEvent(t testing.TB, msgID, payoutID, status string, minute int) Message {
	t.Helper()
	data := map[string]any{"id": payoutID, "affiliateId": "a1", "amount": 300, "status": status, "createdAt": t0.Format(time.RFC3339)}
	return h.arEventAt(t, msgID, "payout."+status, data, t0.Add(time.Duration(minute)*time.Minute))
}

var a1 = reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}

// process applies batches one after another and fails the test on a
// failed message.
func (h *harness) processBatches(t *testing.T, batches ...[]Message) {
	t.Helper()
	for _, b := range batches {
		if res := h.p.Process(t.Context(), b); len(res.Failed) > 0 {
			t.Fatalf("failed %v\n%s", res.Failed, h.logs)
		}
	}
}

// earn delivers a 1000 commission to a1, so payouts have something to debit.
func (h *harness) earn(t *testing.T) {
	t.Helper()
	h.processBatches(t, []Message{h.arEvent(t, "earned", "conversion.created", map[string]any{"id": "c0", "affiliateId": "a1", "currency": "usd", "commissionAmount": 1000, "status": "approved"})})
}

func TestPayoutFailedThenRetriedIsDebited(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.earn(t)
		h.processBatches(t, []Message{h.payoutEvent(t, "f1", "po1", "failed", 1)}, []Message{h.payoutEvent(t, "c2", "po1", "completed", 2)})
		if b := h.balance(t, a1); b.Available != 700 {
			t.Errorf("after a failure and its retry's completion: available %d, want 700 (debited once)", b.Available)
		}
		// Failed and retried again, in one batch: still one debit.
		h.processBatches(t, []Message{h.payoutEvent(t, "f3", "po1", "failed", 3), h.payoutEvent(t, "c4", "po1", "completed", 4)})
		if b := h.balance(t, a1); b.Available != 700 {
			t.Errorf("after a second failure and retry: available %d, want 700", b.Available)
		}
		po, err := h.store.Payout(t.Context(), reward.AgentRef, "po1")
		if err != nil || po.Status != reward.PayoutCompleted || po.Attempts != 2 {
			t.Errorf("payout %+v %v, want completed on its second debited attempt", po, err)
		}
	})
}

func TestPayoutEventsReorderedNeverDebitTwice(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.earn(t)
		// Attempt 1 completed then failed, attempt 2 completed; the
		// failure of attempt 1 arrives first.
		completed1, failed1, completed2 := h.payoutEvent(t, "c1", "po1", "completed", 1), h.payoutEvent(t, "f1", "po1", "failed", 2), h.payoutEvent(t, "c2", "po1", "completed", 3)
		h.processBatches(t, []Message{failed1}, []Message{completed1}, []Message{completed2})
		if b := h.balance(t, a1); b.Available != 700 {
			t.Errorf("available %d, want 700 (debited once)", b.Available)
		}
		// The same, newest first, with redeliveries.
		h.processBatches(t, []Message{completed2, failed1, completed1, failed1})
		if b := h.balance(t, a1); b.Available != 700 {
			t.Errorf("after redeliveries: available %d, want 700", b.Available)
		}
		// A payout whose last word is failed, its two events reversed.
		res := h.p.Process(t.Context(), []Message{h.payoutEvent(t, "f9", "po2", "failed", 9), h.payoutEvent(t, "c8", "po2", "completed", 8)})
		if b := h.balance(t, a1); b.Available != 700 {
			t.Errorf("a failed payout left debited: available %d, want 700", b.Available)
		}
		if res.Counts[CountStale] != 1 {
			t.Errorf("the older completion was not counted stale: %+v", res.Counts)
		}
	})
}

func TestReconcilePayoutsConvergeToThePlatform(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.earn(t)
		at := func(minute int) *time.Time { v := t0.Add(time.Duration(minute) * time.Minute); return &v }
		// po1 failed, then completed with its webhook lost.
		h.processBatches(t, []Message{h.payoutEvent(t, "po1-f", "po1", "failed", 1)})
		h.sim.PutPayout(simulator.Payout{ID: "po1", AffiliateID: "a1", Amount: 300, Status: "completed", CreatedAt: t0, CompletedAt: at(2)})
		// po2 completed, then failed with its webhook lost.
		h.processBatches(t, []Message{h.payoutEvent(t, "po2-c", "po2", "completed", 1)})
		h.sim.PutPayout(simulator.Payout{ID: "po2", AffiliateID: "a1", Amount: 300, Status: "failed", CreatedAt: t0, CompletedAt: at(1)})
		// po3 completed, failed and completed again, every webhook delivered.
		h.processBatches(t, []Message{h.payoutEvent(t, "po3-c1", "po3", "completed", 1), h.payoutEvent(t, "po3-f", "po3", "failed", 2), h.payoutEvent(t, "po3-c2", "po3", "completed", 3)})
		h.sim.PutPayout(simulator.Payout{ID: "po3", AffiliateID: "a1", Amount: 300, Status: "completed", CreatedAt: t0, CompletedAt: at(3)})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		run := rc.Run(t.Context())
		if len(run.Errors) > 0 {
			t.Fatalf("run: %+v", run)
		}
		// po1 and po3 debited once each, po2 not at all.
		if b := h.balance(t, a1); b.Available != 1000-300-300 {
			t.Errorf("available %d, want %d", b.Available, 1000-600)
		}
		for id, want := range map[string]reward.PayoutStatus{"po1": reward.PayoutCompleted, "po2": reward.PayoutFailed, "po3": reward.PayoutCompleted} {
			if po, err := h.store.Payout(t.Context(), reward.AgentRef, id); err != nil || po.Status != want {
				t.Errorf("%s: %+v %v, want %s", id, po, err, want)
			}
		}
		if again := rc.Run(t.Context()); again.Counts[CountApplied] != 0 {
			t.Errorf("a second run applied %d", again.Counts[CountApplied])
		}
		// po2's completion redelivered late under another id: the platform's
		// failure, listed, is newer.
		h.processBatches(t, []Message{h.payoutEvent(t, "po2-c-late", "po2", "completed", 1)})
		if b := h.balance(t, a1); b.Available != 400 {
			t.Errorf("after a late completion of a failed payout: available %d, want 400", b.Available)
		}
	})
}
