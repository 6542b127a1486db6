package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
		return postFP(t, sim, srv.URL, "/commissions/mark_fulfilled", body)
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

// fpGet sends an authenticated FirstPromoter GET and returns the status,
// the headers and the raw body.
func fpGet(t *testing.T, sim *Simulator, base, pathQuery string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, FirstPromoterURL(base)+pathQuery, nil)
	req.Header.Set("Authorization", "Bearer "+sim.APIKey)
	req.Header.Set("Account-ID", sim.AccountID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// TestTheCommissionListRefusesWhatItsDocumentationDoesNotName checks the
// list's parameters as a strict server would: dates not datetimes, known
// filters and values only, per_page at most 100.
func TestTheCommissionListRefusesWhatItsDocumentationDoesNotName(t *testing.T) {
	sim := New()
	srv := sim.Start()
	defer srv.Close()
	day := time.Date(2026, 11, 2, 23, 59, 0, 0, time.UTC)
	sim.PutCommission(FPCommission{ID: 1, Status: "approved", Unit: "points", Amount: 1, PromoterID: 9, CreatedAt: day})
	sim.PutCommission(FPCommission{ID: 2, Status: "approved", Unit: "points", Amount: 1, PromoterID: 9, CreatedAt: day.Add(time.Hour)})
	for _, tc := range []struct {
		query string
		want  int
		ids   []float64
	}{
		{"filters[created_at][from]=2026-11-02", 200, []float64{1, 2}},
		{"filters[created_at][from]=2026-11-03", 200, []float64{2}},
		{"filters[created_at][to]=2026-11-02", 200, []float64{1}},
		{"filters[created_at][from]=2026-11-02T00:00:00Z", 422, nil},
		{"filters[created_at][to]=2026-11-31", 422, nil},
		{"filters[unit]=points", 422, nil},
		{"filters[status]=paid", 422, nil},
		{"filters[fulfilled]=true", 422, nil},
		{"sorting[created_at]=up", 422, nil},
		{"per_page=101", 422, nil},
		{"per_page=100&page=0", 422, nil},
		{"limit=10", 422, nil},
		{"ids[]=x", 422, nil},
		{"filters[status]=approved&filters[status]=denied", 422, nil},
		{"per_page=1&page=2&sorting[created_at]=asc", 200, []float64{2}},
	} {
		status, _, raw := fpGet(t, sim, srv.URL, "/commissions?"+tc.query)
		if status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.query, status, raw, tc.want)
			continue
		}
		if status != http.StatusOK {
			var e map[string]string
			if err := json.Unmarshal(raw, &e); err != nil || e["code"] != "invalid_params" || e["message"] == "" {
				t.Errorf("%s: error body %s, want {message, code: invalid_params}", tc.query, raw)
			}
			continue
		}
		var rows []map[string]any
		if err := json.Unmarshal(raw, &rows); err != nil {
			t.Fatalf("%s: a list is a bare array: %v", tc.query, err)
		}
		var ids []float64
		for _, r := range rows {
			ids = append(ids, r["id"].(float64))
		}
		if diff := cmp.Diff(tc.ids, ids); diff != "" {
			t.Errorf("%s: ids (-want +got):\n%s", tc.query, diff)
		}
	}
}

// TestUnauthorisedHasNoBodyAndRateLimitedSaysWhenToRetry checks the two
// documented error answers without a JSON error body or with a wait.
func TestUnauthorisedHasNoBodyAndRateLimitedSaysWhenToRetry(t *testing.T) {
	sim := New()
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	sim.Now = func() time.Time { return now }
	sim.RateLimit = 2
	srv := sim.Start()
	defer srv.Close()
	resp, err := http.Get(FirstPromoterURL(srv.URL) + "/commissions")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(raw) != 0 {
		t.Errorf("without credentials: %d %q, want 401 without a body", resp.StatusCode, raw)
	}
	fpGet(t, sim, srv.URL, "/commissions")
	now = now.Add(20 * time.Second)
	fpGet(t, sim, srv.URL, "/commissions")
	status, header, _ := fpGet(t, sim, srv.URL, "/commissions")
	if status != http.StatusTooManyRequests || header.Get("Retry-After") != "40" {
		t.Errorf("third request in a minute with a limit of 2: %d, Retry-After %q; want 429 and 40", status, header.Get("Retry-After"))
	}
}

// TestAsynchronousBatchesCompleteByThemselves checks that a batch of more
// than 5 ids is pending, then in progress, then completed by the clock
// whether it is polled or not, and that GET /batch_processes/progress
// reports those still running.
func TestAsynchronousBatchesCompleteByThemselves(t *testing.T) {
	sim := New()
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	sim.Now = func() time.Time { return now }
	sim.BatchDuration = time.Minute
	srv := sim.Start()
	defer srv.Close()
	for id := int64(1); id <= 12; id++ {
		sim.PutCommission(FPCommission{ID: id, Status: "approved", Unit: "points", Amount: 1, PromoterID: 9})
	}
	post := func(body string) map[string]any {
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
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted || out["status"] != "pending" {
			t.Fatalf("6 ids: %d %v %v, want 202 pending", resp.StatusCode, out, err)
		}
		return out
	}
	post(`{"ids":[1,2,3,4,5,6]}`)
	now = now.Add(10 * time.Second)
	post(`{"ids":[7,8,9,10,11,12]}`)
	if c, _ := sim.Commission(1); c.Fulfilled {
		t.Fatal("a pending batch has already applied its ids")
	}
	progress := func() map[string]int {
		t.Helper()
		status, _, raw := fpGet(t, sim, srv.URL, "/batch_processes/progress")
		var out map[string]int
		if err := json.Unmarshal(raw, &out); err != nil || status != http.StatusOK {
			t.Fatalf("progress: %d %s", status, raw)
		}
		return out
	}
	if diff := cmp.Diff(map[string]int{"1": 0, "2": 0}, progress()); diff != "" {
		t.Errorf("progress of two pending batches (-want +got):\n%s", diff)
	}
	now = now.Add(25 * time.Second)
	if diff := cmp.Diff(map[string]int{"1": 50, "2": 0}, progress()); diff != "" {
		t.Errorf("progress past half the first batch's time (-want +got):\n%s", diff)
	}
	now = now.Add(30 * time.Second)
	// Nobody polled the batches: the first is over, the second half way.
	if diff := cmp.Diff(map[string]int{"2": 50}, progress()); diff != "" {
		t.Errorf("progress once the first batch is over (-want +got):\n%s", diff)
	}
	status, _, raw := fpGet(t, sim, srv.URL, "/commissions?ids[]=1&ids[]=7&filters[fulfilled]=yes")
	if status != http.StatusOK || !strings.Contains(string(raw), `"id":1,`) || strings.Contains(string(raw), `"id":7,`) {
		t.Errorf("fulfilled of 1 and 7: %d %s, want 1 only", status, raw)
	}
	status, _, raw = fpGet(t, sim, srv.URL, "/batch_processes/1")
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil || status != http.StatusOK || b["status"] != "completed" || b["processed_count"] != 6.0 {
		t.Errorf("batch 1: %d %s, want completed with 6 processed", status, raw)
	}
	if status, _, raw := fpGet(t, sim, srv.URL, "/batch_processes/progress?filters[status]=done"); status != http.StatusUnprocessableEntity {
		t.Errorf("progress of an unknown status: %d %s, want 422", status, raw)
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

// postFP posts body to a FirstPromoter path of the simulator at url, with
// its credentials, and decodes the JSON answer.
func postFP(t *testing.T, sim *Simulator, url, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, FirstPromoterURL(url)+path, strings.NewReader(body))
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
