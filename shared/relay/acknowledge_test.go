package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// approvals puts approved commissions on the platform and returns their
// approval events.
func (h *harness) approvals(ids ...int64) []Message {
	var msgs []Message
	for _, id := range ids {
		h.fpCommission(id, "approved")
		msgs = append(msgs, h.fpEvent("approved-"+strconv.FormatInt(id, 10), "commission.updated", id, "pending"))
	}
	return msgs
}

func span(from, to int64) []int64 {
	var ids []int64
	for id := from; id <= to; id++ {
		ids = append(ids, id)
	}
	return ids
}

// fulfilment returns the ledger's view of a commission's acknowledgement.
func (h *harness) fulfilment(t *testing.T, id int64) reward.Commission {
	t.Helper()
	c, err := h.store.Commission(t.Context(), reward.FirstPromoter, strconv.FormatInt(id, 10))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkAcknowledged checks that exactly the want ids are acknowledged in the
// ledger, and that the platform shows each of them fulfilled.
func (h *harness) checkAcknowledged(t *testing.T, ids []int64, want ...int64) {
	t.Helper()
	acked := map[int64]bool{}
	for _, id := range want {
		acked[id] = true
	}
	for _, id := range ids {
		c := h.fulfilment(t, id)
		if got := c.Fulfilment == reward.Acknowledged; got != acked[id] {
			t.Errorf("commission %d: fulfilment %q (%s), want acknowledged %v", id, c.Fulfilment, c.FulfilmentError, acked[id])
		}
		if p, _ := h.sim.Commission(id); acked[id] && !p.Fulfilled {
			t.Errorf("commission %d is not fulfilled on the platform", id)
		}
	}
	if b := h.balance(t, promoter7); b.Fulfilled != int64(len(want))*500 {
		t.Errorf("fulfilled balance %d, want %d", b.Fulfilled, len(want)*500)
	}
}

func TestPartlyFailedMarkFulfilledBooksOnlyWhatThePlatformConfirms(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 3)
		h.sim.FailFulfilment(2, "payout missing")
		res := h.p.Process(t.Context(), h.approvals(ids...))
		if res.Counts[CountAcknowledged] != 2 || res.Counts[CountAckRefused] != 1 || len(res.Failed) != 0 {
			t.Errorf("counts %+v", res)
		}
		h.checkAcknowledged(t, ids, 1, 3)
		if c := h.fulfilment(t, 2); c.Fulfilment != reward.Refused || c.FulfilmentError != "payout missing" {
			t.Errorf("commission 2: %q %q, want the platform's refusal recorded", c.Fulfilment, c.FulfilmentError)
		}
	})
}

func TestPolledBatchWithFailuresBooksOnlyWhatThePlatformConfirms(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 7)
		h.sim.FailFulfilment(4, "payout missing")
		res := h.p.Process(t.Context(), h.approvals(ids...))
		if res.Counts[CountAckPending] != 7 {
			t.Fatalf("counts %+v, want an asynchronous batch", res.Counts)
		}
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		run := rc.Run(t.Context())
		if run.Counts[CountBatches] != 1 || run.Counts[CountAcknowledged] != 6 {
			t.Errorf("run %+v", run.Counts)
		}
		h.checkAcknowledged(t, ids, 1, 2, 3, 5, 6, 7)
		if c := h.fulfilment(t, 4); c.Fulfilment != reward.Refused || c.FulfilmentError != "payout missing" {
			t.Errorf("commission 4: %q %q", c.Fulfilment, c.FulfilmentError)
		}
	})
}

// stoppingBatches answers every batch poll with a stopped batch: the
// platform stopped it partway and counts no failure.
type stoppingBatches struct{ ReconcileFirstPromoterAPI }

func (s stoppingBatches) BatchProcess(ctx context.Context, id string) (firstpromoter.BatchResult, error) {
	res, err := s.ReconcileFirstPromoterAPI.BatchProcess(ctx, id)
	res.Status, res.FailedCount, res.ProcessingErrors = "stopped", 0, nil
	return res, err
}

