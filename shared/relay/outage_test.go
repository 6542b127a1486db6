package relay

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// fpEventOf is a queued FirstPromoter event for a commission the platform
// need not know (a deleted one).
func (h *harness) fpEventOf(eventID, eventType string, c simulator.FPCommission, oldStatus string) Message {
	d := simulator.FirstPromoterEvent(fpSecret, eventID, eventType, c, oldStatus, t0)
	h.seq++
	return Message{ID: "m-" + strconv.Itoa(h.seq), Delivery: webhook.Delivery{Provider: webhook.FirstPromoter, EventID: eventID, EventType: eventType, ReceivedAt: t0, Body: d.Body}}
}

func TestDeletionsAndDenialsApplyDuringAPlatformOutage(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		for id, status := range map[int64]string{1: "pending", 2: "approved", 3: "pending"} {
			h.fpCommission(id, status)
		}
		res := h.p.Process(t.Context(), []Message{
			h.fpEvent("c1", "commission.created", 1, ""), h.fpEvent("a2", "commission.updated", 2, "pending"), h.fpEvent("c3", "commission.created", 3, ""),
		})
		if len(res.Failed) != 0 || res.Counts[CountAcknowledged] != 1 {
			t.Fatalf("before the outage: %+v", res)
		}
		h.sim.SetStatus(2, "denied")
		h.sim.SetStatus(3, "denied")
		h.fpCommission(4, "approved")
		deleted := h.fpEventOf("d1", "commission.deleted", simulator.FPCommission{ID: 1, Status: "pending", Unit: "points", Amount: 500, CreatedAt: t0}, "")
		denied := h.fpEvent("n2", "commission.updated", 2, "approved")
		deniedByName := h.fpEvent("n3", "commission.denied", 3, "")
		neverSeen := h.fpEventOf("d9", "commission.deleted", simulator.FPCommission{ID: 9, Status: "pending", Unit: "points", Amount: 500, CreatedAt: t0}, "")
		approval := h.fpEvent("a4", "commission.updated", 4, "pending")

		h.sim.Flaky = func() bool { return true }
		res = h.p.Process(t.Context(), []Message{deleted, denied, deniedByName, neverSeen, approval})
		if len(res.Failed) != 0 || res.Counts[CountApplied] != 3 {
			t.Errorf("during the outage: failed %v, counts %+v; want the deletion and both denials applied", res.Failed, res.Counts)
		}
		// Only the platform knows whom commission 4 rewards, and whether
		// the ledger should remember commission 9.
		want := []Later{{ID: neverSeen.ID, After: time.Minute}, {ID: approval.ID, After: time.Minute}}
		if diff := cmp.Diff(want, res.Later, cmpLater); diff != "" {
			t.Errorf("messages waiting for the platform (-want +got):\n%s", diff)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Reversed: 500, Fulfilled: 500}) {
			t.Errorf("during the outage: %+v, want both pending credits voided and the delivery reversed", b)
		}

		h.sim.Flaky = nil
		res = h.p.Process(t.Context(), []Message{neverSeen, approval})
		if len(res.Failed) != 0 || len(res.Later) != 0 || res.Counts[CountDelivered] != 1 || res.Counts[CountStale] != 1 {
			t.Errorf("after the outage: %+v", res)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Reversed: 500, Fulfilled: 1000}) {
			t.Errorf("after the outage: %+v", b)
		}
	})
}

var cmpLater = cmp.Transformer("sorted", func(in []Later) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, l := range in {
		out[l.ID] = l.After
	}
	return out
})

// downPlatform is FirstPromoter's API during an outage.
type downPlatform struct{}

func (downPlatform) Commissions(context.Context, []int64) ([]firstpromoter.Commission, error) {
	return nil, firstpromoter.ErrUnavailable
}

func (downPlatform) MarkFulfilled(context.Context, []int64) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{}, firstpromoter.ErrUnavailable
}

func (downPlatform) Standings(context.Context, []int64) (map[int64]firstpromoter.Standing, error) {
	return nil, firstpromoter.ErrUnavailable
}

func TestWaitingForThePlatformBacksOffAndEnds(t *testing.T) {
	p := &Processor{Store: fake.NewStore(), Platforms: platforms(downPlatform{}), Config: DefaultConfig(), Log: discard(), Now: func() time.Time { return t0 }}
	for _, tt := range []struct {
		name     string
		received time.Time
		want     time.Duration // 0: failed, retried and dead-lettered like any failure
	}{
		{"just accepted: a minute", t0, time.Minute},
		{"clock ahead of the webhook function: a minute", t0.Add(time.Second), time.Minute},
		{"waited 3 minutes: as long again", t0.Add(-3 * time.Minute), 3 * time.Minute},
		{"waited 2 hours: SQS's longest delay", t0.Add(-2 * time.Hour), 15 * time.Minute},
		{"waited just under a day", t0.Add(-24*time.Hour + time.Second), 15 * time.Minute},
		{"waited a day: no longer", t0.Add(-24 * time.Hour), 0},
		{"acceptance time unknown", time.Time{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{ID: "m1", Delivery: webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "e1", EventType: "commission.created", ReceivedAt: tt.received,
				Body: []byte(`{"event_id":"e1","event_type":"commission.created","data":{"id":5,"status":"pending","amount":5,"unit":"points"}}`)}}
			res := p.Process(t.Context(), []Message{m})
			var want Result
			if tt.want == 0 {
				want = Result{Failed: []string{"m1"}}
			} else {
				want = Result{Later: []Later{{ID: "m1", After: tt.want}}}
			}
			if diff := cmp.Diff(want, Result{Failed: res.Failed, Later: res.Later}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A creation that waits out an outage for a commission deleted meanwhile
// is never dead-lettered: the platform no longer returns it, and the ledger
// keeps nothing of it, whichever of its events applies first.
func TestCreationOfACommissionDeletedWhileItWaitedIsNotDeadLettered(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		gone := simulator.FPCommission{ID: 6, Status: "pending", Unit: "points", Amount: 500, CreatedAt: t0}
		created := h.fpEventOf("c6", "commission.created", gone, "")
		deleted := h.fpEventOf("d6", "commission.deleted", gone, "")
		h.sim.Flaky = func() bool { return true }
		if res := h.p.Process(t.Context(), []Message{created, deleted}); len(res.Failed) != 0 || len(res.Later) != 2 {
			t.Fatalf("during the outage: %+v", res)
		}
		h.sim.Flaky = nil
		for _, order := range [][]Message{{created}, {deleted}, {created, deleted}} {
			if res := h.p.Process(t.Context(), order); len(res.Failed) != 0 || len(res.Later) != 0 {
				t.Errorf("after the outage: %+v\n%s", res, h.logs)
			}
		}
		if _, err := h.store.Commission(t.Context(), reward.FirstPromoter, "6"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("commission 6: %v, want none", err)
		}
	})
}
