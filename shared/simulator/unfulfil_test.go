package simulator

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMarkUnfulfilledWorksOnNonMonetaryCommissionsOnly holds the simulator
// to the API's mark_unfulfilled: non-monetary commissions are marked
// unfulfilled (and counted), a cash or unknown one fails with a message
// without its id, or the whole request with 422 when refusing whole.
func TestMarkUnfulfilledWorksOnNonMonetaryCommissionsOnly(t *testing.T) {
	sim := New()
	srv := sim.Start()
	defer srv.Close()
	sim.PutCommission(FPCommission{ID: 1, Status: "approved", Unit: "points", Amount: 1, PromoterID: 9, Fulfilled: true})
	sim.PutCommission(FPCommission{ID: 2, Status: "approved", Unit: "cash", Amount: 1, PromoterID: 9})
	post := func(body string) (int, map[string]any) {
		return postFP(t, sim, srv.URL, "/commissions/mark_unfulfilled", body)
	}
	status, got := post(`{"ids":[1,2,3]}`)
	if status != http.StatusOK || got["status"] != "completed" || got["failed_count"] != 2.0 || got["processed_count"] != 1.0 || got["action_label"] != "commission/mark_unfulfilled" {
		t.Errorf("3 ids: %d %v", status, got)
	}
	if diff := cmp.Diff([]any{"only non-monetary commissions can be marked unfulfilled", "commission not found"}, got["processing_errors"]); diff != "" {
		t.Errorf("processing_errors (-want +got):\n%s", diff)
	}
	if c, _ := sim.Commission(1); c.Fulfilled || c.Unfulfilments != 1 {
		t.Errorf("commission 1 after mark_unfulfilled: %+v", c)
	}
	sim.FailUnfulfilment(1, "payout already paid")
	sim.RefuseWholeRequests(true)
	if status, got := post(`{"ids":[1]}`); status != http.StatusUnprocessableEntity || got["message"] != "payout already paid" {
		t.Errorf("refused whole: %d %v", status, got)
	}
	if c, _ := sim.Commission(1); c.Unfulfilments != 1 {
		t.Errorf("a refused request changed the commission: %+v", c)
	}
}
