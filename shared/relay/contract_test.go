package relay

import (
	"fmt"
	"testing"
	"time"
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
