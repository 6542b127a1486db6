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
	if r.Async || !r.Done() || r.FailedCount != 1 || r.FailedIDs()[2] != "payout not found" {
		t.Errorf("sync batch %+v failed %v", r, r.FailedIDs())
	}
	r, err = c.MarkFulfilled(t.Context(), []int64{4, 5, 6, 7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Async || r.ID == "" {
		t.Fatalf("6 ids: %+v, want an asynchronous batch with an id", r)
	}
	polled, err := c.BatchProcess(t.Context(), string(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !polled.Done() || polled.ProcessedCount != 6 || polled.FailedCount != 0 {
		t.Errorf("polled %+v", polled)
	}
	if got, _ := sim.Commission(9); !got.Fulfilled {
		t.Errorf("commission 9 not fulfilled on the platform")
	}
	if _, err := c.BatchProcess(t.Context(), "999"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown batch: %v", err)
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
