package relay

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// fakeClock is one clock for the budget and the simulator: waiting for the
// budget's next window advances it, so a long run takes no real time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) WaitUntil(_ context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return nil
}

// TestSharedBudgetKeepsUnderThePlatformLimit runs four concurrent callers
// (two processors, a reconciler, an operator) with 300 requests each through
// one DynamoDB budget: the simulator, enforcing 400 a minute, never answers
// 429 and sees at most 390 requests in any 60 seconds.
func TestSharedBudgetKeepsUnderThePlatformLimit(t *testing.T) {
	client, table := awstest.Table(t)
	clock := &fakeClock{now: t0}
	sim := simulator.New()
	sim.Now = clock.Now
	sim.PutCommission(simulator.FPCommission{ID: 1, Status: "approved", Unit: "points", Amount: 1, PromoterID: 1, CreatedAt: t0})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			budget := dynamo.FirstPromoterBudget(client, table, sim.AccountID)
			budget.Now, budget.WaitUntil = clock.Now, clock.WaitUntil
			c := &firstpromoter.Client{BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID, Budget: budget, MaxAttempts: 1}
			for range 300 {
				if _, err := c.Commissions(context.Background(), []int64{1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, call := range sim.Calls() {
		if call.Status == 429 {
			t.Fatalf("the platform answered 429 at %s", call.At)
		}
	}
	peak := sim.MaxPerMinute()
	t.Logf("1200 requests over %s of platform time; peak %d in any 60 s (limit 400)", clock.Now().Sub(t0), peak)
	if peak > 390 {
		t.Errorf("peak %d requests in 60 s, budget promises at most 390", peak)
	}
}
