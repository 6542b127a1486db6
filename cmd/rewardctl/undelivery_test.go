package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestAnUndeliveredCommissionIsShownWithItsReason(t *testing.T) {
	awstest.Require(t, awstest.DynamoDBEndpoint)
	client, table := awstest.Table(t)
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	sim.PutCommission(simulator.FPCommission{ID: 79, Status: "approved", Unit: "points", Amount: 250, PromoterID: 12, RewardID: 1})
	st := emulatorState(t, table)
	st.Settings = map[string]string{
		"FIRSTPROMOTER_API_URL": simulator.FirstPromoterURL(srv.URL), "FIRSTPROMOTER_API_KEY": sim.APIKey,
		"FIRSTPROMOTER_ACCOUNT_ID": sim.AccountID, "AGENTREF_API_KEY": "",
	}
	useLocalStack(t, st)
	if out, err := rewardctl(t, "reconcile"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	store := &dynamo.Store{Client: client, Table: table}
	c, err := store.Commission(t.Context(), reward.FirstPromoter, "79")
	if err != nil {
		t.Fatal(err)
	}
	change, err := reward.PlanUndelivered(c, "the voucher service refused the code", "local", c.UpdatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(t.Context(), reward.EventRecord{}, change); err != nil {
		t.Fatal(err)
	}
	out, err := rewardctl(t, "commission", "firstpromoter", "79")
	if err != nil || !strings.Contains(out, "undelivered: the voucher service refused the code\n") || !strings.Contains(out, "acknowledgement: unfulfil_requested") {
		t.Errorf("commission: %v\n%s", err, out)
	}
	out, err = rewardctl(t, "commission", "firstpromoter", "79", "--json")
	var r commissionReport
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || !r.Commission.Undelivered || r.Commission.UndeliveredReason != "the voucher service refused the code" || len(r.Violations) > 0 {
		t.Errorf("commission --json: %v\n%s", err, out)
	}
	checkSnakeCase(t, "commission --json", out)
	// The next run tells the platform, and says so; the commission too.
	if out, err := rewardctl(t, "reconcile", "--json"); err != nil || !strings.Contains(out, `"id":"79","to":"mark_unfulfilled","pending":0,"available":0,"reversed":0,"fulfilled":0,"platform_op":"mark_unfulfilled"`) {
		t.Fatalf("%v\n%s", err, out)
	}
	if p, _ := sim.Commission(79); p.Fulfilled || p.Unfulfilments != 1 {
		t.Errorf("on the platform: %+v", p)
	}
	if out, err := rewardctl(t, "commission", "firstpromoter", "79"); err != nil || !strings.Contains(out, "acknowledgement: unfulfilled") {
		t.Errorf("commission after the run: %v\n%s", err, out)
	}
}
