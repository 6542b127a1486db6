package relay

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// reconciler wires a reconciler to the harness's store and simulator.
func (h *harness) reconciler(t testing.TB) *Reconciler {
	t.Helper()
	fp := fpOf(h.p).(*firstpromoter.Client)
	base := fp.BaseURL[:len(fp.BaseURL)-len("/firstpromoter/api/v2/company")]
	ar := &agentref.Client{BaseURL: simulator.AgentRefURL(base), APIKey: h.sim.AgentKey, Sleep: func(context.Context, time.Duration) error { return nil }}
	return &Reconciler{Processor: h.p, Platforms: []reward.Reconcilable{
		&firstpromoter.Reconciliation{API: fp, Rules: rules(), Lookback: 30 * 24 * time.Hour},
		&agentref.Reconciliation{API: ar, Currency: agentref.DefaultCurrency},
	}}
}

// ReconcileFirstPromoterAPI and AgentRefAPI are what the reconciler asks
// of the platforms, as tests wrap them.
type (
	ReconcileFirstPromoterAPI = firstpromoter.ReconcileAPI
	AgentRefAPI               = agentref.ReconcileAPI
)

// fpRec is rc's FirstPromoter reconciliation; nil without one.
func fpRec(rc *Reconciler) *firstpromoter.Reconciliation {
	for _, pl := range rc.Platforms {
		if fp, ok := pl.(*firstpromoter.Reconciliation); ok {
			return fp
		}
	}
	return nil
}

// arRec is rc's AgentRef reconciliation; nil without one.
func arRec(rc *Reconciler) *agentref.Reconciliation {
	for _, pl := range rc.Platforms {
		if ar, ok := pl.(*agentref.Reconciliation); ok {
			return ar
		}
	}
	return nil
}

// setRecFP has rc reconcile FirstPromoter through api, on a platform of
// rc's own: a copy of rc made before keeps its client.
func setRecFP(rc *Reconciler, api ReconcileFirstPromoterAPI) {
	rc.Platforms = swapped(rc.Platforms, func(c *firstpromoter.Reconciliation) { c.API = api })
}

// setRecAR has rc reconcile AgentRef through api, as setRecFP does.
func setRecAR(rc *Reconciler, api AgentRefAPI) {
	rc.Platforms = swapped(rc.Platforms, func(c *agentref.Reconciliation) { c.API = api })
}

// dropPlatform has rc no longer reconcile the provider's platform.
func dropPlatform(rc *Reconciler, p reward.Provider) {
	rc.Platforms = slices.DeleteFunc(slices.Clone(rc.Platforms), func(pl reward.Reconcilable) bool { return pl.Provider() == p })
}

func TestReconcileRepairsMissedFirstPromoterWebhooks(t *testing.T) {
	h := newHarness(t)
	// Known to the ledger as pending, then denied with the webhook lost.
	h.fpCommission(1, "pending")
	if res := h.p.Process(t.Context(), []Message{h.fpEvent("c1", "commission.created", 1, "")}); len(res.Failed) > 0 {
		t.Fatal(res)
	}
	h.sim.SetStatus(1, "denied")
	// Never seen: eight approved (an asynchronous acknowledgement), one pending.
	for id := int64(10); id < 18; id++ {
		h.fpCommission(id, "approved")
	}
	h.fpCommission(20, "pending")
	rc := h.reconciler(t)

	run := rc.Run(t.Context())
	if !run.Complete || len(run.Errors) > 0 {
		t.Fatalf("run: %+v", run)
	}
	if b := h.balance(t, promoter7); b.Available != 8*500 || b.Pending != 500 {
		t.Errorf("after one run: %+v, want 8 deliveries and one pending credit (the denied one voided)", b)
	}
	// The acknowledgement of 8 ids ran as a platform batch: the second run
	// polls it and records the fulfilment.
	run = rc.Run(t.Context())
	if b := h.balance(t, promoter7); b != (reward.Deltas{Pending: 500, Available: 4000, Fulfilled: 4000}) {
		t.Errorf("after the second run: %+v (run %+v)", b, run.Counts)
	}
	for id := int64(10); id < 18; id++ {
		if c, _ := h.sim.Commission(id); !c.Fulfilled {
			t.Errorf("commission %d not fulfilled on the platform", id)
		}
	}
	if out, _ := h.store.Outbox(t.Context(), reward.FirstPromoter, 100); len(out) != 0 {
		t.Errorf("outbox still holds %d", len(out))
	}
	// A third run changes nothing.
	before := h.balance(t, promoter7)
	run = rc.Run(t.Context())
	if after := h.balance(t, promoter7); after != before || run.Counts[CountApplied] != 0 {
		t.Errorf("an idle run changed the ledger: %+v -> %+v (%+v)", before, after, run.Counts)
	}
	runs, err := h.store.Runs(t.Context(), 10)
	if err != nil || len(runs) != 3 {
		t.Errorf("run summaries: %d, %v", len(runs), err)
	}
}