func TestStoppedBatchBooksOnlyWhatThePlatformShowsFulfilled(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 7)
		h.sim.FailFulfilment(5, "payout missing")
		h.p.Process(t.Context(), h.approvals(ids...))
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		setRecFP(rc, stoppingBatches{fpRec(rc).API})
		r := &run{batchState: &batchState{res: Result{Counts: map[string]int{}}}, log: discard()}
		if err := rc.pollBatches(t.Context(), r, fpRec(rc), fpRec(rc)); err != nil {
			t.Fatal(err)
		}
		h.checkAcknowledged(t, ids, 1, 2, 3, 4, 6, 7)
		// Nothing says the platform refused it: it is tried again.
		out, err := h.store.Outbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil || len(out) != 1 || out[0].ID != "5" || out[0].Fulfilment != reward.Failed {
			t.Errorf("outbox %+v %v, want commission 5, failed", out, err)
		}
		// Tried again alone, the platform refuses it.
		rc.Run(t.Context())
		if c := h.fulfilment(t, 5); c.Fulfilment != reward.Refused || c.FulfilmentError != "payout missing" {
			t.Errorf("commission 5: %q %q", c.Fulfilment, c.FulfilmentError)
		}
	})
}

// namingPlatform answers mark_fulfilled with processing errors that name
// their commission, the other shape a platform might use.
type namingPlatform struct {
	FirstPromoterAPI
	h *harness
}

func (n namingPlatform) MarkFulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	res, err := n.FirstPromoterAPI.MarkFulfilled(ctx, ids)
	if err != nil || res.Confirmed() {
		return res, err
	}
	res.ProcessingErrors = nil
	for _, id := range ids {
		if c, _ := n.h.sim.Commission(id); !c.Fulfilled {
			raw, _ := json.Marshal(map[string]any{"id": id, "message": "not fulfillable: " + strconv.FormatInt(id, 10)})
			res.ProcessingErrors = append(res.ProcessingErrors, raw)
		}
	}
	return res, nil
}

func TestProcessingErrorsNamingTheirCommission(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 4)
		h.sim.FailFulfilment(2, "payout missing")
		h.sim.FailFulfilment(3, "payout missing")
		setFP(h.p, namingPlatform{fpOf(h.p), h})
		h.p.Process(t.Context(), h.approvals(ids...))
		h.checkAcknowledged(t, ids, 1, 4)
		for _, id := range []int64{2, 3} {
			if c := h.fulfilment(t, id); c.Fulfilment != reward.Refused || c.FulfilmentError != "not fulfillable: "+strconv.FormatInt(id, 10) {
				t.Errorf("commission %d: %q %q, want its own message", id, c.Fulfilment, c.FulfilmentError)
			}
		}
	})
}

func TestOneRefusedCommissionDoesNotHoldBackTheOthers(t *testing.T) {
	t.Run("processor", func(t *testing.T) {
		onBothStores(t, func(t *testing.T, h *harness) {
			ids := span(1, 4)
			h.sim.RefuseWholeRequests(true)
			h.sim.FailFulfilment(2, "payout missing")
			res := h.p.Process(t.Context(), h.approvals(ids...))
			if res.Counts[CountAcknowledged] != 3 || len(res.Failed) != 0 {
				t.Errorf("counts %+v", res)
			}
			h.checkAcknowledged(t, ids, 1, 3, 4)
			if c := h.fulfilment(t, 2); c.Fulfilment != reward.Refused || c.FulfilmentError != "invalid_params payout missing" {
				t.Errorf("commission 2: %q %q", c.Fulfilment, c.FulfilmentError)
			}
		})
	})
	t.Run("reconciler", func(t *testing.T) {
		onBothStores(t, func(t *testing.T, h *harness) {
			// Webhooks lost: the reconciler delivers them all and
			// acknowledges them in one request.
			ids := span(1, 12)
			for _, id := range ids {
				h.fpCommission(id, "approved")
			}
			h.sim.RefuseWholeRequests(true)
			h.sim.FailFulfilment(9, "payout missing")
			rc := h.reconciler(t)
			dropPlatform(rc, reward.AgentRef)
			if run := rc.Run(t.Context()); run.Counts[CountDelivered] != 12 || len(run.Errors) > 0 {
				t.Fatalf("first run %+v", run)
			}
			rc.Run(t.Context()) // polls the asynchronous half
			want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12}
			h.checkAcknowledged(t, ids, want...)
		})
	})
}

