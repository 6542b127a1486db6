package relay

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

func TestDryRunWritesNothingAndPlansWhatTheRunDoes(t *testing.T) {
	h := newHarness(t)
	// 1: delivered by its webhook, the platform unreachable for its
	// acknowledgement: in the outbox.
	h.fpCommission(1, "approved")
	fp := fpOf(h.p)
	setFP(h.p, crashAfterLedger{fp})
	if res := h.p.Process(t.Context(), []Message{h.fpEvent("a1", "commission.updated", 1, "pending")}); len(res.Failed) > 0 {
		t.Fatal(res)
	}
	setFP(h.p, fp)
	// 2, 3: approved with their webhooks lost; 4: pending and due for the
	// approval policy; an AgentRef approval (never announced by webhook).
	h.fpCommission(2, "approved")
	h.fpCommission(3, "approved")
	h.sim.PutCommission(simulator.FPCommission{ID: 4, Status: "pending", Unit: "points", Amount: 5, PromoterID: 7, CreatedAt: t0.Add(-20 * 24 * time.Hour), FraudCheck: "no_suspicion"})
	h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 700, Status: "approved"})
	rc := h.reconciler(t)
	fpRec(rc).AutoApproveAfter = 14 * 24 * time.Hour
	fpRec(rc).Lookback = 60 * 24 * time.Hour

	before, err := h.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	calls := len(h.sim.Calls())
	dry, plan := rc.Observed(true)
	run := dry.Run(t.Context())
	if len(run.Errors) > 0 {
		t.Fatalf("dry run: %v", run.Errors)
	}

	after, err := h.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("a dry run changed the ledger:\n%+v\n%+v", before, after)
	}
	for _, c := range h.sim.Calls()[calls:] {
		if c.Method != "GET" {
			t.Errorf("a dry run called %s %s", c.Method, c.Path)
		}
	}
	for id := int64(1); id <= 4; id++ {
		if c, _ := h.sim.Commission(id); c.Fulfilled || id == 4 && c.Status != "pending" {
			t.Errorf("commission %d changed on the platform: %+v", id, c)
		}
	}
	if runs, _ := h.store.Runs(t.Context(), 10); len(runs) != 0 {
		t.Errorf("a dry run stored its summary: %+v", runs)
	}
	for _, name := range []string{"firstpromoter:approved", "firstpromoter:pending", "agentref:conversions:approved"} {
		if c, _ := h.store.Cursor(t.Context(), name); c != "" {
			t.Errorf("cursor %s moved to %q", name, c)
		}
	}

	planned := map[string]reward.Status{}
	for _, c := range plan.Changes {
		planned[c.After.ID] = c.After.Status
	}
	want := map[string]reward.Status{"1": reward.Approved, "2": reward.Approved, "3": reward.Approved, "4": reward.Pending, "c1": reward.Approved}
	if fmt.Sprint(planned) != fmt.Sprint(want) {
		t.Errorf("planned %v, want %v", planned, want)
	}
	// The deliveries it plans are acknowledged in the same run.
	fpRefs := func(ids ...string) []CommissionRef { return refs(reward.FirstPromoter, ids) }
	ack := slices.SortedFunc(slices.Values(plan.Acknowledge), func(x, y CommissionRef) int { return strings.Compare(x.ID, y.ID) })
	if !slices.Equal(ack, fpRefs("1", "2", "3")) || !slices.Equal(plan.Approve, fpRefs("4")) {
		t.Errorf("planned acknowledge %v approve %v; want [1 2 3] and [4]", ack, plan.Approve)
	}

	// The real run does what was planned, and reports the same actions.
	real, done := rc.Observed(false)
	run = real.Run(t.Context())
	if len(run.Errors) > 0 {
		t.Fatalf("run: %v", run.Errors)
	}
	for id, status := range want {
		p := reward.FirstPromoter
		if id == "c1" {
			p = reward.AgentRef
		}
		if c, err := h.store.Commission(t.Context(), p, id); err != nil || c.Status != status {
			t.Errorf("after the run, %s is %+v (%v); the plan said %s", id, c, err, status)
		}
	}
	if c, _ := h.sim.Commission(1); !c.Fulfilled {
		t.Error("the run did not acknowledge commission 1")
	}
	if c, _ := h.sim.Commission(4); c.Status != "approved" {
		t.Error("the run did not approve commission 4")
	}
	if got, want := summary(done), summary(plan); got != want {
		t.Errorf("the run did\n%s\nthe dry run planned\n%s", got, want)
	}
	if runs, _ := h.store.Runs(t.Context(), 10); len(runs) != 1 {
		t.Errorf("the run stored %d summaries, want 1", len(runs))
	}
}

// summary lists actions in a stable order.
func summary(a *Actions) string {
	var lines []string
	for _, c := range a.Changes {
		lines = append(lines, fmt.Sprintf("%s %s %s %+v", c.After.ID, c.After.Status, c.After.Fulfilment, c.Deltas()))
	}
	for _, r := range a.Acknowledge {
		lines = append(lines, fmt.Sprintf("acknowledge %s %s", r.Provider, r.ID))
	}
	for _, r := range a.Approve {
		lines = append(lines, fmt.Sprintf("approve %s %s", r.Provider, r.ID))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
