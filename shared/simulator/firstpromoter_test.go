package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBatchAnswersAreTheDocumentedShape checks mark_fulfilled's answers
// against the API's BatchOperationResponse: an integer id, processing
// errors as strings without ids, 200 completed up to 5 ids and 202 pending
// above.
func TestBatchAnswersAreTheDocumentedShape(t *testing.T) {
	sim := New()
	srv := sim.Start()
	defer srv.Close()
	for id := int64(1); id <= 8; id++ {
		sim.PutCommission(FPCommission{ID: id, Status: "approved", Unit: "points", Amount: 1, PromoterID: 9})
	}
	sim.SetStatus(2, "denied")
	post := func(body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, FirstPromoterURL(srv.URL)+"/commissions/mark_fulfilled", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+sim.APIKey)
		req.Header.Set("Account-ID", sim.AccountID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}

	status, got := post(`{"ids":[1,2,3]}`)
	if _, isNumber := got["id"].(float64); status != http.StatusOK || !isNumber || got["status"] != "completed" || got["failed_count"] != 1.0 || got["processed_count"] != 2.0 {
		t.Errorf("3 ids: %d %v", status, got)
	}
	if diff := cmp.Diff([]any{"only approved non-monetary commissions can be fulfilled"}, got["processing_errors"]); diff != "" {
		t.Errorf("processing_errors (-want +got):\n%s", diff)
	}

	status, got = post(`{"ids":[3,4,5,6,7,8]}`)
	if status != http.StatusAccepted || got["status"] != "pending" {
		t.Errorf("6 ids: %d %v, want 202 pending", status, got)
	}

	sim.RefuseWholeRequests(true)
	status, got = post(`{"ids":[1,2]}`)
	if status != http.StatusUnprocessableEntity || got["code"] != "invalid_params" {
		t.Errorf("with a refused id, refusing whole: %d %v", status, got)
	}
}

// TestUpdateCommissionKeepsWhatMarkFulfilledRecorded: the merchant moving a
// commission to another promoter does not undo its fulfilment.
func TestUpdateCommissionKeepsWhatMarkFulfilledRecorded(t *testing.T) {
	sim := New()
	sim.PutCommission(FPCommission{ID: 1, Status: "approved", Unit: "points", Amount: 5, PromoterID: 9})
	sim.mu.Lock()
	if msg := sim.apply("mark_fulfilled", 1); msg != "" {
		t.Fatal(msg)
	}
	sim.mu.Unlock()
	changed := sim.UpdateCommission(1, func(c *FPCommission) {
		stale := *c
		stale.Fulfilled = false
		stale.PromoterID = 10
		*c = stale
	})
	c, _ := sim.Commission(1)
	if !changed || c.PromoterID != 10 || !c.Fulfilled || c.FulfilledAt.IsZero() {
		t.Errorf("after the change: %v %+v, want promoter 10, still fulfilled", changed, c)
	}
	if sim.UpdateCommission(2, func(*FPCommission) {}) {
		t.Error("a commission that does not exist was changed")
	}
}
