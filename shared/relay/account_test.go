package relay

import (
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestApprovalAfterTheAccountChangedDeliversToTheNewAccount(t *testing.T) {
	referral := func(uid string) simulator.FPCommission {
		return simulator.FPCommission{ID: 1, Status: "pending", Unit: "points", Amount: 500, PromoterID: 7, RewardID: 99, ReferralID: 31, UID: uid, CreatedAt: t0}
	}
	promoter := func(id int64, unit string) simulator.FPCommission {
		return simulator.FPCommission{ID: 1, Status: "pending", Unit: unit, Amount: 500, PromoterID: id, RewardID: 3, CreatedAt: t0}
	}
	for _, tt := range []struct {
		name          string
		created, then simulator.FPCommission
		from, to      reward.Account
	}{
		{"the promoter moved", promoter(7, "points"), promoter(8, "points"), promoter7,
			reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("8"), Unit: reward.Points}},
		{"the referral gained its uid", referral(""), referral("cust-31"),
			reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Referral("", "31"), Unit: reward.Points},
			reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Referral("cust-31", "31"), Unit: reward.Points}},
		{"the unit changed", promoter(7, "points"), promoter(7, "credits"), promoter7,
			reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("7"), Unit: reward.Credits}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.sim.PutCommission(tt.created)
			if res := h.p.Process(t.Context(), []Message{h.fpEvent("c1", "commission.created", 1, "")}); len(res.Failed) > 0 {
				t.Fatalf("created: %+v\n%s", res, h.logs)
			}
			then := tt.then
			then.Status = "approved"
			h.sim.PutCommission(then)
			res := h.p.Process(t.Context(), []Message{h.fpEvent("a1", "commission.updated", 1, "pending")})
			if len(res.Failed) > 0 || res.Counts[CountDelivered] != 1 || res.Counts[CountAccountChanged] != 1 {
				t.Fatalf("approval: %+v\n%s", res, h.logs)
			}
			if b := h.balance(t, tt.from); b != (reward.Deltas{}) {
				t.Errorf("the old account holds %+v, want nothing", b)
			}
			if b := h.balance(t, tt.to); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
				t.Errorf("the new account holds %+v, want the delivered reward", b)
			}
			c, err := h.store.Commission(t.Context(), reward.FirstPromoter, "1")
			if err != nil || c.Account != tt.to || c.Status != reward.Approved || c.Fulfilment != reward.Acknowledged {
				t.Errorf("commission %+v %v", c, err)
			}
			if !strings.Contains(h.logs.String(), `"to":"`+tt.to.String()+`"`) {
				t.Errorf("no log line names the move to %s:\n%s", tt.to, h.logs)
			}
		})
	}
}

func TestReconcilerMovesAPendingCreditAndReportsIt(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "pending")
	if res := h.p.Process(t.Context(), []Message{h.fpEvent("c1", "commission.created", 1, "")}); len(res.Failed) > 0 {
		t.Fatalf("created: %+v", res)
	}
	promoter8 := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("8"), Unit: reward.Points}
	h.sim.PutCommission(simulator.FPCommission{ID: 1, Status: "pending", Unit: "points", Amount: 500, PromoterID: 8, RewardID: 3, CreatedAt: t0})
	rc := h.reconciler(t)
	dropPlatform(rc, reward.AgentRef)
	run := rc.Run(t.Context())
	if len(run.Errors) > 0 || len(run.Drift) != 1 || run.Drift[0].CommissionID != "1" {
		t.Fatalf("run: %+v", run)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
		t.Errorf("promoter 7 holds %+v, want nothing", b)
	}
	if b := h.balance(t, promoter8); b != (reward.Deltas{Pending: 500}) {
		t.Errorf("promoter 8 holds %+v, want the pending credit", b)
	}
	// The approval then posts from where the credit is.
	h.sim.SetStatus(1, "approved")
	run = rc.Run(t.Context())
	if len(run.Errors) > 0 || len(run.Drift) != 0 {
		t.Fatalf("second run: %+v", run)
	}
	if b := h.balance(t, promoter8); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
		t.Errorf("promoter 8 holds %+v after the approval", b)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
		t.Errorf("promoter 7 holds %+v after the approval", b)
	}
}

func TestADeliveredRewardStaysWhereItWasDeliveredAndTheChangeIsDrift(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "approved")
	h.sim.FailFulfilment(1, "payout missing") // it stays in the approved, unfulfilled list
	if res := h.p.Process(t.Context(), []Message{h.fpEvent("a1", "commission.updated", 1, "pending")}); res.Counts[CountDelivered] != 1 {
		t.Fatalf("approval: %+v", res)
	}
	h.sim.PutCommission(simulator.FPCommission{ID: 1, Status: "approved", Unit: "points", Amount: 500, PromoterID: 8, RewardID: 3, CreatedAt: t0})
	res := h.p.Process(t.Context(), []Message{h.fpEvent("a2", "commission.approved", 1, "")})
	if len(res.Failed) > 0 || res.Counts[CountDuplicate] != 1 || res.Counts[CountAccountChanged] != 1 {
		t.Errorf("a later event naming another promoter: %+v", res)
	}
	rc := h.reconciler(t)
	dropPlatform(rc, reward.AgentRef)
	run := rc.Run(t.Context())
	// The platform's refusal to mark it fulfilled is drift of its own.
	moved := 0
	for _, d := range run.Drift {
		if d.CommissionID == "1" && strings.Contains(d.Problem, "promoter:8") {
			moved++
		}
	}
	if moved != 1 {
		t.Errorf("run drift %+v, want commission 1's new promoter once", run.Drift)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500}) {
		t.Errorf("promoter 7 holds %+v, want the delivered reward", b)
	}
	promoter8 := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("8"), Unit: reward.Points}
	if b := h.balance(t, promoter8); b != (reward.Deltas{}) {
		t.Errorf("promoter 8 holds %+v, want nothing", b)
	}
}

func TestAnAgentRefConversionApprovedForAnotherAffiliatePostsThereAndIsDrift(t *testing.T) {
	h := newHarness(t)
	h.process(t, h.arEvent(t, "m1", "conversion.created", map[string]any{"id": "c1", "affiliateId": "a1", "currency": "usd", "commissionAmount": 1000, "status": "pending"}))
	h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a9", Currency: "usd", CommissionAmount: 1000, Status: "approved"})
	rc := h.reconciler(t)
	dropPlatform(rc, reward.FirstPromoter)
	run := rc.Run(t.Context())
	if len(run.Errors) > 0 || len(run.Drift) != 1 || run.Drift[0].CommissionID != "c1" || !strings.Contains(run.Drift[0].Problem, "affiliate:a9") {
		t.Fatalf("run: %+v", run)
	}
	a1 := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	a9 := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a9"), Unit: reward.Cash, Currency: "usd"}
	if b := h.balance(t, a1); b != (reward.Deltas{}) {
		t.Errorf("a1 holds %+v, want nothing", b)
	}
	if b := h.balance(t, a9); b != (reward.Deltas{Available: 1000}) {
		t.Errorf("a9 holds %+v, want the posted commission", b)
	}
}
