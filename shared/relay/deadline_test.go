package relay

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// stepClock is a run's clock that moves when the ledger is asked
// something: each request of a row takes step. It never falls behind the
// wall clock, which the run's context deadline follows: on a machine where
// a request takes longer than step, a run still gets its whole time.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	if wall := time.Now(); c.now.Before(wall) {
		c.now = wall
	}
}

// steppingStore is a store whose per-row requests take a step of clock.
type steppingStore struct {
	reward.Store
	clock *stepClock
}

func (s steppingStore) Apply(ctx context.Context, ev reward.EventRecord, c reward.Change) error {
	s.clock.advance()
	return s.Store.Apply(ctx, ev, c)
}

func (s steppingStore) ApplyPayout(ctx context.Context, ev reward.EventRecord, c reward.PayoutChange) error {
	s.clock.advance()
	return s.Store.ApplyPayout(ctx, ev, c)
}

func (s steppingStore) RecordEvent(ctx context.Context, ev reward.EventRecord) error {
	s.clock.advance()
	return s.Store.RecordEvent(ctx, ev)
}

func (s steppingStore) Commission(ctx context.Context, p reward.Provider, id string) (reward.Commission, error) {
	s.clock.advance()
	return s.Store.Commission(ctx, p, id)
}

func (s steppingStore) Held(ctx context.Context, p reward.Provider, r reward.Recipient) (bool, error) {
	s.clock.advance()
	return s.Store.Held(ctx, p, r)
}

func (s steppingStore) SetFulfilment(ctx context.Context, c reward.Commission, from reward.Fulfilment) error {
	s.clock.advance()
	return s.Store.SetFulfilment(ctx, c, from)
}

func (s steppingStore) History(ctx context.Context, p reward.Provider, id string) (reward.Commission, []reward.Entry, error) {
	s.clock.advance()
	return s.Store.History(ctx, p, id)
}

// slowLedger makes every per-row ledger request of h take step on a clock
// that starts now, so that a run's deadline is reached by its work alone.
func slowLedger(h *harness, step time.Duration) *stepClock {
	clock := &stepClock{now: time.Now(), step: step}
	h.p.Now = clock.Now
	h.p.Store = steppingStore{Store: h.store, clock: clock}
	return clock
}

// TestABacklogLargerThanARunEndsInTimeAndTheNextRunsFinishIt: 150 approved
// FirstPromoter commissions and 60 approved AgentRef conversions that no
// webhook announced, with 20 ms a ledger request and 12 s a run (a 5 s
// margin): no run can do it all. Every run stops between two rows, audits
// what it changed, stores its summary before its deadline, and the next
// runs deliver and acknowledge the rest.
func TestABacklogLargerThanARunEndsInTimeAndTheNextRunsFinishIt(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		clock := slowLedger(h, 20*time.Millisecond)
		created := clock.Now().Add(-time.Hour)
		for id := int64(1); id <= 150; id++ {
			h.sim.PutCommission(simulator.FPCommission{ID: id, Status: "approved", Unit: "points", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: created})
		}
		for i := 1; i <= 60; i++ {
			h.sim.PutConversion(simulator.Conversion{ID: "conv" + strconv.Itoa(i), AffiliateID: "a1", Currency: "usd", CommissionAmount: 100, Status: "approved"})
		}
		rc := h.reconciler(t)
		rc.Margin = 5 * time.Second
		var runs []reward.Run
		for len(runs) < 30 {
			ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(12*time.Second))
			deadline, _ := ctx.Deadline()
			run := rc.Run(ctx)
			cancel()
			runs = append(runs, run)
			if run.Finished.After(deadline) {
				t.Errorf("run %d finished %s after its deadline", len(runs), run.Finished.Sub(deadline))
			}
			if c := run.Counts; c[CountApplied] != c[CountAudited] {
				t.Errorf("run %d changed %d commissions and audited %d", len(runs), c[CountApplied], c[CountAudited])
			}
			if c := run.Counts; run.Complete && c[CountApplied]+c[CountAcknowledged]+c[CountAckPending]+c[CountBatches] == 0 {
				break
			}
		}
		if runs[0].Complete || runs[0].Counts[CountApplied] == 0 {
			t.Fatalf("first run: complete %v, %d applied; want part of the backlog, then a stop", runs[0].Complete, runs[0].Counts[CountApplied])
		}
		stored, err := h.store.Runs(t.Context(), len(runs))
		if err != nil || len(stored) != len(runs) {
			t.Fatalf("%d run summaries stored (%v), want %d", len(stored), err, len(runs))
		}
		if first := stored[len(stored)-1]; first.ID != runs[0].ID || first.Complete {
			t.Errorf("oldest stored summary %s complete %v, want the first run's, incomplete", first.ID, first.Complete)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 150 * 500, Fulfilled: 150 * 500}) {
			t.Errorf("promoter 7: %+v, want 150 deliveries, all acknowledged", b)
		}
		a1 := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
		if b := h.balance(t, a1); b != (reward.Deltas{Available: 60 * 100}) {
			t.Errorf("a1: %+v, want 60 conversions posted", b)
		}
		t.Logf("%d runs", len(runs))
	})
}

// TestAHangingCallIsCutShortAndTheSummaryStoredInTime: a platform call that
// never answers is cut half the margin before the deadline, and the run
// stores its summary, incomplete, before the deadline.
func TestAHangingCallIsCutShortAndTheSummaryStoredInTime(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.p.Now = time.Now
		h.fpCommission(1, "approved")
		h.sim.InjectFaults(simulator.Fault{Delay: time.Hour})
		rc := h.reconciler(t)
		rc.Margin = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		deadline, _ := ctx.Deadline()
		run := rc.Run(ctx)
		if run.Complete || len(run.Errors) > 0 {
			t.Errorf("run: complete %v, errors %v; want an incomplete run without errors", run.Complete, run.Errors)
		}
		if run.Finished.After(deadline) {
			t.Errorf("the run finished %s after its deadline", run.Finished.Sub(deadline))
		}
		stored, err := h.store.Runs(t.Context(), 1)
		if err != nil || len(stored) != 1 || stored[0].ID != run.ID {
			t.Errorf("stored summaries %+v (%v), want the run's", stored, err)
		}
	})
}