func TestRequestRefusedWholeIsSentAgainWithoutWhatCannotBeFulfilled(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 4)
		h.deliverUnacknowledged(t, ids...)
		// 3 is pending again on the platform: mark_fulfilled cannot work on
		// it, and the platform refuses the whole request.
		h.sim.SetStatus(3, "pending")
		h.sim.RefuseWholeRequests(true)
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		posts := h.sim.CallCount("POST")
		rc.Run(t.Context())
		if n := h.sim.CallCount("POST") - posts; n != 2 {
			t.Errorf("%d mark_fulfilled requests, want 2: the refused one and one without commission 3", n)
		}
		h.checkAcknowledged(t, ids, 1, 2, 4)
		if c := h.fulfilment(t, 3); c.Fulfilment != reward.Failed {
			t.Errorf("commission 3: %q %q, want it left in the outbox", c.Fulfilment, c.FulfilmentError)
		}
	})
}

// deliverUnacknowledged delivers approvals while the platform cannot be
// reached for their acknowledgement: they wait in the outbox.
func (h *harness) deliverUnacknowledged(t *testing.T, ids ...int64) {
	t.Helper()
	fp := fpOf(h.p)
	setFP(h.p, crashAfterLedger{fp})
	defer setFP(h.p, fp)
	if res := h.p.Process(t.Context(), h.approvals(ids...)); len(res.Failed) > 0 || res.Counts[CountDelivered] != len(ids) {
		t.Fatalf("delivery: %+v", res)
	}
	if out, err := h.store.Outbox(t.Context(), reward.FirstPromoter, 10); err != nil || len(out) != len(ids) {
		t.Fatalf("outbox %v %v, want %d", out, err, len(ids))
	}
}

func TestReversedDeliveryLeavesTheOutbox(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.deliverUnacknowledged(t, 1, 2)
		// Both denied: 1's webhook arrives, 2's is lost.
		h.sim.SetStatus(1, "denied")
		h.sim.SetStatus(2, "denied")
		if res := h.p.Process(t.Context(), []Message{h.fpEvent("denied-1", "commission.updated", 1, "approved")}); res.Counts[CountApplied] != 1 {
			t.Fatalf("denial: %+v", res)
		}
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		posts := h.sim.CallCount("POST")
		for range 2 {
			run := rc.Run(t.Context())
			if len(run.Drift) > 0 || len(run.Errors) > 0 || run.Counts[GaugeOutboxAge] != 0 {
				t.Errorf("run %+v", run)
			}
		}
		if n := h.sim.CallCount("POST") - posts; n != 0 {
			t.Errorf("%d mark_fulfilled requests for reversed commissions, want none", n)
		}
		for _, id := range []int64{1, 2} {
			if c := h.fulfilment(t, id); c.Status != reward.Reversed || c.Fulfilment != reward.Withdrawn {
				t.Errorf("commission %d: %s, %q; want reversed and withdrawn", id, c.Status, c.Fulfilment)
			}
		}
		if out, err := h.store.Outbox(t.Context(), reward.FirstPromoter, 10); err != nil || len(out) != 0 {
			t.Errorf("outbox %v %v, want it empty", out, err)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Reversed: 1000}) {
			t.Errorf("balance %+v", b)
		}
	})
}

// stalledPlatform accepts every mark_fulfilled as an asynchronous batch
// that it then stops, having fulfilled nothing.
type stalledPlatform struct {
	ReconcileFirstPromoterAPI
	batches map[string]int
}

