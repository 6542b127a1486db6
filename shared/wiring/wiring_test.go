package wiring

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

func getter(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReconcilerSettings(t *testing.T) {
	p := &relay.Processor{Log: telemetry.NewLogger(&bytes.Buffer{}, "")}
	rc, err := Reconciler(getter(nil), p)
	if err != nil || rc.AutoApproveAfter != 0 || rc.Lookback != 30*24*time.Hour || rc.AgentRef != nil || rc.FirstPromoter != nil {
		t.Errorf("defaults %+v %v", rc, err)
	}
	rc, err = Reconciler(getter(map[string]string{"FIRSTPROMOTER_AUTO_APPROVE_AFTER": "336h", "RECONCILE_LOOKBACK": "48h", "AGENTREF_API_KEY": "k"}), p)
	if err != nil || rc.AutoApproveAfter != 336*time.Hour || rc.Lookback != 48*time.Hour || rc.AgentRef == nil {
		t.Errorf("set %+v %v", rc, err)
	}
	for k, v := range map[string]string{"FIRSTPROMOTER_AUTO_APPROVE_AFTER": "2 weeks", "RECONCILE_LOOKBACK": "-1h"} {
		if _, err := Reconciler(getter(map[string]string{k: v}), p); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
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
