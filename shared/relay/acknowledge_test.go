package relay

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// eachStore runs a test against DynamoDB Local and against the in-memory
// store.
func eachStore(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, name := range []string{"dynamodb", "fake"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			if name == "fake" {
				h.store = fake.NewStore()
				h.p.Store = h.store
			}
			test(t, h)
		})
	}
}

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
	eachStore(t, func(t *testing.T, h *harness) {
		ids := span(1, 3)
		h.sim.FailFulfilment(2, "payout missing")
		res := h.p.Process(t.Context(), h.approvals(ids...))
		if res.Counts[CountAcknowledged] != 2 || res.Counts[CountAckFailed] != 1 || len(res.Failed) != 0 {
			t.Errorf("counts %+v", res)
		}
		h.checkAcknowledged(t, ids, 1, 3)
		if c := h.fulfilment(t, 2); c.Fulfilment != reward.Failed || c.FulfilmentError != "payout missing" {
			t.Errorf("commission 2: %q %q, want the platform's refusal recorded", c.Fulfilment, c.FulfilmentError)
		}
	})
}

func TestPolledBatchWithFailuresBooksOnlyWhatThePlatformConfirms(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ids := span(1, 7)
		h.sim.FailFulfilment(4, "payout missing")
		res := h.p.Process(t.Context(), h.approvals(ids...))
		if res.Counts[CountAckPending] != 7 {
			t.Fatalf("counts %+v, want an asynchronous batch", res.Counts)
		}
		rc := h.reconciler(t)
		rc.AgentRef = nil
		run := rc.Run(t.Context())
		if run.Counts[CountBatches] != 1 || run.Counts[CountAcknowledged] != 6 {
			t.Errorf("run %+v", run.Counts)
		}
		h.checkAcknowledged(t, ids, 1, 2, 3, 5, 6, 7)
		if c := h.fulfilment(t, 4); c.FulfilmentError != "payout missing" {
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
	eachStore(t, func(t *testing.T, h *harness) {
		ids := span(1, 7)
		h.sim.FailFulfilment(5, "payout missing")
		h.p.Process(t.Context(), h.approvals(ids...))
		rc := h.reconciler(t)
		rc.AgentRef = nil
		rc.FirstPromoter = stoppingBatches{rc.FirstPromoter}
		rc.Run(t.Context())
		h.checkAcknowledged(t, ids, 1, 2, 3, 4, 6, 7)
		// Nothing says the platform refused it: it is tried again.
		c := h.fulfilment(t, 5)
		if c.Fulfilment != reward.Failed {
			t.Errorf("commission 5: %q %q, want it left in the outbox", c.Fulfilment, c.FulfilmentError)
		}
		out, err := h.store.Outbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil || len(out) != 1 || out[0].ID != "5" {
			t.Errorf("outbox %v %v, want commission 5", out, err)
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
	eachStore(t, func(t *testing.T, h *harness) {
		ids := span(1, 4)
		h.sim.FailFulfilment(2, "payout missing")
		h.sim.FailFulfilment(3, "payout missing")
		h.p.FirstPromoter = namingPlatform{h.p.FirstPromoter, h}
		h.p.Process(t.Context(), h.approvals(ids...))
		h.checkAcknowledged(t, ids, 1, 4)
		for _, id := range []int64{2, 3} {
			if c := h.fulfilment(t, id); c.FulfilmentError != "not fulfillable: "+strconv.FormatInt(id, 10) {
				t.Errorf("commission %d: %q %q, want its own message", id, c.Fulfilment, c.FulfilmentError)
			}
		}
	})
}

func TestOneRefusedCommissionDoesNotHoldBackTheOthers(t *testing.T) {
	t.Run("processor", func(t *testing.T) {
		eachStore(t, func(t *testing.T, h *harness) {
			ids := span(1, 4)
			h.sim.RefuseWholeRequests(true)
			h.sim.FailFulfilment(2, "payout missing")
			res := h.p.Process(t.Context(), h.approvals(ids...))
			if res.Counts[CountAcknowledged] != 3 || len(res.Failed) != 0 {
				t.Errorf("counts %+v", res)
			}
			h.checkAcknowledged(t, ids, 1, 3, 4)
			if c := h.fulfilment(t, 2); c.FulfilmentError != "invalid_params payout missing" {
				t.Errorf("commission 2: %q %q", c.Fulfilment, c.FulfilmentError)
			}
		})
	})
	t.Run("reconciler", func(t *testing.T) {
		eachStore(t, func(t *testing.T, h *harness) {
			// Webhooks lost: the reconciler delivers them all and
			// acknowledges them in one request.
			ids := span(1, 12)
			for _, id := range ids {
				h.fpCommission(id, "approved")
			}
			h.sim.RefuseWholeRequests(true)
			h.sim.FailFulfilment(9, "payout missing")
			rc := h.reconciler(t)
			rc.AgentRef = nil
			if run := rc.Run(t.Context()); run.Counts[CountDelivered] != 12 || len(run.Errors) > 0 {
				t.Fatalf("first run %+v", run)
			}
			rc.Run(t.Context()) // polls the asynchronous half
			want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12}
			h.checkAcknowledged(t, ids, want...)
		})
	})
}
