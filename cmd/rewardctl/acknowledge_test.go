package main

import (
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestRefusedAcknowledgementIsShown(t *testing.T) {
	awstest.Require(t, awstest.DynamoDBEndpoint)
	_, table := awstest.Table(t)
	sim := simulator.New()
	srv := sim.Start()
	defer srv.Close()
	sim.PutCommission(simulator.FPCommission{ID: 78, Status: "approved", Unit: "points", Amount: 250, PromoterID: 12, RewardID: 1})
	sim.FailFulfilment(78, "payout missing")
	st := emulatorState(t, table)
	st.Settings = map[string]string{
		"FIRSTPROMOTER_API_URL": simulator.FirstPromoterURL(srv.URL), "FIRSTPROMOTER_API_KEY": sim.APIKey,
		"FIRSTPROMOTER_ACCOUNT_ID": sim.AccountID, "AGENTREF_API_KEY": "",
	}
	useLocalStack(t, st)
	if out, err := rewardctl(t, "reconcile"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := rewardctl(t, "commission", "firstpromoter", "78")
	if err != nil || !strings.Contains(out, "acknowledgement: refused (payout missing), requested ") {
		t.Errorf("commission: %v\n%s", err, out)
	}
	out, err = rewardctl(t, "drift")
	if err != nil || !strings.Contains(out, "the platform refuses to mark the delivery fulfilled: payout missing") {
		t.Errorf("drift: %v\n%s", err, out)
	}
	out, err = rewardctl(t, "drift", "--json")
	if err != nil || !strings.Contains(out, `"commission_id":"78"`) {
		t.Errorf("drift --json: %v\n%s", err, out)
	}
	checkSnakeCase(t, "drift --json", out)
}
