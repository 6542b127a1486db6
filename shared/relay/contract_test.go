package relay

import (
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
