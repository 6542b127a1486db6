package relay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// TestTheReconcilerBoundsFirstPromoterListsByCreationDate runs the
// reconciler against a platform that, as its documentation says, takes
// filters[created_at][from] as a date and refuses a datetime: the lists are
// read, and a commission created before the lookback's first day is not.
func TestTheReconcilerBoundsFirstPromoterListsByCreationDate(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		recent := h.fpCommission(1, "approved")
		recent.CreatedAt = t0.Add(-29 * 24 * time.Hour)
		h.sim.PutCommission(recent)
		old := h.fpCommission(2, "approved")
		old.CreatedAt = t0.Add(-32 * 24 * time.Hour)
		h.sim.PutCommission(old)
		rc := h.reconciler(t)
		run := rc.Run(t.Context())
		if !run.Complete || len(run.Errors) > 0 {
			t.Fatalf("run: complete %v, errors %v", run.Complete, run.Errors)
		}
		if b := h.balance(t, promoter7); b.Available != 500 {
			t.Errorf("available %d, want 500: the commission of 29 days ago only", b.Available)
		}
		for _, c := range h.sim.Calls() {
			if c.Status >= 400 {
				t.Errorf("%s %s?%s answered %d", c.Method, c.Path, c.Query, c.Status)
			}
		}
	})
}

// TestTheReconcilerPollsOnlyTheBatchesThatAreOver asks the progress of the
// running batches in one request and polls a batch only once it is over.
func TestTheReconcilerPollsOnlyTheBatchesThatAreOver(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		now := t0
		h.sim.Now = func() time.Time { return now }
		h.sim.BatchDuration = time.Hour
		for batch := range 3 {
			var msgs []Message
			for i := range 6 {
				id := int64(100 + 10*batch + i)
				h.fpCommission(id, "approved")
				msgs = append(msgs, h.fpEvent(fmt.Sprintf("e%d", id), "commission.updated", id, "pending"))
			}
			if res := h.p.Process(t.Context(), msgs); len(res.Failed) > 0 {
				t.Fatalf("batch %d: %+v", batch, res)
			}
		}
		if n := h.sim.CallCount("POST /firstpromoter/api/v2/company/commissions/mark_fulfilled"); n != 3 {
			t.Fatalf("%d acknowledgements, want 3 asynchronous batches", n)
		}
		rc := h.reconciler(t)
		polls := func() int { return h.sim.CallCount("GET /firstpromoter/api/v2/company/batch_processes") }
		if run := rc.Run(t.Context()); len(run.Errors) > 0 {
			t.Fatalf("run while the batches run: %v", run.Errors)
		}
		if n := polls(); n != 1 {
			t.Errorf("%d batch requests while 3 batches run, want 1 (their progress)", n)
		}
		now = now.Add(2 * time.Hour)
		if run := rc.Run(t.Context()); len(run.Errors) > 0 {
			t.Fatalf("run once the batches are over: %v", run.Errors)
		}
		if n := polls(); n != 1+1+3 {
			t.Errorf("%d batch requests in all, want 5: the progress twice, then each batch once it is over", n)
		}
		if b := h.balance(t, promoter7); b.Fulfilled != 18*500 {
			t.Errorf("fulfilled %d, want %d", b.Fulfilled, 18*500)
		}
	})
}

var affiliateA1 = reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}

// TestAgentRefAmountsAreNumbersReadAsCents reads the REST commission as the
// SDKs type it, a number: an integral decimal is that many cents, and a
// value with a fraction of a cent is drift of its row while the rest of
// its page is applied.
func TestAgentRefAmountsAreNumbersReadAsCents(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", CommissionNumber: "700.0", Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", CommissionNumber: "12.5", Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c3", AffiliateID: "a1", CommissionNumber: "3e2", Status: "approved"})
		h.sim.PutPayout(simulator.Payout{ID: "p1", AffiliateID: "a1", Amount: 100, Status: "completed"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		run := rc.Run(t.Context())
		if len(run.Errors) > 0 {
			t.Fatalf("run errors: %v", run.Errors)
		}
		if b := h.balance(t, affiliateA1); b != (reward.Deltas{Available: 700 + 300 - 100}) {
			t.Errorf("a1: %+v, want c1 and c3 delivered and p1 debited", b)
		}
		if len(run.Drift) != 1 || run.Drift[0].CommissionID != "c2" || !strings.Contains(run.Drift[0].Problem, "GET /conversions: commission") || !strings.Contains(run.Drift[0].Problem, "12.5") {
			t.Errorf("drift %+v, want c2's commission of 12.5 named", run.Drift)
		}
	})
}

