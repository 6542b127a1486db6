package relay

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func conversion(id, affiliate, status string, commission int64) map[string]any {
	return map[string]any{"id": id, "affiliateId": affiliate, "currency": "usd", "commissionAmount": commission, "status": status}
}

// An approval AgentRef announces by no webhook, then a partial refund: what
// remains is delivered, whether the reconciler lists the conversion or its
// refund webhook arrives, and on hold it waits for the release.
func TestPartialRefundAfterAnUnseenApprovalDeliversTheRest(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.processBatches(t, []Message{
			h.arEvent(t, "c1-created", "conversion.created", conversion("c1", "a1", "pending", 1000)),
			h.arEvent(t, "c2-created", "conversion.created", conversion("c2", "a1", "pending", 500)),
			h.arEvent(t, "c3-created", "conversion.created", conversion("c3", "a2", "pending", 800)),
			h.arEvent(t, "a2-blocked", "affiliate.blocked", map[string]any{"id": "a2", "status": "blocked"}),
		})
		h.sim.PutAffiliate(simulator.Affiliate{ID: "a2", Status: "blocked"})
		// Approved and refunded in part between two runs: only ever listed
		// as partially refunded.
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 600, Status: "partially_refunded"})
		h.sim.PutConversion(simulator.Conversion{ID: "c3", AffiliateID: "a2", Currency: "usd", CommissionAmount: 300, Status: "partially_refunded"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		if run := rc.Run(t.Context()); len(run.Errors) > 0 {
			t.Fatalf("run: %+v", run)
		}
		// c2's refund webhook says the same of it.
		h.processBatches(t, []Message{h.arEvent(t, "c2-refunded", "conversion.refunded", conversion("c2", "a1", "partially_refunded", 200))})
		if b := h.balance(t, a1); b != (reward.Deltas{Available: 600 + 200}) {
			t.Errorf("a1: %+v, want what remains of c1 and c2 available", b)
		}
		a2 := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Unit: reward.Cash, Currency: "usd"}
		if b := h.balance(t, a2); b != (reward.Deltas{Pending: 300}) {
			t.Errorf("a2 on hold: %+v, want the rest of c3 pending", b)
		}
		// Released: the next run delivers it; another changes nothing.
		h.processBatches(t, []Message{h.arEvent(t, "a2-unblocked", "affiliate.unblocked", map[string]any{"id": "a2", "status": "approved"})})
		h.sim.PutAffiliate(simulator.Affiliate{ID: "a2", Status: "approved"})
		rc.Run(t.Context())
		if b := h.balance(t, a2); b != (reward.Deltas{Available: 300}) {
			t.Errorf("a2 released: %+v, want the rest of c3 available", b)
		}
		if again := rc.Run(t.Context()); again.Counts[CountApplied] != 0 {
			t.Errorf("an idle run applied %d", again.Counts[CountApplied])
		}
	})
}

// A conversion approved after its rejection is never delivered silently:
// the reconciler reports it as drift and the processor logs it.
func TestApprovalAfterRejectionIsReportedAsDrift(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.processBatches(t, []Message{
			h.arEvent(t, "c1-created", "conversion.created", conversion("c1", "a1", "pending", 1000)),
			h.arEvent(t, "c2-created", "conversion.created", conversion("c2", "a1", "pending", 500)),
		})
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 1000, Status: "rejected"})
		h.sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", Currency: "usd", CommissionAmount: 500, Status: "rejected"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		if run := rc.Run(t.Context()); len(run.Drift) > 0 || len(run.Errors) > 0 {
			t.Fatalf("rejection: %+v", run)
		}
		// c1 approved; c2 approved and refunded in part.
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 1000, Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", Currency: "usd", CommissionAmount: 200, Status: "partially_refunded"})
		run := rc.Run(t.Context())
		drifted := map[string]bool{}
		for _, d := range run.Drift {
			drifted[string(d.Provider)+"/"+d.CommissionID] = true
		}
		if len(run.Drift) != 2 || !drifted["agentref/c1"] || !drifted["agentref/c2"] {
			t.Errorf("drift %+v, want conversions c1 and c2", run.Drift)
		}
		h.logs.Reset()
		h.processBatches(t, []Message{h.arEvent(t, "c1-approved", "conversion.created", conversion("c1", "a1", "approved", 1000))})
		if b := h.balance(t, a1); b != (reward.Deltas{}) {
			t.Errorf("balance %+v, want nothing delivered", b)
		}
		if !warned(t, h.logs, "c1") {
			t.Errorf("no warning of the approval after a rejection:\n%s", h.logs)
		}
	})
}

// warned reports whether a warning log line names the commission.
func warned(t *testing.T, logs *bytes.Buffer, commission string) bool {
	t.Helper()
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec struct {
			Level        string `json:"level"`
			CommissionID string `json:"commission_id"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Level == "WARN" && rec.CommissionID == commission {
			return true
		}
	}
	return false
}

// A conversion approved and then paid between two runs is only ever listed
// as paid: it is due to the affiliate and is delivered, once.
func TestConversionPaidBeforeAnyRunIsDelivered(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.processBatches(t, []Message{h.arEvent(t, "c1-created", "conversion.created", conversion("c1", "a1", "pending", 1000))})
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 1000, Status: "paid"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		if run := rc.Run(t.Context()); len(run.Errors) > 0 || len(run.Drift) > 0 {
			t.Fatalf("run: %+v", run)
		}
		if b := h.balance(t, a1); b != (reward.Deltas{Available: 1000}) {
			t.Errorf("a1: %+v, want the paid conversion available", b)
		}
		if again := rc.Run(t.Context()); again.Counts[CountApplied] != 0 {
			t.Errorf("a second run applied %d", again.Counts[CountApplied])
		}
	})
}
