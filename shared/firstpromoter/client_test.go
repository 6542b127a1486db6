package firstpromoter

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

type sleepRecorder struct {
	mu     sync.Mutex
	waited []time.Duration
}

func (s *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waited = append(s.waited, d)
	return nil
}

func setup(t *testing.T, n int) (*simulator.Simulator, *Client, *sleepRecorder) {
	t.Helper()
	sim := simulator.New()
	srv := sim.Start()
	t.Cleanup(srv.Close)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		sim.PutCommission(simulator.FPCommission{ID: int64(i), Status: "approved", Unit: "points", Amount: int64(i * 10), PromoterID: 7, RewardID: 3, CreatedAt: base.Add(time.Duration(i) * time.Minute)})
	}
	rec := &sleepRecorder{}
	c := &Client{BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID, Sleep: rec.sleep}
	return sim, c, rec
}

func TestCommissionsByIDChunksOf100(t *testing.T) {
	sim, c, _ := setup(t, 250)
	var ids []int64
	for i := int64(1); i <= 250; i++ {
		ids = append(ids, i)
	}
	got, err := c.Commissions(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 || got[0].PromoterID() != 7 || got[0].Reward.ID != 3 {
		t.Errorf("got %d commissions, first %+v", len(got), got[0])
	}
	if n := sim.CallCount("GET /firstpromoter/api/v2/company/commissions"); n != 3 {
		t.Errorf("%d requests for 250 ids, want 3", n)
	}
}

func TestListCommissionsPagination(t *testing.T) {
	for _, tt := range []struct {
		rows, wantCalls int
	}{
		{0, 1},   // one empty page
		{99, 1},  // one short page
		{100, 2}, // exactly per_page rows: the next page is empty
		{101, 2}, // a short last page
		{300, 4},
	} {
		t.Run(strconv.Itoa(tt.rows)+"rows", func(t *testing.T) {
			sim, c, _ := setup(t, tt.rows)
			seen := 0
			next, err := c.ListCommissions(t.Context(), url.Values{"filters[status]": {"approved"}}, 1, func(_ int, rows []Commission) (bool, error) {
				seen += len(rows)
				return true, nil
			})
			if err != nil || next != 0 {
				t.Fatalf("ListCommissions: next %d, %v", next, err)
			}
			if seen != tt.rows {
				t.Errorf("saw %d rows, want %d", seen, tt.rows)
			}
			if n := sim.CallCount("GET"); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestListCommissionsStopsAndResumes(t *testing.T) {
	_, c, _ := setup(t, 250)
	next, err := c.ListCommissions(t.Context(), nil, 1, func(page int, _ []Commission) (bool, error) { return page < 2, nil })
	if err != nil || next != 3 {
		t.Fatalf("stopped after page 2: next %d, %v; want 3", next, err)
	}
	seen := 0
	next, err = c.ListCommissions(t.Context(), nil, next, func(_ int, rows []Commission) (bool, error) { seen += len(rows); return true, nil })
	if err != nil || next != 0 || seen != 50 {
		t.Errorf("resumed from page 3: saw %d, next %d, %v", seen, next, err)
	}
}

func TestErrorsAreTypedAndRetriedOnlyWhenUseful(t *testing.T) {
	tests := []struct {
		name     string
		faults   []simulator.Fault
		key      string
		want     error
		attempts int
		waits    []time.Duration // exact waits where the server set them
	}{
		{name: "wrong key is configuration, not retried", key: "wrong", want: ErrConfig, attempts: 1},
		{name: "429 then success, Retry-After honoured", faults: []simulator.Fault{{Status: 429, RetryAfter: "7"}}, attempts: 2, waits: []time.Duration{7 * time.Second}},
		{name: "5xx storm exhausts retries", faults: []simulator.Fault{{Status: 503}, {Status: 502}, {Status: 500}, {Status: 503}}, want: ErrUnavailable, attempts: 4},
		{name: "429 storm exhausts retries", faults: []simulator.Fault{{Status: 429}, {Status: 429}, {Status: 429}, {Status: 429}}, want: ErrRateLimited, attempts: 4},
		{name: "422 is not retried", faults: []simulator.Fault{{Status: 422}}, want: ErrInvalid, attempts: 1},
		{name: "404 is not retried", faults: []simulator.Fault{{Status: 404}}, want: ErrNotFound, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c, rec := setup(t, 1)
			if tt.key != "" {
				c.APIKey = tt.key
			}
			sim.InjectFaults(tt.faults...)
			_, err := c.Commissions(t.Context(), []int64{1})
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n := len(sim.Calls()); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
			if tt.waits != nil {
				if diff := cmp.Diff(tt.waits, rec.waited); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			}
			if err != nil && strings.Contains(err.Error(), c.APIKey) {
				t.Errorf("error %q contains the API key", err)
			}
		})
	}
}

func TestDeadlineStopsRetrying(t *testing.T) {
	sim, c, _ := setup(t, 1)
	c.Sleep = nil // real waits: the deadline must cut them short
	sim.InjectFaults(simulator.Fault{Status: 429, RetryAfter: "30"})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := c.Commissions(ctx, []int64{1})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited without waiting past the deadline", err)
	}
	if ctx.Err() != nil {
		t.Errorf("the client waited until the deadline instead of reporting")
	}
}

func TestBatchActions(t *testing.T) {
	sim, c, _ := setup(t, 12)
	sim.FailFulfilment(2, "payout not found")
	r, err := c.MarkFulfilled(t.Context(), []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// The documented shape: one message per failure, no id.
	if r.Async || !r.Done() || r.Confirmed() || r.FailedCount != 1 || r.Refusals() != 1 || len(r.FailedIDs()) != 0 {
		t.Errorf("sync batch %+v, failed ids %v", r, r.FailedIDs())
	}
	if diff := cmp.Diff([]string{"payout not found"}, r.Messages()); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	r, err = c.MarkFulfilled(t.Context(), []int64{4, 5, 6, 7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Async || r.ID == "" || r.Status != "pending" || r.Done() || r.Confirmed() {
		t.Fatalf("6 ids: %+v, want a pending asynchronous batch with an id", r)
	}
	polled, err := c.BatchProcess(t.Context(), string(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !polled.Done() || !polled.Confirmed() || polled.ProcessedCount != 6 || polled.FailedCount != 0 || polled.ID != r.ID {
		t.Errorf("polled %+v", polled)
	}
	if got, _ := sim.Commission(9); !got.Fulfilled {
		t.Errorf("commission 9 not fulfilled on the platform")
	}
	if _, err := c.BatchProcess(t.Context(), "999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown batch: %v", err)
	}
}

func TestBatchAnswerShapes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		raw       string
		confirmed bool
		refusals  int
		failedIDs map[int64]string
		messages  []string
	}{
		{"completed", `{"id":8,"status":"completed","total":2,"processed_count":2,"failed_count":0,"processing_errors":[]}`, true, 0, map[int64]string{}, nil},
		{"documented strings", `{"id":8,"status":"completed","total":3,"processed_count":1,"failed_count":2,"processing_errors":["not approved","payout missing"]}`, false, 2, map[int64]string{}, []string{"not approved", "payout missing"}},
		{"objects with ids", `{"id":8,"status":"completed","total":3,"failed_count":1,"processing_errors":[{"id":42,"message":"not approved"}]}`, false, 1, map[int64]string{42: "not approved"}, []string{"not approved"}},
		{"objects with error", `{"id":8,"status":"completed","total":3,"failed_count":1,"processing_errors":[{"id":"43","error":"gone"}]}`, false, 1, map[int64]string{43: "gone"}, []string{"gone"}},
		{"stopped", `{"id":8,"status":"stopped","total":7,"processed_count":3,"failed_count":0,"processing_errors":[]}`, false, 0, map[int64]string{}, nil},
		{"failed", `{"id":8,"status":"failed","total":7,"processed_count":0,"failed_count":7,"processing_errors":[]}`, false, 0, map[int64]string{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r BatchResult
			if err := jsonUnmarshal(tt.raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Confirmed() != tt.confirmed || r.Refusals() != tt.refusals {
				t.Errorf("confirmed %v, refusals %d; want %v, %d", r.Confirmed(), r.Refusals(), tt.confirmed, tt.refusals)
			}
			if diff := cmp.Diff(tt.failedIDs, r.FailedIDs()); diff != "" {
				t.Errorf("failed ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.messages, r.Messages()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWholeRequestRefusalAppliesNothing(t *testing.T) {
	sim, c, _ := setup(t, 3)
	sim.RefuseWholeRequests(true)
	sim.FailFulfilment(2, "payout not found")
	_, err := c.MarkFulfilled(t.Context(), []int64{1, 2, 3})
	var apiErr *APIError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &apiErr) || apiErr.Message != "payout not found" {
		t.Fatalf("got %v, want a 422 naming the refusal", err)
	}
	for id := int64(1); id <= 3; id++ {
		if got, _ := sim.Commission(id); got.Fulfilled {
			t.Errorf("commission %d fulfilled by a refused request", id)
		}
	}
	if _, err := c.MarkFulfilled(t.Context(), []int64{1, 3}); err != nil {
		t.Errorf("without the refused id: %v", err)
	}
}

func TestStandings(t *testing.T) {
	sim, c, _ := setup(t, 150)
	sim.SetStatus(3, "denied")
	if _, err := c.MarkFulfilled(t.Context(), []int64{1, 120}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for id := int64(1); id <= 150; id++ {
		ids = append(ids, id)
	}
	ids = append(ids, 404)
	got, err := c.Standings(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]Standing{1: Fulfilled, 120: Fulfilled, 3: Unfulfillable, 404: Unfulfillable}
	for _, id := range ids {
		w, ok := want[id]
		if !ok {
			w = Unfulfilled
		}
		if got[id] != w {
			t.Errorf("commission %d stands %d, want %d", id, got[id], w)
		}
	}
	// Two lists of ids, each in chunks of 100.
	var queries []string
	for _, call := range sim.Calls() {
		if call.Method == "GET" {
			q, _ := url.ParseQuery(call.Query)
			queries = append(queries, q.Get("filters[status]")+"/"+q.Get("filters[fulfilled]"))
		}
	}
	if diff := cmp.Diff([]string{"/yes", "/yes", "approved/no", "approved/no"}, queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func TestIDAcceptsNumbersAndStrings(t *testing.T) {
	for _, raw := range []string{`{"id": 42}`, `{"id": "42"}`} {
		var r BatchResult
		if err := jsonUnmarshal(raw, &r); err != nil || r.ID != "42" {
			t.Errorf("%s: id %q, %v", raw, r.ID, err)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
