package relay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// undeliver reports the merchant's failed delivery of commissions, as the
// Rewards API writes it.
func (h *harness) undeliver(t *testing.T, ids ...int64) { h.undeliverAt(t, t0, ids...) }

func (h *harness) undeliverAt(t *testing.T, at time.Time, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		c, err := reward.PlanUndelivered(h.fulfilment(t, id), "the gift card service is down", "arn:aws:iam::123456789012:user/shop", at)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) redeliver(t *testing.T, id int64) {
	t.Helper()
	c, err := reward.PlanRedelivered(h.fulfilment(t, id), "arn:aws:iam::123456789012:user/shop", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
		t.Fatal(err)
	}
}

func TestAFailedDeliveryIsToldToThePlatformAndARedeliveryAcknowledgedAgain(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 7)
		if res := h.p.Process(t.Context(), h.approvals(ids...)); res.Counts[CountAckPending] != len(ids) {
			t.Fatalf("delivery: %+v", res)
		}
		h.reconciler(t).Run(t.Context()) // polls the acknowledgement's batch
		h.checkAcknowledged(t, ids, ids...)
		h.undeliver(t, ids...)
		if b := h.balance(t, promoter7); b != (reward.Deltas{Fulfilled: 3500}) {
			t.Errorf("balance before the platform heard %+v", b)
		}
		before := h.sim.CallCount("POST /firstpromoter/api/v2/company/commissions/mark_unfulfilled")
		run := h.reconciler(t).Run(t.Context())
		if run.Counts[CountUnfulfilled] != len(ids) || len(run.Errors) > 0 || len(run.Drift) > 0 {
			t.Fatalf("run: %+v", run)
		}
		// Within the synchronous limit: 7 ids are two requests.
		if n := h.sim.CallCount("POST /firstpromoter/api/v2/company/commissions/mark_unfulfilled") - before; n != 2 {
			t.Errorf("%d mark_unfulfilled requests, want 2", n)
		}
		for _, id := range ids {
			if c, _ := h.sim.Commission(id); c.Fulfilled || c.Unfulfilments != 1 {
				t.Errorf("commission %d on the platform: %+v", id, c)
			}
			if c := h.fulfilment(t, id); c.Fulfilment != reward.Unfulfilled || !c.Undelivered {
				t.Errorf("commission %d in the ledger: %s", id, c.Fulfilment)
			}
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
			t.Errorf("balance once the platform confirmed %+v", b)
		}
		// Nothing is sent again.
		if run := h.reconciler(t).Run(t.Context()); run.Counts[CountUnfulfilled] != 0 {
			t.Errorf("second run: %+v", run.Counts)
		}
		h.redeliver(t, 3)
		if run := h.reconciler(t).Run(t.Context()); run.Counts[CountAcknowledged] != 1 || len(run.Errors) > 0 {
			t.Fatalf("run after the redelivery: %+v", run)
		}
		h.checkAcknowledged(t, ids, 3)
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
			t.Errorf("balance after the redelivery %+v", b)
		}
		_, entries, err := h.store.History(t.Context(), reward.FirstPromoter, "3")
		if err != nil {
			t.Fatal(err)
		}
		var acks []string
		for _, e := range entries {
			if e.Kind == reward.KindAck {
				acks = append(acks, e.ID)
			}
		}
		if strings.Join(acks, " ") != "firstpromoter#commission:3#ack firstpromoter#commission:3#ack#2" {
			t.Errorf("acknowledgement entries %v", acks)
		}
	})
}

func TestAFailedDeliveryThePlatformRefusesIsDriftAndDoesNotHoldBackTheOthers(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		ids := span(1, 4)
		if res := h.p.Process(t.Context(), h.approvals(ids...)); res.Counts[CountAcknowledged] != len(ids) {
			t.Fatalf("delivery: %+v", res)
		}
		h.undeliver(t, ids...)
		h.sim.FailUnfulfilment(2, "the payout was paid out")
		h.sim.RefuseWholeRequests(true)
		run := h.reconciler(t).Run(t.Context())
		if run.Counts[CountUnfulfilled] != 3 || run.Counts[CountUnfulfilRefused] != 1 || len(run.Drift) != 1 || run.Drift[0].CommissionID != "2" {
			t.Fatalf("run: %+v", run)
		}
		for _, id := range ids {
			want := reward.Unfulfilled
			if id == 2 {
				want = reward.UnfulfilRefused
			}
			c := h.fulfilment(t, id)
			if c.Fulfilment != want {
				t.Errorf("commission %d: %s (%s), want %s", id, c.Fulfilment, c.FulfilmentError, want)
			}
			if id == 2 && !strings.Contains(c.FulfilmentError, "the payout was paid out") {
				t.Errorf("commission 2's reason %q", c.FulfilmentError)
			}
		}
		// Refused: it keeps its fulfilled amount, as the platform shows.
		if b := h.balance(t, promoter7); b != (reward.Deltas{Fulfilled: 500}) {
			t.Errorf("balance %+v", b)
		}
		if lane, _ := h.store.UnfulfilOutbox(t.Context(), reward.FirstPromoter, 10); len(lane) != 0 {
			t.Errorf("lane after the run: %d", len(lane))
		}
		// Redelivered after the refusal: acknowledged again, once.
		h.redeliver(t, 2)
		h.sim.RefuseWholeRequests(false)
		if run := h.reconciler(t).Run(t.Context()); run.Counts[CountAcknowledged] != 1 {
			t.Errorf("run after the redelivery: %+v", run.Counts)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{Available: 500, Fulfilled: 500}) {
			t.Errorf("balance after the redelivery %+v", b)
		}
	})
}

