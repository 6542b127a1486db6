package relay

import (
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestTheReconcilerVoidsExpiredHolds(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		rs := h.store.(reward.RedemptionStore)
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "1", Target: reward.TargetApproved, Account: promoter7, Amount: 500, At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatal(err)
		}
		hold := func(key string, ttl time.Duration) reward.Redemption {
			t.Helper()
			c, err := reward.PlanRedemption(reward.RedemptionRequest{Account: promoter7, Amount: 100, Hold: true, HoldTTL: ttl, Key: key, Actor: "shop", At: t0})
			if err != nil {
				t.Fatal(err)
			}
			if err := rs.Redeem(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			return c.After
		}
		expired, captured, open := hold("expired", time.Minute), hold("captured", time.Minute), hold("open", time.Hour)
		capture, err := reward.PlanRedemptionTransition(captured, reward.ActionCapture, "shop", t0.Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.TransitionRedemption(t.Context(), capture); err != nil {
			t.Fatal(err)
		}
		h.p.Now = func() time.Time { return t0.Add(2 * time.Minute) }
		rc := &Reconciler{Processor: h.p, Redemptions: rs}
		dry, _ := rc.Observed(true)
		if sum := dry.Run(t.Context()); sum.Counts[CountHoldsExpired] != 1 {
			t.Errorf("a dry run counts %v, want the expired hold", sum.Counts)
		}
		if got, _ := rs.Redemption(t.Context(), expired.ID); got.Status != reward.RedemptionHeld {
			t.Fatalf("a dry run voided the hold: %s", got.Status)
		}
		for run := range 2 {
			sum := rc.Run(t.Context())
			if len(sum.Errors) > 0 || !sum.Complete {
				t.Fatalf("run %d: %+v", run, sum)
			}
			if want := 1 - run; sum.Counts[CountHoldsExpired] != want || sum.Counts[CountAudited] != want {
				t.Errorf("run %d counts %v, want %d hold expired and audited", run, sum.Counts, want)
			}
		}
		for _, tc := range []struct {
			r    reward.Redemption
			want reward.RedemptionStatus
		}{{expired, reward.RedemptionVoided}, {captured, reward.RedemptionPosted}, {open, reward.RedemptionHeld}} {
			got, err := rs.Redemption(t.Context(), tc.r.ID)
			if err != nil || got.Status != tc.want {
				t.Errorf("%s: %s %v, want %s", tc.r.Key, got.Status, err, tc.want)
			}
		}
		_, entries, _ := rs.RedemptionHistory(t.Context(), expired.ID)
		if len(entries) != 2 || entries[1].Kind != reward.KindRedeemVoid || entries[1].Actor != ExpiryActor {
			t.Errorf("entries of the expired hold: %+v", entries)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 300, Redeemed: 100, Held: 100}) {
			t.Errorf("balance %+v", b)
		}
	})
}

// TestAnExpiryFromAStaleListingLeavesACapturedHold voids a hold as an
// eventually consistent index may still list it (held) after it was
// captured: the capture stays, and the balance moves once.
func TestAnExpiryFromAStaleListingLeavesACapturedHold(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		rs := h.store.(reward.RedemptionStore)
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "1", Target: reward.TargetApproved, Account: promoter7, Amount: 500, At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatal(err)
		}
		hc, err := reward.PlanRedemption(reward.RedemptionRequest{Account: promoter7, Amount: 100, Hold: true, HoldTTL: time.Minute, Key: "k", Actor: "shop", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.Redeem(t.Context(), hc); err != nil {
			t.Fatal(err)
		}
		listed := hc.After
		capture, err := reward.PlanRedemptionTransition(listed, reward.ActionCapture, "shop", t0.Add(59*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.TransitionRedemption(t.Context(), capture); err != nil {
			t.Fatal(err)
		}
		rc := &Reconciler{Processor: h.p, Redemptions: rs}
		voided, err := rc.expireHold(t.Context(), listed, t0.Add(2*time.Minute))
		if err != nil || voided {
			t.Errorf("expiry of a captured hold: voided %v, %v; want false, nil", voided, err)
		}
		if got, _ := rs.Redemption(t.Context(), listed.ID); got.Status != reward.RedemptionPosted {
			t.Errorf("status %s, want posted", got.Status)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 400, Redeemed: 100}) {
			t.Errorf("balance %+v", b)
		}
	})
}
