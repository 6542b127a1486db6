package wiring

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

func getter(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReconcilerSettings(t *testing.T) {
	p := &relay.Processor{Log: telemetry.NewLogger(&bytes.Buffer{}, "")}
	rc, err := Reconciler(getter(nil), p)
	if err != nil || len(rc.Platforms) != 0 {
		t.Errorf("defaults %+v %v", rc, err)
	}
	p.Platforms = Platforms(firstpromoter.DefaultRules(), &firstpromoter.Client{})
	rc, err = Reconciler(getter(nil), p)
	if fp := fpOf(rc); err != nil || fp == nil || fp.AutoApproveAfter != 0 || fp.Lookback != 30*24*time.Hour || len(rc.Platforms) != 1 {
		t.Errorf("FirstPromoter's defaults %+v %v", rc, err)
	}
	rc, err = Reconciler(getter(map[string]string{"FIRSTPROMOTER_AUTO_APPROVE_AFTER": "336h", "RECONCILE_LOOKBACK": "48h", "AGENTREF_API_KEY": "k"}), p)
	if fp := fpOf(rc); err != nil || fp == nil || fp.AutoApproveAfter != 336*time.Hour || fp.Lookback != 48*time.Hour || len(rc.Platforms) != 2 {
		t.Errorf("set %+v %v", rc, err)
	}
	if _, ok := rc.Platforms[1].(*agentref.Reconciliation); !ok {
		t.Errorf("platforms %+v, want AgentRef after FirstPromoter", rc.Platforms)
	}
	for k, v := range map[string]string{"FIRSTPROMOTER_AUTO_APPROVE_AFTER": "2 weeks", "RECONCILE_LOOKBACK": "-1h"} {
		if _, err := Reconciler(getter(map[string]string{k: v}), p); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// fpOf is rc's FirstPromoter reconciliation; nil without one.
func fpOf(rc *relay.Reconciler) *firstpromoter.Reconciliation {
	for _, pl := range rc.Platforms {
		if fp, ok := pl.(*firstpromoter.Reconciliation); ok {
			return fp
		}
	}
	return nil
}

func TestProcessor(t *testing.T) {
	logs := &bytes.Buffer{}
	log := telemetry.NewLogger(logs, "")
	if _, err := Processor(getter(nil), nil, "", log); err != ErrNoTable {
		t.Errorf("no table: %v", err)
	}
	p, err := Processor(getter(nil), nil, "ledger", log)
	if err != nil || firstPromoterClient(p) != nil || !strings.Contains(logs.String(), "FIRSTPROMOTER_API_KEY") {
		t.Errorf("no account: %+v %v %s", p, err, logs)
	}
	p, err = Processor(getter(map[string]string{"FIRSTPROMOTER_API_KEY": "k", "FIRSTPROMOTER_ACCOUNT_ID": "a", "IDEMPOTENCY_TTL": "72h"}), nil, "ledger", log)
	if err != nil || firstPromoterClient(p) == nil || p.Config.IdempotencyTTL != 72*time.Hour {
		t.Errorf("configured: %+v %v", p, err)
	}
	if _, err := Processor(getter(map[string]string{"FIRSTPROMOTER_UNITS": "cash"}), nil, "ledger", log); err == nil {
		t.Error("cash accepted as a unit")
	}
}

// TestFirstPromoterRulesReachTheProcessorAndTheReconciler: the units and
// referral rewards configured are the ones both read commissions with.
func TestFirstPromoterRulesReachTheProcessorAndTheReconciler(t *testing.T) {
	get := getter(map[string]string{"FIRSTPROMOTER_API_KEY": "k", "FIRSTPROMOTER_ACCOUNT_ID": "a", "FIRSTPROMOTER_UNITS": "credits", "FIRSTPROMOTER_REFERRAL_REWARD_IDS": "12"})
	p, err := Processor(get, nil, "ledger", telemetry.NewLogger(&bytes.Buffer{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Reconciler(get, p)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]firstpromoter.Rules{"processor": firstPromoter(p).Rules, "reconciler": fpOf(rc).Rules} {
		if !r.Delivers(reward.Credits) || r.Delivers(reward.Points) || !r.ReferralRewardIDs[12] {
			t.Errorf("%s's rules %+v, want credits only and referral reward 12", name, r)
		}
	}
}
