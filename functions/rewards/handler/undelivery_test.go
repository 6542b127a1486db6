package handler

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
)

// acknowledge books FirstPromoter's acknowledgement of a delivery, as the
// processor does when the platform confirms it.
func (a *api) acknowledge(t *testing.T, id string) {
	t.Helper()
	c, err := a.store.Commission(t.Context(), reward.FirstPromoter, id)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := reward.Acknowledge(c, "", start)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.Apply(t.Context(), reward.EventRecord{}, ack); err != nil {
		t.Fatal(err)
	}
}

func (a *api) delivery(t *testing.T, route, provider, id, body string) answer {
	t.Helper()
	return a.call(t, route, map[string]string{"provider": provider, "id": id}, "", nil, body)
}

func (a *api) audit(t *testing.T) {
	t.Helper()
	l, err := a.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
}

func (a *api) available(t *testing.T, r reward.Recipient) int64 {
	t.Helper()
	bs, err := a.store.RecipientBalances(t.Context(), r)
	if err != nil || len(bs) != 1 {
		t.Fatalf("balances %+v %v", bs, err)
	}
	return bs[0].Available
}

func TestAFailedDeliveryLeavesAvailableUntilTheRewardIsRedelivered(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "41001", 500)
		a.acknowledge(t, "41001")
		reason := `{"reason":"the gift card service refused the code"}`
		got := a.delivery(t, rewardsapi.RouteDeliveryFailed, "firstpromoter", "41001", reason)
		want(t, got, 202)
		if got.body["delivery"] != "undelivered" || got.body["reason"] != "the gift card service refused the code" || got.body["acknowledgement"] != "unfulfil_requested" {
			t.Errorf("answer %s", got.raw)
		}
		if n := a.available(t, reward.Promoter("801")); n != 0 {
			t.Errorf("available %d after the failure, want 0", n)
		}
		// A repeat: the same state, 200, nothing written twice.
		again := a.delivery(t, rewardsapi.RouteDeliveryFailed, "firstpromoter", "41001", reason)
		want(t, again, 200)
		if again.body["delivery"] != "undelivered" {
			t.Errorf("repeat %s", again.raw)
		}
		entries := a.call(t, rewardsapi.RouteEntries, map[string]string{"recipient": "promoter:801"}, "", nil, "")
		first := entries.body["entries"].([]any)[0].(map[string]any)
		if first["kind"] != "undelivered" || first["actor"] != shop || first["amount"] != float64(500) || first["commission_id"] != "41001" {
			t.Errorf("newest entry %v", first)
		}
		got = a.delivery(t, rewardsapi.RouteRedeliver, "firstpromoter", "41001", "")
		want(t, got, 202)
		if got.body["delivery"] != "delivered" || got.body["reason"] != nil || got.body["acknowledgement"] != "requested" {
			t.Errorf("redelivered %s", got.raw)
		}
		want(t, a.delivery(t, rewardsapi.RouteRedeliver, "firstpromoter", "41001", ""), 200)
		if n := a.available(t, reward.Promoter("801")); n != 500 {
			t.Errorf("available %d after the redelivery, want 500", n)
		}
		a.audit(t)
	})
}

func TestARedeemedRewardCannotFailItsDelivery(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "41001", 500)
		want(t, a.redeem(t, "promoter:801", "k1", `{"provider":"firstpromoter","unit":"points","amount":200}`), 201)
		got := a.delivery(t, rewardsapi.RouteDeliveryFailed, "firstpromoter", "41001", `{"reason":"x"}`)
		want(t, got, 409)
		if got.body["available"] != float64(300) {
			t.Errorf("answer %s, want available 300", got.raw)
		}
		a.audit(t)
	})
}

func TestDeliveryOfUnknownOrUndeliveredCommissions(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("801"), Unit: reward.Points}
		for id, target := range map[string]reward.Target{"1": reward.TargetPending, "2": reward.TargetDenied} {
			c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, Target: target, Account: acct, Amount: 10, At: start})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
				t.Fatal(err)
			}
		}
		for _, route := range []string{rewardsapi.RouteDeliveryFailed, rewardsapi.RouteRedeliver} {
			want(t, a.delivery(t, route, "firstpromoter", "404", `{"reason":"x"}`), 404)
			want(t, a.delivery(t, route, "stripe", "1", `{"reason":"x"}`), 404)
			got := a.delivery(t, route, "firstpromoter", "1", `{"reason":"x"}`)
			if want(t, got, 409); got.body["error"] != "commission 1 is pending, not delivered" {
				t.Errorf("%s of a pending commission: %s", route, got.raw)
			}
			want(t, a.delivery(t, route, "firstpromoter", "2", `{"reason":"x"}`), 409)
		}
		for _, body := range []string{``, `[]`, `{}`, `{"reason":""}`, `{"reason":7}`, `{"reason":"x","extra":1}`} {
			got := a.delivery(t, rewardsapi.RouteDeliveryFailed, "firstpromoter", "1", body)
			want(t, got, 400)
		}
	})
}

func TestAnAgentRefDeliveryFailsInTheLedgerOnly(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.AgentRef, CommissionID: "conv_1", Target: reward.TargetApproved, Account: acct, Amount: 2580, At: start})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatal(err)
		}
		got := a.delivery(t, rewardsapi.RouteDeliveryFailed, "agentref", "conv_1", `{"reason":"x"}`)
		if want(t, got, 200); got.body["acknowledgement"] != nil || got.body["delivery"] != "undelivered" {
			t.Errorf("answer %s", got.raw)
		}
		want(t, a.delivery(t, rewardsapi.RouteRedeliver, "agentref", "conv_1", ""), 200)
		a.audit(t)
	})
}