func TestReconcileReportsRefusedAcknowledgementsAndDrift(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "approved")
	h.fpCommission(2, "approved")
	h.sim.FailFulfilment(2, "payout not found")
	// Fulfilled on the platform, but the ledger never delivered it.
	c := h.fpCommission(3, "approved")
	h.sim.PutCommission(c)
	if _, err := fpOf(h.p).MarkFulfilled(t.Context(), []int64{3}); err != nil {
		t.Fatal(err)
	}
	rc := h.reconciler(t)
	run := rc.Run(t.Context())
	if _, ok := run.Counts[GaugeOutboxAge]; !ok {
		t.Errorf("the run did not measure the outbox's age: %+v", run.Counts)
	}
	stored, _ := h.store.Commission(t.Context(), reward.FirstPromoter, "2")
	if stored.Fulfilment != reward.Refused || stored.FulfilmentError != "payout not found" {
		t.Errorf("commission 2: %+v", stored)
	}
	drift := func(run reward.Run) map[string]string {
		out := map[string]string{}
		for _, d := range run.Drift {
			out[d.CommissionID] = d.Problem
		}
		return out
	}
	if d := drift(run); d["3"] == "" || d["2"] != "the platform refuses to mark the delivery fulfilled: payout not found" {
		t.Errorf("drift %+v, want commissions 2 and 3", run.Drift)
	}
	if _, err := h.store.Commission(t.Context(), reward.FirstPromoter, "3"); err == nil {
		t.Error("drift was credited")
	}
	// The refusal is out of the retry loop, and reported each run while
	// the platform lists the commission approved and unfulfilled.
	posts := h.sim.CallCount("POST")
	run = rc.Run(t.Context())
	if n := h.sim.CallCount("POST"); n != posts || run.Counts[CountAckRefused] != 0 {
		t.Errorf("second run sent %d mark_fulfilled: %+v", n-posts, run.Counts)
	}
	if d := drift(run); d["2"] == "" {
		t.Errorf("second run: drift %+v, want commission 2", run.Drift)
	}
	// Fulfilled on the platform by hand: the next run books it.
	h.sim.FailFulfilment(2, "")
	if _, err := fpOf(h.p).MarkFulfilled(t.Context(), []int64{2}); err != nil {
		t.Fatal(err)
	}
	run = rc.Run(t.Context())
	if run.Counts[CountAcknowledged] != 1 {
		t.Errorf("third run: %+v", run.Counts)
	}
	if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 1000, Fulfilled: 1000}) {
		t.Errorf("balance %+v", b)
	}
}

