package relay

import (
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Ingest refuses what the ledger would refuse: the same bounds.
func TestIngestBoundsAreTheLedgers(t *testing.T) {
	if webhook.MaxIDLength != reward.MaxIDLength || webhook.MaxAmount != reward.MaxAmount {
		t.Errorf("ingest bounds ids at %d bytes and amounts at %d; the ledger at %d and %d", webhook.MaxIDLength, webhook.MaxAmount, reward.MaxIDLength, int64(reward.MaxAmount))
	}
}

// A row the ledger cannot store (an id longer than a key holds, an amount
// over the largest) is drift of the run, not an error that stops its list
// at the same row every run: the rows after it are applied and the list
// ends.
func TestRowsTheLedgerCannotStoreAreDriftAndTheListGoesOn(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		long := strings.Repeat("c", reward.MaxIDLength+1)
		h.sim.PutConversion(simulator.Conversion{ID: long, AffiliateID: "a1", Currency: "usd", CommissionAmount: 100, Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c-huge", AffiliateID: "a1", Currency: "usd", CommissionAmount: reward.MaxAmount + 1, Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c-fine", AffiliateID: "a1", Currency: "usd", CommissionAmount: 700, Status: "approved"})
		h.sim.PutPayout(simulator.Payout{ID: "p-huge", AffiliateID: "a1", Amount: reward.MaxAmount + 1, Status: "completed"})
		h.fpCommission(9, "approved")
		h.sim.PutCommission(simulator.FPCommission{ID: 10, Status: "approved", Unit: "points", Amount: reward.MaxAmount + 1, PromoterID: 7, RewardID: 3, CreatedAt: t0})
		rc := h.reconciler(t)
		run := rc.Run(t.Context())
		if len(run.Errors) > 0 || !run.Complete {
			t.Fatalf("run: %+v", run)
		}
		drift := map[string]bool{}
		for _, d := range run.Drift {
			drift[d.CommissionID] = true
		}
		for _, id := range []string{long, "c-huge", "p-huge", "10"} {
			if !drift[id] {
				t.Errorf("no drift for %.20s...: %+v", id, run.Drift)
			}
		}
		a1 := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
		if b := h.balance(t, a1); b != (reward.Deltas{Available: 700}) {
			t.Errorf("a1 holds %+v, want c-fine's 700 alone", b)
		}
		if b := h.balance(t, promoter7); b.Available != 500 {
			t.Errorf("promoter 7 holds %+v, want commission 9's 500", b)
		}
		if again := rc.Run(t.Context()); len(again.Errors) > 0 || again.Counts[CountApplied] != 0 {
			t.Errorf("the next run: %+v", again)
		}
	})
}
