package relay

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// recipientBalance sums what the ledger holds for one recipient.
func (h *harness) recipientBalance(t *testing.T, r reward.Recipient) reward.Deltas {
	t.Helper()
	l, err := h.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
	var d reward.Deltas
	for _, b := range l.Balances {
		if b.Account.Recipient == r {
			d = d.Add(b.Deltas)
		}
	}
	return d
}

// TestRedeliveriesOfAppliedEventsChangeNothing: every event of a lifecycle
// delivered again after later changes (the queue's at-least-once delivery,
// a platform's retry) leaves the ledger as it was, though no state change
// writes an event record of its own.
func TestRedeliveriesOfAppliedEventsChangeNothing(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.fpCommission(1, "pending")
		created := h.fpEvent("e1", "commission.created", 1, "")
		h.process(t, created)
		h.sim.SetStatus(1, "approved")
		approved := h.fpEvent("e2", "commission.updated", 1, "pending")
		h.process(t, approved)
		want := reward.Deltas{Available: 500, Fulfilled: 500}
		if b := h.balance(t, promoter7); b != want {
			t.Fatalf("after the approval: %+v, want %+v", b, want)
		}
		for _, batch := range [][]Message{{approved}, {created}, {created, approved, approved}} {
			res := h.p.Process(t.Context(), batch)
			if len(res.Failed) != 0 || res.Counts[CountApplied] != 0 || res.Counts[CountDelivered] != 0 || res.Counts[CountDuplicate]+res.Counts[CountStale] != len(batch) {
				t.Errorf("redelivered %d events: %+v, want each a duplicate or stale", len(batch), res.Counts)
			}
		}
		if b := h.balance(t, promoter7); b != want {
			t.Errorf("after the redeliveries: %+v, want %+v", b, want)
		}
		if n := h.sim.CallCount("POST"); n != 1 {
			t.Errorf("%d mark_fulfilled requests, want 1", n)
		}
		c, err := h.store.Commission(t.Context(), reward.FirstPromoter, "1")
		if err != nil || c.Status != reward.Approved || c.Fulfilment != reward.Acknowledged {
			t.Errorf("commission %+v %v", c, err)
		}
	})
}

// TestAnOldCreationRedeliveredAfterTheAffiliateChangedMovesNothing: AgentRef
// events carry their own affiliate; the creation delivered again after a
// later event moved the pending credit must not move it back.
func TestAnOldCreationRedeliveredAfterTheAffiliateChangedMovesNothing(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		conv := func(affiliate string) map[string]any {
			return map[string]any{"id": "conv_1", "affiliateId": affiliate, "amount": 10000, "currency": "usd", "commissionAmount": 2000, "status": "pending"}
		}
		first := h.arEvent(t, "msg_1", "conversion.created", conv("aff_1"))
		h.process(t, first)
		h.process(t, h.arEvent(t, "msg_2", "conversion.created", conv("aff_2")))
		if b := h.recipientBalance(t, reward.Affiliate("aff_2")); b != (reward.Deltas{Pending: 2000}) {
			t.Fatalf("after the move aff_2 holds %+v, want the pending credit", b)
		}
		res := h.p.Process(t.Context(), []Message{first})
		if len(res.Failed) != 0 || res.Counts[CountApplied] != 0 || res.Counts[CountDuplicate] != 1 {
			t.Errorf("the creation redelivered: %+v, want a duplicate", res.Counts)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_2")); b != (reward.Deltas{Pending: 2000}) {
			t.Errorf("aff_2 holds %+v after the redelivery, want the pending credit", b)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_1")); b != (reward.Deltas{}) {
			t.Errorf("aff_1 holds %+v after the redelivery, want nothing", b)
		}
	})
}

// TestAnEventThatChangedNothingRedeliveredAfterAMoveMovesNothing: an
// event whose content was already the stored state (a second event id for
// it) changes nothing and is recorded; delivered again after a later event
// moved the pending credit, it is the same event, and must not move it
// back.
func TestAnEventThatChangedNothingRedeliveredAfterAMoveMovesNothing(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		conv := func(affiliate string) map[string]any {
			return map[string]any{"id": "conv_1", "affiliateId": affiliate, "amount": 10000, "currency": "usd", "commissionAmount": 2000, "status": "pending"}
		}
		h.process(t, h.arEvent(t, "msg_1", "conversion.created", conv("aff_1")))
		again := h.arEvent(t, "msg_1b", "conversion.created", conv("aff_1"))
		if res := h.p.Process(t.Context(), []Message{again}); res.Counts[CountApplied] != 0 {
			t.Fatalf("the same content under another id: %+v, want nothing applied", res.Counts)
		}
		h.process(t, h.arEvent(t, "msg_2", "conversion.created", conv("aff_2")))
		res := h.p.Process(t.Context(), []Message{again})
		if len(res.Failed) != 0 || res.Counts[CountApplied] != 0 || res.Counts[CountDuplicate] != 1 {
			t.Errorf("msg_1b redelivered: %+v, want a duplicate", res.Counts)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_2")); b != (reward.Deltas{Pending: 2000}) {
			t.Errorf("aff_2 holds %+v after the redelivery, want the pending credit", b)
		}
		if b := h.recipientBalance(t, reward.Affiliate("aff_1")); b != (reward.Deltas{}) {
			t.Errorf("aff_1 holds %+v after the redelivery, want nothing", b)
		}
	})
}