func TestReconcileAgentRef(t *testing.T) {
	h := newHarness(t)
	aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	held := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Unit: reward.Cash, Currency: "usd"}
	// Pending via webhook, then rejected (no webhook for that).
	res := h.p.Process(t.Context(), []Message{
		h.arEvent(t, "m1", "conversion.created", map[string]any{"id": "c1", "affiliateId": "a1", "currency": "usd", "commissionAmount": 1000, "status": "pending"}),
		h.arEvent(t, "m2", "affiliate.blocked", map[string]any{"id": "a2", "status": "blocked"}),
	})
	if len(res.Failed) > 0 {
		t.Fatal(res)
	}
	h.sim.PutAffiliate(simulator.Affiliate{ID: "a2", Status: "blocked"})
	h.sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", Currency: "usd", CommissionAmount: 1000, Status: "rejected"})
	h.sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", Currency: "usd", CommissionAmount: 700, Status: "approved"})
	h.sim.PutConversion(simulator.Conversion{ID: "c3", AffiliateID: "a1", Currency: "usd", CommissionAmount: 300, Status: "partially_refunded"})
	h.sim.PutConversion(simulator.Conversion{ID: "c4", AffiliateID: "a2", Currency: "usd", CommissionAmount: 900, Status: "approved"})
	h.sim.PutPayout(simulator.Payout{ID: "p1", AffiliateID: "a1", Amount: 200, Status: "completed"})
	rc := h.reconciler(t)
	dropPlatform(rc, reward.FirstPromoter)
	run := rc.Run(t.Context())
	if len(run.Errors) > 0 {
		t.Fatalf("run: %+v", run)
	}
	// c1 voided; c2 posted (its created webhook was lost); c3 partially
	// refunded before the ledger ever saw it: approved, its remaining 300
	// delivered; c4 held; payout 200 debited.
	if b := h.balance(t, aff); b != (reward.Deltas{Available: 700 + 300 - 200}) {
		t.Errorf("a1: %+v", b)
	}
	if b := h.balance(t, held); b != (reward.Deltas{Pending: 900}) {
		t.Errorf("a2 (held): %+v", b)
	}
	again := rc.Run(t.Context())
	if again.Counts[CountApplied] != 0 {
		t.Errorf("second run applied %d", again.Counts[CountApplied])
	}
}

func TestApprovalPolicy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after time.Duration
		want  []int64
	}{
		{"off by default", 0, nil},
		{"only old and unsuspicious", 14 * 24 * time.Hour, []int64{1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			old := t0.Add(-20 * 24 * time.Hour)
			h.sim.PutCommission(simulator.FPCommission{ID: 1, Status: "pending", Unit: "points", Amount: 5, PromoterID: 7, CreatedAt: old, FraudCheck: "no_suspicion"})
			h.sim.PutCommission(simulator.FPCommission{ID: 2, Status: "pending", Unit: "points", Amount: 5, PromoterID: 7, CreatedAt: old, FraudCheck: "same_ip_suspicion"})
			h.sim.PutCommission(simulator.FPCommission{ID: 3, Status: "pending", Unit: "points", Amount: 5, PromoterID: 7, CreatedAt: t0.Add(-time.Hour), FraudCheck: "no_suspicion"})
			h.sim.PutCommission(simulator.FPCommission{ID: 4, Status: "pending", Unit: "cash", Amount: 5, PromoterID: 7, CreatedAt: old, FraudCheck: "no_suspicion"})
			rc := h.reconciler(t)
			fpRec(rc).AutoApproveAfter = tt.after
			fpRec(rc).Lookback = 60 * 24 * time.Hour
			rc.Run(t.Context())
			var approved []int64
			for id := int64(1); id <= 4; id++ {
				if c, _ := h.sim.Commission(id); c.Status == "approved" {
					approved = append(approved, id)
				}
			}
			if fmt.Sprint(approved) != fmt.Sprint(tt.want) {
				t.Errorf("approved %v, want %v", approved, tt.want)
			}
		})
	}
}