// TestARefusedConversionStatusDoesNotStopTheOthers lists every conversion
// status on its own: an API that refuses a status filter (one it does not
// know yet) costs that status's list, not the ones after it.
func TestARefusedConversionStatusDoesNotStopTheOthers(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.sim.RefuseConversionStatus("paid")
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", CommissionAmount: 700, Status: "approved"})
		h.sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", CommissionAmount: 300, Status: "partially_refunded"})
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		run := rc.Run(t.Context())
		if b := h.balance(t, affiliateA1); b.Available != 700+300 {
			t.Errorf("a1: %+v, want the approved and the partially refunded conversions delivered", b)
		}
		if len(run.Errors) != 1 || !strings.Contains(run.Errors[0], "agentref conversions paid") {
			t.Errorf("errors %v, want the refused paid list only", run.Errors)
		}
	})
}

// TestAgentRefListsPageByNumberWithoutCursors follows meta.nextCursor
// when the API gives one and otherwise asks page+1 while meta.hasMore.
func TestAgentRefListsPageByNumberWithoutCursors(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.sim.OmitNextCursors(true)
		for i := range 150 {
			h.sim.PutConversion(simulator.Conversion{ID: fmt.Sprintf("c%03d", i), AffiliateID: "a1", CommissionAmount: 1, Status: "approved"})
		}
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		if run := rc.Run(t.Context()); len(run.Errors) > 0 {
			t.Fatalf("run errors: %v", run.Errors)
		}
		if b := h.balance(t, affiliateA1); b.Available != 150 {
			t.Errorf("a1: %d delivered, want 150 (two pages)", b.Available)
		}
	})
}

// TestAListCutShortIsInTheRunSummary makes a list say more rows follow and
// send none: the run counts it, names it in its errors, and holds are not
// compared with a set it could not read whole.
func TestAListCutShortIsInTheRunSummary(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.sim.CutListsShort(100)
		for i := range 150 {
			h.sim.PutConversion(simulator.Conversion{ID: fmt.Sprintf("c%03d", i), AffiliateID: "a1", CommissionAmount: 1, Status: "approved"})
		}
		rc := h.reconciler(t)
		dropPlatform(rc, reward.FirstPromoter)
		run := rc.Run(t.Context())
		if run.Counts[CountCutShort] != 1 {
			t.Errorf("%s = %d, want 1", CountCutShort, run.Counts[CountCutShort])
		}
		found := false
		for _, e := range run.Errors {
			found = found || strings.Contains(e, "agentref conversions approved") && strings.Contains(e, "more rows follow but sent none")
		}
		if !found {
			t.Errorf("errors %v, want the approved conversions' list named as cut short", run.Errors)
		}
		if b := h.balance(t, affiliateA1); b.Available != 100 {
			t.Errorf("a1: %d delivered, want the 100 rows sent", b.Available)
		}
	})
}

// TestAPlatformAnswerThatBreaksItsContractIsANamedCountedError makes the
// simulator answer rows without a field rewardrelay relies on, or with it
// mistyped: the processor and the reconciler apply nothing from them, and
// say which endpoint and field broke, with AgentRef's request id, in a
// counted error, never reading a zero value.
func TestAPlatformAnswerThatBreaksItsContractIsANamedCountedError(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.fpCommission(1, "approved")
		h.sim.BreakRows("/commissions", "amount", simulator.Missing)
		res := h.p.Process(t.Context(), []Message{h.fpEvent("e1", "commission.approved", 1, "pending")})
		if res.Counts[CountApplied] != 0 || res.Counts[CountContractBroken] != 1 {
			t.Fatalf("counts %v: want nothing applied and one contract break", res.Counts)
		}
		if logs := h.logs.String(); !strings.Contains(logs, "GET /commissions: answer field amount is missing") {
			t.Errorf("logs name no endpoint and field:\n%s", logs)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
			t.Errorf("balance %+v, want none", b)
		}

		h.sim.BreakRows("/commissions", "amount", nil)
		h.sim.BreakRows("/commissions", "status", 7)
		h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Amount: 10000, CommissionAmount: 1000, Status: "approved", CreatedAt: t0})
		h.sim.BreakRows("/conversions", "affiliateId", simulator.Missing)
		run := h.reconciler(t).Run(t.Context())
		if got := run.Counts[CountContractBroken]; got < 2 {
			t.Errorf("%d contract breaks counted, want the FirstPromoter and the AgentRef list's; errors %v", got, run.Errors)
		}
		errs := strings.Join(run.Errors, "\n")
		for _, want := range []string{"GET /commissions: answer field status is a JSON number", "GET /conversions (request req_sim_", "answer field affiliateId is missing"} {
			if !strings.Contains(errs, want) {
				t.Errorf("run errors lack %q:\n%s", want, errs)
			}
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
			t.Errorf("promoter balance %+v, want none", b)
		}
		if b := h.balance(t, reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(""), Unit: reward.Cash, Currency: "usd"}); b != (reward.Deltas{}) {
			t.Errorf("an affiliate without id was credited: %+v", b)
		}
	})
}