func (s *stalledPlatform) MarkFulfilled(_ context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	id := fmt.Sprintf("stalled-%d", len(s.batches)+1)
	s.batches[id] = len(ids)
	return firstpromoter.BatchResult{ID: firstpromoter.ID(id), Status: "pending", Total: len(ids), Async: true}, nil
}

func (s *stalledPlatform) BatchProcess(_ context.Context, id string) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{ID: firstpromoter.ID(id), Status: "stopped", Total: s.batches[id]}, nil
}

func TestOutboxAgeCountsFromTheFirstDelivery(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		now := t0
		h.p.Now = func() time.Time { return now }
		h.deliverUnacknowledged(t, 1)
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		setRecFP(rc, &stalledPlatform{ReconcileFirstPromoterAPI: fpRec(rc).API, batches: map[string]int{}})
		for hour := 1; hour <= 3; hour++ {
			now = t0.Add(time.Duration(hour) * time.Hour)
			run := rc.Run(t.Context())
			if got := run.Counts[GaugeOutboxAge]; got != hour*3600 {
				t.Errorf("after %d hours of failed acknowledgements the outbox is %d seconds old, want %d", hour, got, hour*3600)
			}
		}
		c := h.fulfilment(t, 1)
		if c.Fulfilment != reward.Failed || !c.RequestedAt.Equal(t0) || !c.UpdatedAt.After(t0) {
			t.Errorf("commission 1: %q (%s), requested %s, updated %s", c.Fulfilment, c.FulfilmentError, c.RequestedAt, c.UpdatedAt)
		}
	})
}

// unreachablePlatform answers every mark_fulfilled as a platform that
// stays unavailable through every retry.
type unreachablePlatform struct{ ReconcileFirstPromoterAPI }

func (unreachablePlatform) MarkFulfilled(context.Context, []int64) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{}, fmt.Errorf("mark_fulfilled: %w", firstpromoter.ErrUnavailable)
}

func TestRefusedAcknowledgementIsDriftAndTransientFailuresAreRetried(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.deliverUnacknowledged(t, 1, 2)
		h.sim.FailFulfilment(2, "payout missing")
		rc := h.reconciler(t)
		dropPlatform(rc, reward.AgentRef)
		real := fpRec(rc).API

		// Unreachable: nothing is refused, both stay in the outbox.
		setRecFP(rc, unreachablePlatform{real})
		run := rc.Run(t.Context())
		if len(run.Drift) != 0 || run.Counts[CountPlatformError] != 1 {
			t.Errorf("unreachable: %+v", run)
		}
		for _, id := range []int64{1, 2} {
			if c := h.fulfilment(t, id); c.Fulfilment != reward.Requested {
				t.Errorf("commission %d after a transient failure: %q", id, c.Fulfilment)
			}
		}

		// Reachable: 1 is acknowledged, 2 refused for good, reported as drift.
		setRecFP(rc, real)
		run = rc.Run(t.Context())
		if len(run.Drift) != 1 || run.Drift[0].CommissionID != "2" || run.Drift[0].Problem != "the platform refuses to mark the delivery fulfilled: payout missing" {
			t.Errorf("drift %+v, want commission 2 refused", run.Drift)
		}
		h.checkAcknowledged(t, []int64{1, 2}, 1)
		if c := h.fulfilment(t, 2); c.Fulfilment != reward.Refused || c.FulfilmentError != "payout missing" {
			t.Errorf("commission 2: %q %q", c.Fulfilment, c.FulfilmentError)
		}

		// Out of the retry loop: no request for it again.
		posts := h.sim.CallCount("POST")
		run = rc.Run(t.Context())
		if n := h.sim.CallCount("POST") - posts; n != 0 || run.Counts[GaugeOutboxAge] != 0 {
			t.Errorf("after the refusal: %d mark_fulfilled requests, %+v", n, run.Counts)
		}
	})
}