func TestReconcilePaginationEdgesAndResume(t *testing.T) {
	for _, n := range []int{100, 101, 250} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			h := newHarness(t)
			clock := slowLedger(h, 20*time.Millisecond)
			for id := int64(1); id <= int64(n); id++ {
				h.sim.PutCommission(simulator.FPCommission{ID: id, Status: "pending", Unit: "points", Amount: 1, PromoterID: 7, CreatedAt: clock.Now().Add(time.Duration(id-int64(n)) * time.Second)})
			}
			rc := h.reconciler(t)
			dropPlatform(rc, reward.AgentRef)
			// A deadline that leaves room for part of the first page.
			rc.Margin = 5 * time.Second
			ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(rc.Margin+time.Second))
			defer cancel()
			first := rc.Run(ctx)
			// The approved list's empty page, then part of the pending list's first.
			if first.Complete || first.Counts[CountPages] != 2 || first.Counts[CountListed] == 0 || first.Counts[CountListed] >= firstpromoter.MaxPerPage {
				t.Fatalf("first run: complete %v, pages %d, rows %d; want a stop inside the first pending page", first.Complete, first.Counts[CountPages], first.Counts[CountListed])
			}
			rc.Margin = 0
			for i := 0; i < 5; i++ {
				if rc.Run(t.Context()).Complete {
					break
				}
			}
			if b := h.balance(t, promoter7); b.Pending != int64(n) {
				t.Errorf("pending %d, want %d", b.Pending, n)
			}
		})
	}
}

func TestTwoRunsAtOnceChangeNothingTwice(t *testing.T) {
	h := newHarness(t)
	for id := int64(1); id <= 30; id++ {
		status := []string{"pending", "approved", "denied"}[id%3]
		h.fpCommission(id, status)
	}
	rc := h.reconciler(t)
	dropPlatform(rc, reward.AgentRef)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); rc.Run(t.Context()) }()
	}
	wg.Wait()
	rc.Run(t.Context()) // polls any batch either run started
	if b := h.balance(t, promoter7); b.Pending != 10*500 || b.Available != 10*500 || b.Fulfilled != 10*500 {
		t.Errorf("balance %+v, want 10 pending and 10 delivered once, acknowledged", b)
	}
}

func TestReconcileSurvives429Storms(t *testing.T) {
	h := newHarness(t)
	h.fpCommission(1, "approved")
	h.sim.InjectFaults(simulator.Fault{Status: 429, RetryAfter: "1"}, simulator.Fault{Status: 429}, simulator.Fault{Status: 503})
	rc := h.reconciler(t)
	dropPlatform(rc, reward.AgentRef)
	run := rc.Run(t.Context())
	if len(run.Errors) > 0 || run.Counts[CountDelivered] != 1 || run.Counts[CountAcknowledged] != 1 {
		t.Errorf("run through a 429 storm: %+v", run)
	}
}

// repeatingPages hands every page to the reconciler twice, as a platform
// that serves a page again (a retry, a shifted offset) would.
type repeatingPages struct{ ReconcileFirstPromoterAPI }

func (r repeatingPages) ListCommissions(ctx context.Context, filters url.Values, from int, fn func(int, []firstpromoter.Commission) (bool, error)) (int, error) {
	return r.ReconcileFirstPromoterAPI.ListCommissions(ctx, filters, from, func(page int, rows []firstpromoter.Commission) (bool, error) {
		if _, err := fn(page, rows); err != nil {
			return false, err
		}
		return fn(page, rows)
	})
}

func TestReconcileARepeatedPageChangesNothingTwice(t *testing.T) {
	h := newHarness(t)
	for id := int64(1); id <= 150; id++ {
		status := "approved"
		if id%2 == 0 {
			status = "pending"
		}
		h.fpCommission(id, status)
	}
	rc := h.reconciler(t)
	dropPlatform(rc, reward.AgentRef)
	setRecFP(rc, repeatingPages{fpRec(rc).API})
	rc.Run(t.Context())
	rc.Run(t.Context())
	if b := h.balance(t, promoter7); b != (reward.Deltas{Pending: 75 * 500, Available: 75 * 500, Fulfilled: 75 * 500}) {
		t.Errorf("balance %+v, want 75 pending and 75 delivered once", b)
	}
}
