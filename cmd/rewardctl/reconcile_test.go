package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// otherPlatform is a platform the reconciler knows only through its ports:
// it lists nothing, and confirms every delivery it is told of.
type otherPlatform struct{}

const otherProvider reward.Provider = "otherplatform"

func (otherPlatform) Provider() reward.Provider          { return otherProvider }
func (otherPlatform) Steps() []reward.Step               { return nil }
func (otherPlatform) Chunk() (acknowledge, unfulfil int) { return 10, 10 }
func (otherPlatform) Acknowledge(_ context.Context, ids []string) (*reward.Settlement, error) {
	s := reward.NewSettlement()
	for _, id := range ids {
		s.Acknowledged[id] = true
	}
	return s, nil
}

// A dry run names the platform it would tell of each delivery.
func TestReconcileReportNamesThePlatformOfEachAcknowledgement(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	store := fake.NewStore()
	acct := reward.Account{Provider: otherProvider, Recipient: reward.Affiliate("x"), Unit: reward.Points}
	c, err := reward.Plan(nil, reward.Intent{Provider: otherProvider, CommissionID: "c1", Target: reward.TargetApproved, Account: acct, Amount: 40, Acknowledge: true, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
		t.Fatal(err)
	}
	p := &relay.Processor{Store: store, Config: relay.DefaultConfig(), Log: telemetry.NewLogger(&bytes.Buffer{}, "ERROR"), Now: func() time.Time { return at }}
	rc := &relay.Reconciler{Processor: p, Platforms: []reward.Reconcilable{otherPlatform{}}}
	dry, acts := rc.Observed(true)
	if run := dry.Run(t.Context()); len(run.Errors) > 0 {
		t.Fatalf("run: %v", run.Errors)
	}
	var told []actionReport
	for _, r := range reportActions(acts) {
		if r.PlatformOp != "" {
			told = append(told, r)
		}
	}
	if len(told) != 1 || told[0].ID != "c1" || told[0].Provider != otherProvider {
		t.Errorf("platform actions %+v, want c1 told to %s", told, otherProvider)
	}
}