func TestAnAcknowledgementThatArrivedAfterTheFailureIsTakenBack(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		h.deliverUnacknowledged(t, 1)
		// mark_fulfilled reached the platform, its answer never came back;
		// then the merchant's delivery failed.
		if _, err := fpOf(h.p).MarkFulfilled(t.Context(), []int64{1}); err != nil {
			t.Fatal(err)
		}
		h.undeliver(t, 1)
		if c := h.fulfilment(t, 1); c.Fulfilment != reward.Withdrawn {
			t.Fatalf("fulfilment %s, want withdrawn", c.Fulfilment)
		}
		run := h.reconciler(t).Run(t.Context())
		if run.Counts[CountUnfulfilled] != 1 || len(run.Errors) > 0 {
			t.Fatalf("run: %+v", run)
		}
		if p, _ := h.sim.Commission(1); p.Fulfilled {
			t.Errorf("the platform still shows it fulfilled: %+v", p)
		}
		if c := h.fulfilment(t, 1); c.Fulfilment != reward.Unfulfilled || !c.Undelivered {
			t.Errorf("ledger: %+v", c)
		}
		if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
			t.Errorf("balance %+v", b)
		}
	})
}

func TestTheOutboxAgeIncludesFailedDeliveriesThePlatformIsStillToBeToldOf(t *testing.T) {
	onBothStores(t, func(t *testing.T, h *harness) {
		if res := h.p.Process(t.Context(), h.approvals(1)); res.Counts[CountAcknowledged] != 1 {
			t.Fatalf("delivery: %+v", res)
		}
		h.undeliverAt(t, t0.Add(-time.Hour), 1)
		rc := h.reconciler(t)
		setRecFP(rc, unfulfilUnreachable{fpRec(rc).API})
		run := rc.Run(t.Context())
		if got := run.Counts[GaugeOutboxAge]; got != 3600 {
			t.Errorf("outbox age %d s, want 3600 (%+v)", got, run)
		}
		if c := h.fulfilment(t, 1); c.Fulfilment != reward.UnfulfilRequested {
			t.Errorf("fulfilment %s after a platform error, want unfulfil_requested", c.Fulfilment)
		}
	})
}

// unfulfilUnreachable is a platform whose mark_unfulfilled cannot be reached.
type unfulfilUnreachable struct{ ReconcileFirstPromoterAPI }

func (unfulfilUnreachable) MarkUnfulfilled(context.Context, []int64) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{}, errors.New("connection refused")
}

// unfulfilThenMeanwhile is a platform whose answers to mark_unfulfilled
// reach the reconciler only after meanwhile has run, once.
type unfulfilThenMeanwhile struct {
	ReconcileFirstPromoterAPI
	meanwhile *func()
}

func (f unfulfilThenMeanwhile) MarkUnfulfilled(ctx context.Context, ids []int64) (firstpromoter.BatchResult, error) {
	res, err := f.ReconcileFirstPromoterAPI.MarkUnfulfilled(ctx, ids)
	if m := *f.meanwhile; m != nil {
		*f.meanwhile = nil
		m()
	}
	return res, err
}

// While the platform's answer to mark_unfulfilled is on its way, the
// merchant redelivers, the platform acknowledges the redelivery and the
// merchant's delivery fails again: the answer is about the first failure
// and must not settle the second, which the platform has not been told of.
func TestAnAnswerAboutAnEarlierFailedDeliveryDoesNotSettleALaterOne(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(map[bool]string{false: "confirmed", true: "refused"}[refuse], func(t *testing.T) {
			onBothStores(t, func(t *testing.T, h *harness) {
				if res := h.p.Process(t.Context(), h.approvals(1)); res.Counts[CountAcknowledged] != 1 {
					t.Fatalf("delivery: %+v", res)
				}
				h.undeliver(t, 1)
				if refuse {
					h.sim.FailUnfulfilment(1, "the payout was paid out")
					h.sim.RefuseWholeRequests(true)
				}
				meanwhile := func() {
					h.redeliver(t, 1)
					if _, err := fpOf(h.p).MarkFulfilled(t.Context(), []int64{1}); err != nil {
						t.Fatal(err)
					}
					ack, err := reward.Acknowledge(h.fulfilment(t, 1), "", t0)
					if err != nil {
						t.Fatal(err)
					}
					if err := h.store.Apply(t.Context(), reward.EventRecord{}, ack); err != nil {
						t.Fatal(err)
					}
					h.undeliver(t, 1)
				}
				rc := h.reconciler(t)
				setRecFP(rc, unfulfilThenMeanwhile{fpRec(rc).API, &meanwhile})
				rc.Run(t.Context())
				if c := h.fulfilment(t, 1); c.Undeliveries != 2 || !c.Undelivered || !c.Fulfilment.Unfulfilling() {
					t.Fatalf("after the answer about the first failure: %s (%s), undeliveries %d; want the second still to be told",
						c.Fulfilment, c.FulfilmentError, c.Undeliveries)
				}
				h.sim.RefuseWholeRequests(false)
				h.sim.FailUnfulfilment(1, "")
				run := h.reconciler(t).Run(t.Context())
				if len(run.Errors) > 0 {
					t.Fatalf("run: %+v", run)
				}
				p, _ := h.sim.Commission(1)
				c := h.fulfilment(t, 1)
				if p.Fulfilled || c.Fulfilment != reward.Unfulfilled {
					t.Errorf("platform fulfilled %v, ledger %s: the second failure must reach the platform", p.Fulfilled, c.Fulfilment)
				}
				if b := h.balance(t, promoter7); b != (reward.Deltas{}) {
					t.Errorf("balance %+v", b)
				}
			})
		})
	}
}
